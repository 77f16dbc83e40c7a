// DenseCLIP's method checks on the tiny CLIP of its fixtures (test/fixtures/denseclip-official, in
// every clone): output shapes, fresh weights named and shaped as the official state dict, only its own
// variables train (CLIP stays as loaded), the auxiliary loss falls on a fixed batch, no tensor is left
// behind across a training step and an evaluation, and bad inputs get clear errors.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { applyConfigFile } from '../../src/clip/config';
import { ClipModel } from '../../src/clip/model';
import { readSafetensors } from '../../src/clip/safetensors';
import { loadWeights } from '../../src/clip/weights';
import { DENSECLIP_RN50, DenseCLIP, denseClipInitialWeights, segmentationLoss, type DenseClipConfig } from '../../src/methods/denseclip/denseclip';
import { bilinearMatrix } from '../../src/methods/denseclip/resize';
import { Adam } from '../../src/train/adam';
import { AdamW } from '../../src/train/adamw';
import { fpnInitialWeights, SemanticFpn } from '../../src/methods/denseclip/fpn';
import { DenseClipSegmenter, SEGMENTER_MODES } from '../../src/methods/denseclip/segmenter';

const DIR = path.resolve(__dirname, '..', 'fixtures', 'denseclip-official');
const spec = JSON.parse(fs.readFileSync(path.join(DIR, 'cases.json'), 'utf8'));
const CONFIG: DenseClipConfig = { ...DENSECLIP_RN50, inputResolution: 128, decoder: { width: 32, heads: 4, layers: 3, dropout: 0.1 } };

describe('DenseCLIP (method checks on a tiny CLIP)', () => {
  let clip: ClipModel;
  let pixels: tf.Tensor4D;
  let labels: { data: Int32Array; shape: [number, number, number] };
  let classTokens: { ids: Int32Array; shape: [number, number] };
  before(async () => {
    await initBackend();
    const w = loadWeights(path.join(DIR, 'model.safetensors'));
    clip = new ClipModel(applyConfigFile(w.config, spec.clip_config, 'cases.json'), w.stateDict, w.source);
    const inputs = readSafetensors(path.join(DIR, 'inputs.safetensors'));
    const px = inputs.tensors.get('pixel_values')!;
    pixels = tf.tensor4d(px.data as Float32Array, px.shape as [number, number, number, number]);
    const lab = inputs.tensors.get('labels')!;
    labels = { data: lab.data as Int32Array, shape: lab.shape as [number, number, number] };
    const texts = readSafetensors(path.join(DIR, 'text-context.safetensors')).tensors.get('texts')!;
    classTokens = { ids: Int32Array.from(texts.data), shape: [texts.shape[0], texts.shape[1]] };
  });
  after(() => {
    clip?.dispose();
    pixels?.dispose();
  });

  it('fresh weights carry the official names and shapes; gamma starts at 1e-4', () => {
    const official = readSafetensors(path.join(DIR, 'denseclip.safetensors')).tensors;
    const fresh = denseClipInitialWeights(clip, CONFIG, 1);
    assert.deepStrictEqual([...fresh.keys()].sort(), [...official.keys()].sort());
    for (const [k, t] of official) assert.deepStrictEqual(fresh.get(k)!.shape, t.shape, k);
    assert.ok(Array.from(fresh.get('gamma')!.data).every((g) => Math.abs(g - 1e-4) < 1e-9));
    assert.ok(Array.from(fresh.get('contexts')!.data).every((c) => Math.abs(c) <= 2));
  });

  it('output shapes; only its own variables train; the auxiliary loss falls; no tensor left behind', () => {
    const m = new DenseCLIP(clip, classTokens, CONFIG, denseClipInitialWeights(clip, CONFIG, 1));
    const clipBefore = clip.stateDict();
    const out = m.forward(pixels);
    const [b, , hh, ww] = pixels.shape;
    const k = classTokens.shape[0];
    assert.deepStrictEqual(out.scoreMap.shape, [b, k, hh / 32, ww / 32]);
    assert.deepStrictEqual(out.neckInputs.map((t) => t.shape[1]), [64, 128, 256, 512 + k]);
    assert.deepStrictEqual(out.textRefined.shape, [b, k, clip.config.embedDim]);
    tf.dispose(Object.values(out).flat() as tf.Tensor[]);

    const vars = m.trainableVariables();
    assert.strictEqual(vars.length, 2 + 6 + 4 + 3 * (2 * 5 + 6 + 4) + 4, 'contexts, gamma and every decoder tensor (memory and text projections, 3 layers, output projection)');
    const opt = new Adam(vars);
    const losses: number[] = [];
    const start = tf.memory().numTensors;
    for (let step = 0; step < 6; step++) {
      const { value, grads } = tf.variableGrads(() => m.auxLoss(m.forward(pixels).scoreMap, labels), vars);
      losses.push(value.dataSync()[0]);
      opt.apply(vars.map((v) => grads[v.name]), 1e-2);
      tf.dispose([value, ...Object.values(grads)]);
      const ev = m.forward(pixels);
      tf.dispose(Object.values(ev).flat() as tf.Tensor[]);
      if (step === 0) assert.strictEqual(tf.memory().numTensors, start, 'no tensor left behind by a step and an evaluation');
    }
    assert.ok(losses[5] < losses[0], `the loss falls: ${losses.map((l) => l.toFixed(4)).join(' -> ')}`);
    for (const [key, t] of clip.stateDict()) assert.deepStrictEqual(t.data, clipBefore.get(key)!.data, `${key} stays as loaded`);
    opt.dispose();
    m.dispose();
  });

  it("pre-model prompting (the paper's, ours): each image gets its own prompts and text features; the loss falls; no leak", () => {
    const pre: DenseClipConfig = { ...CONFIG, prompting: 'pre' };
    const m = new DenseCLIP(clip, classTokens, pre, denseClipInitialWeights(clip, pre, 2));
    assert.strictEqual(m.contexts, null);
    assert.ok(m.generator);
    const out = m.forward(pixels);
    const k = classTokens.shape[0];
    assert.deepStrictEqual(out.textRefined.shape, [2, k, clip.config.embedDim]);
    const perImage = tf.tidy(() => tf.max(tf.abs(tf.sub(out.textRefined.slice([0, 0, 0], [1, -1, -1]), out.textRefined.slice([1, 0, 0], [1, -1, -1])))).dataSync()[0]);
    assert.ok(perImage > 0, 'the two images have different text features');
    tf.dispose(Object.values(out).flat() as tf.Tensor[]);
    const vars = m.trainableVariables();
    const opt = new Adam(vars);
    const start = tf.memory().numTensors;
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      const { value, grads } = tf.variableGrads(() => m.auxLoss(m.forward(pixels).scoreMap, labels), vars);
      losses.push(value.dataSync()[0]);
      opt.apply(vars.map((v) => grads[v.name]), 1e-2);
      tf.dispose([value, ...Object.values(grads)]);
      if (step === 0) assert.strictEqual(tf.memory().numTensors, start, 'no tensor left behind by a step');
    }
    assert.ok(losses[4] < losses[0], `the loss falls: ${losses.map((l) => l.toFixed(4)).join(' -> ')}`);
    opt.dispose();
    m.dispose();
  });

  it('refuses class tokens of the wrong length and labels outside the classes, naming them', () => {
    assert.throws(() => new DenseCLIP(clip, { ids: new Int32Array(12), shape: [2, 6] }, CONFIG, denseClipInitialWeights(clip, CONFIG, 1)), /class tokens have length 6, expected 5/);
    const logits = tf.zeros([1, 3, 2, 2]) as tf.Tensor4D;
    assert.throws(() => segmentationLoss(logits, { data: Int32Array.from([0, 1, 7, 255]), shape: [1, 2, 2] }, 255), /label 7 at pixel 2 is neither a class \(0\.\.2\) nor the ignore index 255/);
    logits.dispose();
  });

  it('bilinear interpolation matrices are PyTorch\'s (align_corners=False): 2 -> 4 and 4 -> 2', () => {
    // F.interpolate(torch.eye(2)[None, None], size=(4, 1)) rows: [1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]
    assert.deepStrictEqual(Array.from(bilinearMatrix(4, 2)), [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
    assert.deepStrictEqual(Array.from(bilinearMatrix(2, 4)), [0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5]);
  });
});

describe('DenseCLIP segmentation decoder (FPN neck + Semantic FPN head)', () => {
  it('dropout in training is seeded: the same seed gives the same outputs draw by draw, another seed others', async () => {
    await initBackend();
    const config = { inChannels: [8, 16, 32, 64 + 3], channels: 16, numClasses: 3, dropout: 0.5 };
    const feats = config.inChannels.map((c, i) => tf.randomNormal([1, c, Math.ceil(8 / 2 ** i), Math.ceil(8 / 2 ** i)], 0, 1, 'float32', 3 + i) as tf.Tensor4D);
    const draws = (seed: number) => {
      const fpn = new SemanticFpn(config, fpnInitialWeights(config, 1));
      fpn.training = true;
      fpn.dropoutSeed = seed;
      const out = [0, 1].map(() => tf.tidy(() => Array.from(fpn.forward(feats).dataSync())));
      fpn.dispose();
      return out;
    };
    const [a, b, c] = [draws(1), draws(1), draws(2)];
    assert.deepStrictEqual(a, b, 'the same seed: the same masks');
    assert.notDeepStrictEqual(a[0], a[1], 'successive draws differ');
    assert.notDeepStrictEqual(a[0], c[0], 'another seed: other masks');
    tf.dispose(feats);
  });

  it('logits at stride 4 for odd and even maps, every weight gets a gradient, the loss falls, no tensor left behind', async () => {
    await initBackend();
    const config = { inChannels: [8, 16, 32, 64 + 3], channels: 16, numClasses: 3, dropout: 0.1 };
    const fpn = new SemanticFpn(config, fpnInitialWeights(config, 1));
    const feats = (h: number, w: number) => config.inChannels.map((c, i) => tf.randomNormal([2, c, Math.ceil(h / 2 ** i), Math.ceil(w / 2 ** i)], 0, 1, 'float32', 7 + i) as tf.Tensor4D);
    for (const [h, w] of [[8, 12], [7, 9]]) {
      const f = feats(h, w);
      const y = fpn.forward(f);
      assert.deepStrictEqual(y.shape, [2, 3, h, w]);
      tf.dispose([y, ...f]);
    }
    const f = feats(8, 8);
    const labels = { data: Int32Array.from({ length: 2 * 32 * 32 }, (_, i) => (i % 32 < 16 ? 0 : i % 7 === 0 ? 255 : 2)), shape: [2, 32, 32] as [number, number, number] };
    const vars = fpn.trainableVariables();
    const opt = new Adam(vars);
    fpn.training = true;
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    for (let step = 0; step < 8; step++) {
      const { value, grads } = tf.variableGrads(() => segmentationLoss(fpn.forward(f), labels, 255), vars);
      if (step === 0) for (const v of vars) assert.ok(tf.tidy(() => tf.max(tf.abs(grads[v.name])).dataSync()[0]) > 0, `${v.name} gets a gradient`);
      losses.push(value.dataSync()[0]);
      opt.apply(vars.map((v) => grads[v.name]), 1e-2);
      tf.dispose([value, ...Object.values(grads)]);
      if (step === 0) assert.strictEqual(tf.memory().numTensors, before, 'no tensor left behind by a step');
    }
    assert.ok(losses[7] < losses[0] * 0.8, `the loss falls: ${losses.map((l) => l.toFixed(3)).join(' -> ')}`);
    tf.dispose(f);
    opt.dispose();
    fpn.dispose();
  });
});

describe('DenseCLIP segmenter: baseline, fixed prompts and DenseCLIP on one backbone and head', () => {
  it('each mode: logits at stride 4, predictions at full size, its loss falls under AdamW, the backbone at lr x 0.1, the text encoder frozen, no leak', async () => {
    await initBackend();
    const w = loadWeights(path.join(DIR, 'model.safetensors'));
    const cfg = applyConfigFile(w.config, spec.clip_config, 'cases.json');
    const inputs = readSafetensors(path.join(DIR, 'inputs.safetensors'));
    const px = inputs.tensors.get('pixel_values')!;
    const pixels = tf.tensor4d(px.data as Float32Array, px.shape as [number, number, number, number]);
    const lab = inputs.tensors.get('labels')!;
    const labels = { data: lab.data as Int32Array, shape: lab.shape as [number, number, number] };
    const texts = readSafetensors(path.join(DIR, 'text-context.safetensors')).tensors.get('texts')!;
    const classTokens = { ids: Int32Array.from(texts.data), shape: [texts.shape[0], texts.shape[1]] as [number, number] };
    const K = classTokens.shape[0];
    // fixed prompts: the class tokens themselves stand in for tokenized "a photo of a {}." prompts
    const promptTokens = classTokens;
    for (const mode of SEGMENTER_MODES) {
      const clip = new ClipModel(cfg, w.stateDict, w.source, true); // trainable: the backbone fine-tunes
      const config = { mode, denseclip: CONFIG, fpn: { channels: 16, dropout: 0.1 }, backboneLrMult: 0.1 };
      const inChannels = [64, 128, 256, 512 + (mode === 'baseline' ? 0 : K)];
      const seg = new DenseClipSegmenter(clip, K, config, { denseclip: denseClipInitialWeights(clip, CONFIG, 3), fpn: fpnInitialWeights({ inChannels, channels: 16, numClasses: K, dropout: 0.1 }, 3) }, { classTokens, promptTokens });
      const out = seg.forward(pixels);
      assert.deepStrictEqual(out.logits.shape, [2, K, 24, 32], mode);
      assert.strictEqual(out.scoreMap === null, mode === 'baseline', mode);
      tf.dispose([out.logits, out.scoreMap as tf.Tensor]);
      const groups = seg.paramGroups();
      assert.ok(groups.some((g) => g.key.startsWith('visual.') && g.lrMult === 0.1), `${mode}: the backbone trains at lr x 0.1`);
      assert.ok(!groups.some((g) => /^(transformer|token_embedding|ln_final|text_projection|positional_embedding)/.test(g.key)), `${mode}: the text encoder is frozen`);
      const textBefore = clip.stateDict().get('transformer.resblocks.0.attn.in_proj_weight')!.data.slice();
      const opt = new AdamW(groups, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-4 });
      seg.training = true;
      const losses: number[] = [];
      const start = tf.memory().numTensors;
      for (let step = 0; step < 4; step++) {
        const vars = groups.map((g) => g.variable);
        const { value, grads } = tf.variableGrads(() => seg.loss(pixels, labels), vars);
        losses.push(value.dataSync()[0]);
        opt.apply(vars.map((v) => grads[v.name]), 1e-3);
        tf.dispose([value, ...Object.values(grads)]);
        if (step === 0) assert.strictEqual(tf.memory().numTensors, start, `${mode}: no tensor left behind by a step`);
      }
      seg.training = false;
      assert.ok(losses[3] < losses[0], `${mode}: the loss falls: ${losses.map((l) => l.toFixed(4)).join(' -> ')}`);
      assert.deepStrictEqual(clip.stateDict().get('transformer.resblocks.0.attn.in_proj_weight')!.data, textBefore, `${mode}: the text encoder is unchanged`);
      const pred = seg.predict(pixels, 96, 128);
      assert.strictEqual(pred.length, 2 * 96 * 128);
      assert.ok(pred.every((p) => p >= 0 && p < K));
      opt.dispose();
      seg.dispose();
      clip.dispose();
    }
    pixels.dispose();
  });
});
