// MiniCLIP's pieces: the world vocabulary in CLIP's BPE format, `promptlab pretrain` resuming
// after a kill, and `promptlab repro zeroshot` writing the pinned results format.
import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { cleanText } from '../../src/clip/text-clean';
import { clipInitStateDict } from '../../src/clip/random';
import { writeSafetensors, readSafetensors, readSafetensorsHeader, TensorToWrite } from '../../src/clip/safetensors';
import { learnWorldVocabulary, miniClipConfig } from '../../src/miniclip';
import { pretrainPair } from '../../src/world';
import { hashFile } from '../../src/io/files';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'promptlab.js');

describe('MiniCLIP', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-miniclip-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('learns a world vocabulary in CLIP merges format that tokenizes every caption exactly and compactly', () => {
    const tok = ClipTokenizer.fromMerges(learnWorldVocabulary(0, 3000));
    assert.ok(tok.vocabSize > 512 && tok.vocabSize <= 1024, `vocab ${tok.vocabSize}`);
    // pretraining truncates the rare caption longer than the context (three objects, each placed)
    let tooLong = 0;
    for (let i = 5000; i < 5300; i++) {
      const caption = pretrainPair(0, i).caption;
      const ids = tok.encode(caption);
      if (ids.length + 2 > miniClipConfig(tok.vocabSize).contextLength) tooLong++;
      assert.strictEqual(tok.decode(ids).replace(/\s+/g, ''), cleanText(caption).replace(/\s+/g, ''), caption);
    }
    assert.ok(tooLong <= 3, `${tooLong} of 300 captions longer than the context`);
    for (const word of ['star', 'heart', 'crescent', 'striped', 'sketch', 'red', 'photo']) {
      assert.strictEqual(tok.encode(word).length, 1, `'${word}' should be one token`);
    }
  });

  it('promptlab pretrain resumes after a kill and continues the same run', function () {
    this.timeout(240000);
    const args = (out: string) => [BIN, 'pretrain', '--steps', '4', '--batch-size', '4', '--warmup', '2', '--checkpoint-every', '1', '--out', out, '--export', path.join(out, 'export')];
    const straight = spawnSync(process.execPath, args(path.join(tmp, 'a')), { encoding: 'utf8' });
    assert.strictEqual(straight.status, 0, straight.stderr);
    // the same run, killed (SIGKILL) once step 2 is logged, then started again
    const killedDir = path.join(tmp, 'b');
    return new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, args(killedDir));
      const logFile = path.join(killedDir, 'log.jsonl');
      const timer = setInterval(() => {
        if (fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').trim().split('\n').length >= 2) {
          clearInterval(timer);
          child.kill('SIGKILL');
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(timer);
        try {
          // the debris a kill can leave: a row logged after the last checkpoint (run again on resume),
          // a line cut mid-write, and a half-written checkpoint under its temporary name
          const ck = Number(readSafetensorsHeader(path.join(killedDir, 'checkpoint.safetensors')).metadata.step);
          fs.appendFileSync(logFile, JSON.stringify({ step: ck + 1, loss: 9 }) + '\n{"step": 3, "lo');
          fs.writeFileSync(path.join(killedDir, 'checkpoint.safetensors.tmp-999999999'), 'half');
          const resumed = spawnSync(process.execPath, args(killedDir), { encoding: 'utf8' });
          assert.strictEqual(resumed.status, 0, resumed.stderr);
          assert.match(resumed.stderr, /resumed from .* at step [1-4]/);
          const a = readSafetensors(path.join(tmp, 'a', 'export', 'model.safetensors')).tensors;
          const b = readSafetensors(path.join(killedDir, 'export', 'model.safetensors')).tensors;
          for (const [k, t] of a) assert.deepStrictEqual(Array.from(b.get(k)!.data), Array.from(t.data), k);
          const steps = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l).step as number);
          assert.deepStrictEqual(steps, [1, 2, 3, 4], 'one row per step, none repeated');
          assert.deepStrictEqual(fs.readdirSync(killedDir).filter((f) => f.includes('.tmp-')), [], 'the temporary file of the killed sitting is removed');
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  });

  it('promptlab pretrain --stop-at ends a sitting early; the next sitting continues the same run; a changed option is named', function () {
    this.timeout(240000);
    const args = (out: string, extra: string[] = []) => [BIN, 'pretrain', '--steps', '4', '--batch-size', '4', '--warmup', '2', '--checkpoint-every', '1', '--out', out, '--export', path.join(out, 'export'), ...extra];
    const dir = path.join(tmp, 'c');
    const first = spawnSync(process.execPath, args(dir, ['--stop-at', '2']), { encoding: 'utf8' });
    assert.strictEqual(first.status, 0, first.stderr);
    assert.match(first.stderr, /stopped at step 2 of 4/);
    assert.ok(!fs.existsSync(path.join(dir, 'export')), 'a sitting stopped early exports nothing');
    const changed = spawnSync(process.execPath, args(dir, ['--lr', '0.001']), { encoding: 'utf8' });
    assert.strictEqual(changed.status, 1);
    assert.match(changed.stderr, /lr 0\.002 there, 0\.001 now/);
    const second = spawnSync(process.execPath, args(dir), { encoding: 'utf8' });
    assert.strictEqual(second.status, 0, second.stderr);
    const a = readSafetensors(path.join(tmp, 'a', 'export', 'model.safetensors')).tensors; // the straight run of the previous test
    const c = readSafetensors(path.join(dir, 'export', 'model.safetensors')).tensors;
    for (const [k, t] of a) assert.deepStrictEqual(Array.from(c.get(k)!.data), Array.from(t.data), k);
    const sittings = fs.readFileSync(path.join(dir, 'sittings.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).fromStep as number);
    assert.deepStrictEqual(sittings, [0, 2], "the refused sitting is not recorded");
  });

  it('promptlab pretrain without --export writes the model into its run folder, never over the shipped MiniCLIP; a damaged checkpoint step is refused', function () {
    this.timeout(240000);
    const shipped = path.join(__dirname, '..', '..', 'models', 'miniclip', 'model.safetensors');
    const before = fs.statSync(shipped).mtimeMs;
    const dir = path.join(tmp, 'noexport');
    const r = spawnSync(process.execPath, [BIN, 'pretrain', '--steps', '1', '--batch-size', '4', '--warmup', '1', '--out', dir], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(dir, 'model', 'model.safetensors')));
    assert.match(r.stderr, /exported MiniCLIP to .*noexport\/model; use it with --model/);
    // it names its weights and says they are not the shipped ones (another recipe), with both recipes
    const digest = hashFile(path.join(dir, 'model', 'model.safetensors'), 'sha256');
    assert.match(r.stderr, new RegExp(`weights sha256 ${digest}; not models/miniclip's weights \\(${hashFile(shipped, 'sha256').slice(0, 12)}…\\), as expected from a different recipe: this run from 0: 1 steps.*; that one from 0: 10000 steps`));
    assert.strictEqual(fs.statSync(shipped).mtimeMs, before, 'models/miniclip untouched');
    // a checkpoint whose step is not a number: refused, nothing exported
    const ckpt = path.join(dir, 'checkpoint.safetensors');
    const f = readSafetensors(ckpt);
    const tensors: Record<string, TensorToWrite> = {};
    for (const [k, t] of f.tensors) tensors[k] = { dtype: 'F32', shape: t.shape, data: t.data as Float32Array };
    writeSafetensors(ckpt, tensors, { ...f.metadata, step: 'abc' });
    fs.rmSync(path.join(dir, 'model'), { recursive: true });
    const bad = spawnSync(process.execPath, [BIN, 'pretrain', '--steps', '2', '--batch-size', '4', '--warmup', '1', '--out', dir], { encoding: 'utf8' });
    assert.strictEqual(bad.status, 1);
    assert.match(bad.stderr, /checkpoint\.safetensors: its step is "abc", not a whole number/);
    assert.ok(!fs.existsSync(path.join(dir, 'model')));
  });

  it('promptlab repro zeroshot --quick writes results.json in the pinned format', function () {
    this.timeout(240000);
    // an untrained MiniCLIP-shaped model: the format is under test, not the accuracy
    const dir = path.join(tmp, 'model');
    fs.mkdirSync(dir, { recursive: true });
    const merges = learnWorldVocabulary(0, 500);
    fs.writeFileSync(path.join(dir, 'bpe.txt'), merges);
    const cfg = miniClipConfig(ClipTokenizer.fromMerges(merges).vocabSize);
    const tensors: Record<string, TensorToWrite> = {};
    for (const [k, t] of clipInitStateDict(cfg, 0)) tensors[k] = { dtype: 'F32', shape: t.shape, data: t.data };
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    const out = path.join(tmp, 'zs');
    const r = spawnSync(process.execPath, [BIN, 'repro', 'zeroshot', '--quick', '--model', dir, '--out', out, '--seeds', '0'], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    assert.deepStrictEqual(Object.keys(res), ['experiment', 'config', 'env', 'rows', 'summary']);
    assert.strictEqual(res.experiment, 'zeroshot');
    assert.deepStrictEqual(Object.keys(res.rows[0]), ['method', 'dataset', 'split', 'metric', 'seed', 'value']);
    assert.deepStrictEqual(new Set(res.rows.map((x: { method: string }) => x.method)), new Set(['zeroshot', 'zeroshot-ensemble']));
    assert.strictEqual(res.rows.length, 10);
    const avg = res.summary.filter((s: { dataset: string }) => s.dataset === 'average');
    assert.strictEqual(avg.length, 2);
    assert.deepStrictEqual(Object.keys(avg[0]), ['method', 'dataset', 'split', 'metric', 'mean', 'std', 'n']);
    // each average is the mean of its method's five benchmark rows
    for (const a of avg) {
      const per = res.rows.filter((x: { method: string }) => x.method === a.method).map((x: { value: number }) => x.value);
      assert.ok(Math.abs(a.mean - per.reduce((s: number, v: number) => s + v, 0) / per.length) < 1e-9, a.method);
    }
    assert.ok(['wasm', 'cpu', 'node', 'node-gpu'].includes(res.env.backend));
    // its figure (HTML always; PNG and SVG where Chromium is) and tables beside it
    for (const f of ['zeroshot-accuracy.html', 'zeroshot-accuracy.csv', 'zeroshot-accuracy.md']) assert.ok(fs.existsSync(path.join(out, f)), f);
    assert.match(fs.readFileSync(path.join(out, 'zeroshot-accuracy.csv'), 'utf8'), /^benchmark,Zero-shot CLIP,Zero-shot CLIP \(ensemble\)\n/);
  });

  it('promptlab repro base2new --quick: zeroshot, coop and cocoop on base and new, H per dataset and from the averaged accuracies', function () {
    this.timeout(300000);
    const out = path.join(tmp, 'b2n');
    const r = spawnSync(process.execPath, [BIN, 'repro', 'base2new', '--quick', '--model', path.join(tmp, 'model'), '--out', out, '--datasets', 'world-patterns,world-shapes'], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    for (const method of ['zeroshot', 'coop', 'cocoop']) {
      for (const dataset of ['world-patterns', 'world-shapes']) {
        const get = (split: string, metric: string) => res.rows.find((x: { method: string; dataset: string; split: string; metric: string }) => x.method === method && x.dataset === dataset && x.split === split && x.metric === metric);
        const b = get('base', 'accuracy');
        const n = get('new', 'accuracy');
        const h = get('all', 'H');
        assert.ok(b && n && h, `${method} ${dataset}`);
        assert.ok(Math.abs(h.value - (b.value + n.value === 0 ? 0 : (2 * b.value * n.value) / (b.value + n.value))) < 1e-9);
      }
      const avgRows = res.rows.filter((x: { method: string; dataset: string }) => x.method === method && x.dataset !== 'average');
      const mean = (split: string) => { const v = avgRows.filter((x: { split: string }) => x.split === split).map((x: { value: number }) => x.value); return v.reduce((a: number, c: number) => a + c, 0) / v.length; };
      const hAvg = res.summary.find((x: { method: string; dataset: string; metric: string }) => x.method === method && x.dataset === 'average' && x.metric === 'H');
      const B = mean('base');
      const N = mean('new');
      assert.ok(Math.abs(hAvg.mean - (2 * B * N) / (B + N)) < 1e-9, `${method}: average H is computed from the averaged base and new accuracies`);
    }
  });
});
