// Hostile and careless inputs from the reliability issue, each reproduced: every one fails fast with
// one line naming the file and what is wrong, and nothing outside the input's folder is read.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { ClipModel } from '../../src/clip';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/clip/safetensors';
import { readTorchCheckpoint } from '../../src/clip/torch-checkpoint';
import { loadWeights } from '../../src/clip/weights';
import { loadManifest } from '../../src/data/manifest';
import { zipOf } from '../helpers/torch-save';

describe('hostile files', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-hostile-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('weights that are a device, a FIFO or a text file are refused by name, without reading or blocking', () => {
    assert.throws(() => readSafetensors('/dev/zero'), /weights file \/dev\/zero is not a regular file \(a device\)/);
    const fifo = path.join(tmp, 'fifo.safetensors');
    execFileSync('mkfifo', [fifo]);
    assert.throws(() => readSafetensorsHeader(fifo), /is not a regular file \(a FIFO\)/);
    const text = path.join(tmp, 'README.safetensors');
    fs.writeFileSync(text, '# a model card, not weights\n'.repeat(4));
    assert.throws(() => readSafetensors(text), /README\.safetensors: not a safetensors file: it begins with the text "# a mode" where an 8-byte header length belongs/);
  });

  it('a header listing a million tensors is refused before it is parsed', function () {
    this.timeout(20000);
    const entries = Array.from({ length: 100_001 }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`).join(',');
    const head = Buffer.from(`{${entries}}`);
    const bytes = Buffer.alloc(8 + head.length);
    bytes.writeBigUInt64LE(BigInt(head.length), 0);
    head.copy(bytes, 8);
    const file = path.join(tmp, 'many.safetensors');
    fs.writeFileSync(file, bytes);
    const t0 = Date.now();
    assert.throws(() => readSafetensorsHeader(file), /header lists more than 100000 tensors: not a model checkpoint/);
    assert.ok(Date.now() - t0 < 5000, `refused in ${Date.now() - t0} ms`);
  });

  it("a shard index's paths stay inside the model folder", () => {
    const dir = path.join(tmp, 'sharded');
    fs.mkdirSync(dir);
    writeSafetensors(path.join(tmp, 'outside.safetensors'), { w: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } });
    for (const shard of ['/etc/passwd', '../outside.safetensors', '../../dev/zero']) {
      fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: shard } }));
      assert.throws(() => loadWeights(dir), /weight_map shard: .* (is absolute|leaves)/, shard);
    }
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: 7 } }));
    assert.throws(() => loadWeights(dir), /weight_map names a shard 7, not a file name/);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), '{"weight_map": ');
    assert.throws(() => loadWeights(dir), /shard index .*model\.safetensors\.index\.json is not valid JSON/);
  });

  it('a broken manifest is named in the error', () => {
    fs.writeFileSync(path.join(tmp, 'world-x.json'), '{"items": [1, 2');
    assert.throws(() => loadManifest('world-x', tmp), /manifest .*world-x\.json is not valid JSON/);
  });
  it('config.json is checked against the weights (each mismatch names both values) and for type and range', () => {
    const fixture = path.join(__dirname, '..', 'fixtures', 'clip-parity', 'vit-tiny');
    const withConfig = (name: string, base: 'openai' | 'hf', edit: (c: Record<string, any>) => void) => {
      const dir = path.join(tmp, `cfg-${name}`);
      const src = base === 'hf' ? path.join(fixture, 'hf') : fixture;
      fs.mkdirSync(dir, { recursive: true });
      fs.copyFileSync(path.join(src, 'model.safetensors'), path.join(dir, 'model.safetensors'));
      const cfg = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8'));
      edit(cfg);
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
      return dir;
    };
    assert.strictEqual(loadWeights(withConfig('same', 'openai', () => undefined)).config.transformerLayers, 2);
    const cases: [string, 'openai' | 'hf', (c: Record<string, any>) => void, RegExp][] = [
      ['layers', 'openai', (c) => { c.transformer_layers = 3; }, /transformer_layers is 3, but the weights have 2/],
      ['width', 'openai', (c) => { c.transformer_width = 999; }, /transformer_width is 999, but the weights have 128/],
      ['vision-layers', 'openai', (c) => { c.vision_layers = [1, 1]; }, /vision_layers is \[1,1\], but the weights have 2/],
      ['heads-string', 'openai', (c) => { c.transformer_heads = '2'; }, /transformer_heads is "2"; expected a whole number >= 1/],
      ['heads-half', 'hf', (c) => { c.text_config.num_attention_heads = 0.5; }, /text_config\.num_attention_heads is 0\.5; expected a whole number >= 1/],
      ['heads-3', 'hf', (c) => { c.vision_config.num_attention_heads = 3; }, /vision width 128 is not divisible by 3 heads/],
      ['eps', 'hf', (c) => { c.text_config.layer_norm_eps = -1; }, /text_config\.layer_norm_eps is -1; expected a small positive number/],
      ['hf-hidden', 'hf', (c) => { c.text_config.hidden_size = 64; }, /text_config\.hidden_size is 64, but the weights have 128/],
      ['hf-patch', 'hf', (c) => { c.vision_config.patch_size = 16; }, /vision_config\.patch_size is 16, but the weights have 8/],
      ['act', 'hf', (c) => { c.text_config.hidden_act = 7; }, /hidden_act 7 is not supported \(valid: quick_gelu, gelu\)/],
      ['section', 'hf', (c) => { c.vision_config = 'big'; }, /vision_config: not a JSON object/],
    ];
    for (const [name, base, edit, message] of cases) assert.throws(() => loadWeights(withConfig(name, base, edit)), message, name);
  });
  it('edge shapes of input_ids get a clear error or the right answer, never a tfjs internal', async () => {
    await initBackend();
    const m = ClipModel.load(path.join(__dirname, '..', 'fixtures', 'clip-parity', 'vit-tiny'));
    try {
      const V = m.config.vocabSize;
      const before = tf.memory().numTensors;
      // EOT at position 0 (tf.oneHot refused a depth of 1): the feature of the EOT itself
      const a = m.encodeText({ ids: Int32Array.from([V - 1, 0, 0]), shape: [1, 3] });
      const b = m.encodeText({ ids: Int32Array.from([V - 1]), shape: [1, 1] });
      assert.deepStrictEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
      tf.dispose([a, b]);
      assert.throws(() => m.encodeText({ ids: new Int32Array(0), shape: [1, 0] }), /input_ids has shape \[1, 0\]: at least one row of at least one token/);
      assert.throws(() => m.encodeText({ ids: new Int32Array(0), shape: [0, 4] }), /input_ids has shape \[0, 4\]/);
      assert.throws(() => m.encodeText({ ids: Int32Array.from([5, -1]), shape: [1, 2] }), /id -1 at row 0, position 1 is outside the vocabulary \(0\.\.999\)/);
      assert.throws(() => m.encodeText({ ids: Int32Array.from([5, V]), shape: [1, 2] }), /id 1000 at row 0, position 1 is outside the vocabulary/);
      // more rows than one chunk (4096): the same features as the rows encoded on their own
      const rows = 4100;
      const ids = new Int32Array(rows * 2);
      for (let r = 0; r < rows; r++) { ids[2 * r] = r % 900; ids[2 * r + 1] = V - 1; }
      const all = m.encodeText({ ids, shape: [rows, 2] });
      const tail = m.encodeText({ ids: ids.subarray(2 * 4090), shape: [rows - 4090, 2] });
      const allData = all.dataSync();
      const tailData = tail.dataSync();
      const e = m.config.embedDim;
      for (let i = 0; i < tailData.length; i++) assert.ok(Math.abs(allData[4090 * e + i] - tailData[i]) < 1e-5, `value ${i}`);
      tf.dispose([all, tail]);
      assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind');
    } finally {
      m.dispose();
    }
  });
});


describe('hostile PyTorch files: nothing in them runs', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-pickle-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const write = (name: string, bytes: Uint8Array) => { const f = path.join(tmp, name); fs.writeFileSync(f, bytes); return f; };
  // protocol 2: PROTO 2, then the payload, then STOP
  const pickle = (body: string) => Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from(body, 'latin1'), Buffer.from('.')]);

  it('refuses globals other than tensors, storages, OrderedDict and TorchScript modules, naming them', () => {
    const evil = write('evil.pt', zipOf([['archive/data.pkl', pickle('cos\nsystem\nX\u0002\u0000\u0000\u0000lsR')]]));
    assert.throws(() => readTorchCheckpoint(evil), /evil\.pt: the pickle names os\.system, which promptlab does not read .*nothing in the file is executed/);
    const builtin = write('builtin.pt', zipOf([['archive/data.pkl', pickle('c__builtin__\neval\n)R')]]));
    assert.throws(() => readTorchCheckpoint(builtin), /names __builtin__\.eval/);
  });

  it('refuses opcodes it does not know, entries outside the archive and the legacy format, with what to do', () => {
    assert.throws(() => readTorchCheckpoint(write('op.pt', zipOf([['archive/data.pkl', pickle('i')]]))), /opcode 0x69 is not one promptlab reads/);
    assert.throws(() => readTorchCheckpoint(write('slip.pt', zipOf([['../data.pkl', pickle('}')]]))), /entry name "\.\.\/data\.pkl" points outside the archive/);
    assert.throws(() => readTorchCheckpoint(write('legacy.pt', pickle('}'))), /legacy \(pre-1\.6\) torch\.save file.*re-save it/);
    assert.throws(() => readTorchCheckpoint(write('text.pt', Buffer.from('hello'))), /not a PyTorch checkpoint/);
    assert.throws(() => readTorchCheckpoint(write('empty.pt', zipOf([['archive/data.pkl', pickle('}')]]))), /the checkpoint's dict holds no tensors/);
  });
});
