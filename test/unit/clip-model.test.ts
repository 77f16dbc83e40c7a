// The CLIP model on random weights of shapes the fixtures do not have, checked against a naive
// float64 reference; exact causal truncation; fp16 and Hugging Face loading; tensor hygiene.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ClipConfig } from '../../src/clip/config';
import { ClipModel } from '../../src/clip/model';
import { TextTower } from '../../src/clip/text';
import { randomStateDict } from '../../src/clip/random';
import { uniform } from '../../src/random';
import { readSafetensors } from '../../src/clip/safetensors';
import { loadWeights, StateDict } from '../../src/clip/weights';
import { relativeError } from '../helpers/compare';
import { refEncodeImageResNet, refEncodeImageVit, refEncodeText } from '../helpers/reference-clip';
import { writeHfFolder, writeOpenAIFolder } from '../helpers/hf-export';

const text = { contextLength: 12, vocabSize: 60, transformerWidth: 48, transformerHeads: 3, transformerLayers: 2 };
const common = { textAct: 'quick_gelu' as const, visionAct: 'quick_gelu' as const, layerNormEps: 1e-5 };
const VIT: ClipConfig = { ...text, ...common, embedDim: 24, imageResolution: 16, visionLayers: 2, visionWidth: 40, visionPatchSize: 4, visionHeads: 5 };
const VIT_ONE_HEAD: ClipConfig = { ...VIT, transformerHeads: 1, visionHeads: 1, contextLength: 9, visionPatchSize: 8, imageResolution: 24 };
const RN: ClipConfig = { ...text, ...common, embedDim: 20, imageResolution: 64, visionLayers: [1, 2, 1, 1], visionWidth: 8, visionPatchSize: null, visionHeads: 2 };

/** Random token rows [SOT, w..., EOT, 0...] with EOT = vocab - 1, of varied lengths. */
function randomIds(c: ClipConfig, rows: number, seed: number): { ids: Int32Array; shape: [number, number] } {
  const r = uniform(seed);
  const ids = new Int32Array(rows * c.contextLength);
  for (let i = 0; i < rows; i++) {
    const n = 1 + Math.floor(r() * (c.contextLength - 2));
    ids[i * c.contextLength] = c.vocabSize - 2;
    for (let j = 1; j <= n; j++) ids[i * c.contextLength + j] = 1 + Math.floor(r() * (c.vocabSize - 3));
    ids[i * c.contextLength + n + 1] = c.vocabSize - 1;
  }
  return { ids, shape: [rows, c.contextLength] };
}

function randomPixels(c: ClipConfig, n: number, seed: number): tf.Tensor4D {
  const r = uniform(seed);
  const data = Float32Array.from({ length: n * 3 * c.imageResolution ** 2 }, () => 2 * r() - 1);
  return tf.tensor4d(data, [n, 3, c.imageResolution, c.imageResolution]);
}

function checkAgainstReference(model: ClipModel, sd: StateDict, c: ClipConfig, label: string): void {
  const ids = randomIds(c, 3, 7);
  const pixels = randomPixels(c, 2, 8);
  const t = model.encodeText(ids);
  const im = model.encodeImage(pixels);
  const tv = t.arraySync();
  const iv = im.arraySync();
  const px = pixels.dataSync();
  for (let i = 0; i < 3; i++) {
    const ref = refEncodeText(sd, c, ids.ids.subarray(i * c.contextLength, (i + 1) * c.contextLength));
    const err = relativeError(tv[i], ref);
    assert.ok(err < 1e-4, `${label}: text row ${i} relative error ${err}`);
  }
  const n = 3 * c.imageResolution ** 2;
  for (let i = 0; i < 2; i++) {
    const img = px.subarray(i * n, (i + 1) * n);
    const ref = c.visionPatchSize ? refEncodeImageVit(sd, c, img) : refEncodeImageResNet(sd, c, img);
    const err = relativeError(iv[i], ref);
    assert.ok(err < 1e-4, `${label}: image ${i} relative error ${err}`);
  }
  tf.dispose([t, im, pixels]);
}

/** The state dict as the loader sees it after an F16 round trip (to compare like with like). */
function f16RoundTrip(sd: StateDict, dir: string, c: ClipConfig): StateDict {
  const file = writeOpenAIFolder(dir, sd, c, 'F16');
  return loadWeights(file).stateDict;
}

describe('ClipModel on shapes the fixtures do not have (naive float64 reference)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-clip-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const [label, c] of [['ViT, 5 vision / 3 text heads, context 12', VIT], ['ViT, 1 head, patch 8, context 9', VIT_ONE_HEAD], ['ModifiedResNet [1,2,1,1], 2 pool heads', RN]] as const) {
    it(`${label}: encodeImage and encodeText within 1e-4`, () => {
      const sd = randomStateDict(c, 11);
      const m = new ClipModel(c, sd);
      checkAgainstReference(m, sd, c, label);
      m.dispose();
    });
  }

  it('fp16 OpenAI-layout safetensors with config.json: heads from the config, values within 1e-4', () => {
    const sd16 = f16RoundTrip(randomStateDict(VIT, 3), path.join(tmp, 'f16'), VIT);
    const m = ClipModel.load(path.join(tmp, 'f16', 'model.safetensors'));
    assert.strictEqual(m.config.visionHeads, 5);
    assert.strictEqual(m.config.transformerHeads, 3);
    checkAgainstReference(m, sd16, VIT, 'fp16');
    m.dispose();
  });

  it('a Hugging Face folder (fp16) of another size loads to the same model', () => {
    const sd = f16RoundTrip(randomStateDict(VIT_ONE_HEAD, 4), path.join(tmp, 'src'), VIT_ONE_HEAD);
    writeHfFolder(path.join(tmp, 'hf'), sd, VIT_ONE_HEAD, 'F16');
    const w = loadWeights(path.join(tmp, 'hf'));
    assert.strictEqual(w.layout, 'huggingface');
    const m = new ClipModel(w.config, w.stateDict);
    checkAgainstReference(m, sd, VIT_ONE_HEAD, 'hf');
    m.dispose();
  });

  it('infers the architecture from shapes alone as build_model does (heads = width / 64)', () => {
    const c: ClipConfig = { ...VIT, transformerWidth: 128, transformerHeads: 2, visionWidth: 192, visionHeads: 3 };
    const file = writeOpenAIFolder(path.join(tmp, 'infer'), randomStateDict(c, 1), c);
    fs.rmSync(path.join(tmp, 'infer', 'config.json'));
    const w = loadWeights(file);
    assert.deepStrictEqual({ ...w.config }, { ...c });
  });
});

describe('exact causal truncation of the text tower', () => {
  let model: ClipModel;
  const c: ClipConfig = { ...VIT, contextLength: 77, transformerWidth: 64, transformerHeads: 2 };
  before(() => { model = new ClipModel(c, randomStateDict(c, 5)); });
  after(() => model.dispose());

  it('encodeText (computed up to the last EOT) equals the full 77-token computation', () => {
    const ids = randomIds({ ...c, contextLength: 20 }, 6, 9);
    const full = new Int32Array(6 * 77);
    for (let i = 0; i < 6; i++) full.set(ids.ids.subarray(i * 20, (i + 1) * 20), i * 77);
    const fast = model.encodeText({ ids: full, shape: [6, 77] });
    // the full computation: ln_final at every one of the 77 positions, EOT row, projection
    const tokens = model.textTokens({ ids: full, shape: [6, 77] });
    const eot = Array.from({ length: 6 }, (_, i) => { const r = Array.from(full.subarray(i * 77, (i + 1) * 77)); return r.indexOf(Math.max(...r)); });
    const slow = tf.tidy(() => tf.matMul(tf.stack(eot.map((e, i) => tokens.slice([i, e, 0], [1, 1, -1]).reshape([-1]))), model.text.projection));
    const err = relativeError(fast.dataSync(), slow.dataSync());
    assert.ok(err < 1e-6, `truncated vs full: relative error ${err}`);
    tf.dispose([fast, tokens, slow]);
  });

  it('encodeTokenEmbeddings gives the same features and gradients whatever padding follows the EOT', () => {
    const ids = randomIds({ ...c, contextLength: 16 }, 4, 10);
    const eot = Array.from({ length: 4 }, (_, i) => { const r = Array.from(ids.ids.subarray(i * 16, (i + 1) * 16)); return r.indexOf(Math.max(...r)); });
    const emb = model.tokenEmbeddings(ids);
    const padded = tf.concat([emb, tf.randomNormal([4, 61, 64], 0, 1, 'float32', 1)], 1) as tf.Tensor3D;
    const g = (x: tf.Tensor3D) => tf.grad((e: tf.Tensor) => tf.sum(tf.square(model.encodeTokenEmbeddings(e as tf.Tensor3D, eot))))(x);
    const a = model.encodeTokenEmbeddings(emb, eot);
    const b = model.encodeTokenEmbeddings(padded, eot);
    assert.ok(relativeError(a.dataSync(), b.dataSync()) < 1e-6);
    const ga = g(emb);
    const gb = g(padded);
    assert.ok(relativeError(ga.dataSync(), gb.slice([0, 0, 0], [4, 16, 64]).dataSync()) < 1e-6);
    assert.strictEqual(tf.max(tf.abs(gb.slice([0, 16, 0], [4, 61, 64]))).dataSync()[0], 0, 'positions after the EOT get no gradient');
    tf.dispose([emb, padded, a, b, ga, gb]);
  });

  it('many prompts under a gradient tape (gradient checkpointing over rows): the same features and gradients, and no tensor left behind', () => {
    const ids = randomIds({ ...c, contextLength: 16 }, 9, 11);
    const eot = Array.from({ length: 9 }, (_, i) => { const r = Array.from(ids.ids.subarray(i * 16, (i + 1) * 16)); return r.indexOf(Math.max(...r)); });
    const emb = model.tokenEmbeddings(ids);
    const w = tf.randomNormal([9, c.embedDim], 0, 1, 'float32', 3);
    const loss = (e: tf.Tensor) => tf.sum(tf.mul(tf.tanh(model.encodeTokenEmbeddings(e as tf.Tensor3D, eot)), w)) as tf.Scalar;
    const onePass = tf.valueAndGrad(loss)(emb);
    const saved = TextTower.checkpointBytes;
    TextTower.checkpointBytes = 1; // one row per chunk: 9 chunks
    try {
      const before = tf.memory().numTensors;
      const chunked = tf.valueAndGrad(loss)(emb);
      assert.strictEqual(chunked.value.dataSync()[0], onePass.value.dataSync()[0]);
      const err = relativeError(chunked.grad.dataSync(), onePass.grad.dataSync());
      assert.ok(err < 1e-6, `checkpointed vs one-pass gradient: relative error ${err}`);
      tf.dispose([chunked.value, chunked.grad]);
      assert.strictEqual(tf.memory().numTensors, before);
      // without a tape, no checkpointing: the plain forward
      const plain = model.encodeTokenEmbeddings(emb, eot);
      assert.strictEqual(plain.shape.join(), `9,${c.embedDim}`);
      plain.dispose();
    } finally {
      TextTower.checkpointBytes = saved;
      tf.dispose([emb, w, onePass.value, onePass.grad]);
    }
  });

  it('rejects EOT positions outside the sequence and widths that do not fit, naming them', () => {
    const e = tf.zeros([2, 10, 64]) as tf.Tensor3D;
    assert.throws(() => model.encodeTokenEmbeddings(e, [3, 10]), /eotIndex\[1\] = 10 is outside \[0, 9\]/);
    assert.throws(() => model.encodeTokenEmbeddings(e, [3]), /1 EOT positions for 2 sequences/);
    const w = tf.zeros([2, 10, 32]) as tf.Tensor3D;
    assert.throws(() => model.encodeTokenEmbeddings(w, [1, 2]), /width 32, the text tower expects 64/);
    tf.dispose([e, w]);
  });
});

describe('ClipModel tensor hygiene', () => {
  it('encode calls leave only their outputs, and dispose frees every weight', () => {
    const start = tf.memory().numTensors;
    const m = new ClipModel(RN, randomStateDict(RN, 2));
    const withModel = tf.memory().numTensors;
    const px = randomPixels(RN, 1, 1);
    const before = tf.memory().numTensors;
    const outs = [m.encodeImage(px), m.encodeText(randomIds(RN, 2, 3)), m.textTokens(randomIds(RN, 2, 3))];
    const vt = m.visionTokens(px);
    assert.strictEqual(tf.memory().numTensors, before + 5);
    tf.dispose([...outs, vt.tokens, vt.featureMap as tf.Tensor, px]);
    assert.strictEqual(tf.memory().numTensors, withModel);
    m.dispose();
    assert.strictEqual(tf.memory().numTensors, start);
    assert.throws(() => m.encodeImage(px), /disposed/);
  });
});

describe('bad weights files get errors that name the file and the problem', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-bad-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const sd = randomStateDict(VIT, 1);

  it('missing tensor', () => {
    const s = new Map(sd);
    s.delete('visual.ln_post.bias');
    const file = writeOpenAIFolder(path.join(tmp, 'missing'), s, VIT);
    assert.throws(() => ClipModel.load(file), (e: Error) => e.message.includes(file) && /'visual\.ln_post\.bias' is missing/.test(e.message));
  });

  it('wrong shape', () => {
    const s = new Map(sd);
    s.set('transformer.resblocks.1.mlp.c_proj.bias', { shape: [47], data: new Float32Array(47) });
    const file = writeOpenAIFolder(path.join(tmp, 'shape'), s, VIT);
    assert.throws(() => ClipModel.load(file), (e: Error) => e.message.includes(file) && /c_proj\.bias' has shape \[47\], expected \[48\]/.test(e.message));
  });

  it('truncated file', () => {
    const file = writeOpenAIFolder(path.join(tmp, 'trunc'), sd, VIT);
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    assert.throws(() => ClipModel.load(file), (e: Error) => e.message.includes(file) && /truncat|missing|beyond/i.test(e.message));
  });

  it('integer dtype where weights are expected, and unknown formats', () => {
    const file = path.join(tmp, 'int.safetensors');
    const { writeSafetensors } = require('../../src/clip/safetensors');
    writeSafetensors(file, { 'token_embedding.weight': { dtype: 'I32', shape: [2], data: [1, 2] } });
    assert.throws(() => ClipModel.load(file), (e: Error) => e.message.includes(file) && /integer dtype I32/.test(e.message));
    const txt = path.join(tmp, 'weights.onnx');
    fs.writeFileSync(txt, 'x');
    assert.throws(() => ClipModel.load(txt), /unknown weights format/);
    assert.throws(() => ClipModel.load(path.join(tmp, 'nope.safetensors')), /no such file/);
  });

  it('the parity fixture in fp16 reads with every value finite', () => {
    const f = readSafetensors(path.join(__dirname, '..', 'fixtures', 'clip-parity', 'rn-tiny', 'model.safetensors'));
    for (const t of f.tensors.values()) assert.ok(t.data.every(Number.isFinite), t.name);
  });
});

describe('text tower: a shared prefix computed once', () => {
  it('encodeWithSharedPrefix equals encodeTokenEmbeddings on the concatenated sequences, values and gradients (within 1e-5)', () => {
    const cfg: ClipConfig = {
      embedDim: 16, imageResolution: 32, visionLayers: 1, visionWidth: 32, visionPatchSize: 16, visionHeads: 2,
      contextLength: 12, vocabSize: 60, transformerWidth: 32, transformerHeads: 4, transformerLayers: 3,
      textAct: 'quick_gelu', visionAct: 'quick_gelu', layerNormEps: 1e-5,
    };
    const clip = new ClipModel(cfg, randomStateDict(cfg, 5));
    const r = uniform(9, 'prefix-test');
    const prefix = tf.variable(tf.tensor3d(Float32Array.from({ length: 4 * 32 }, () => r() - 0.5), [1, 4, 32]));
    const rest = tf.variable(tf.tensor3d(Float32Array.from({ length: 5 * 6 * 32 }, () => r() - 0.5), [5, 6, 32]));
    const eot = [5, 6, 7, 9, 6];
    const before = tf.memory().numTensors;
    const shared = tf.variableGrads(() => tf.sum(tf.square(clip.encodeWithSharedPrefix(prefix, rest, eot))) as tf.Scalar, [prefix, rest]);
    const plain = tf.variableGrads(() => tf.sum(tf.square(clip.encodeTokenEmbeddings(tf.concat([tf.broadcastTo(prefix, [5, 4, 32]), rest], 1) as tf.Tensor3D, eot))) as tf.Scalar, [prefix, rest]);
    const rel = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-30, tf.max(tf.abs(b)).dataSync()[0]));
    assert.ok(rel(shared.value, plain.value) < 1e-5, 'values');
    for (const v of [prefix, rest]) assert.ok(rel(shared.grads[v.name], plain.grads[v.name]) < 1e-5, `gradient of ${v.name}`);
    const a = clip.encodeWithSharedPrefix(prefix, rest, eot);
    const b = tf.tidy(() => clip.encodeTokenEmbeddings(tf.concat([tf.broadcastTo(prefix, [5, 4, 32]), rest], 1) as tf.Tensor3D, eot));
    assert.ok(rel(a, b) < 1e-5, 'features');
    tf.dispose([shared.value, plain.value, ...Object.values(shared.grads), ...Object.values(plain.grads), a, b]);
    assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind');
    assert.throws(() => clip.encodeWithSharedPrefix(prefix, rest, [3, 6, 7, 9, 6]), /eotIndex\[0\] = 3 is outside the rest \[4, 9\]/);
    tf.dispose([prefix, rest]);
    clip.dispose();
  });
});
