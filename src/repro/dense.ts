// promptlab repro dense: DenseCLIP (Rao et al., CVPR 2022) on world-scenes, semantic segmentation
// into background and the ten shapes, against the two baselines of its paper, all three on the same
// MiniCLIP image backbone, the same FPN head (same initial weights), the same schedule and seeds:
//   baseline       c1..c4 -> FPN -> logits: no language guidance (no score map, no prompts)
//   fixed-prompts  the pixel-text score map of the hand-crafted prompts "a photo of a {}."
//                  concatenated to c4, with the auxiliary loss: language guidance, nothing learned in the text
//   denseclip      learned contexts, the context decoder refining the text from the image, the score
//                  map concatenated to c4, the auxiliary loss (post-model prompting, the official code)
// Metrics on the test split as mmseg computes them: mIoU and pixel accuracy (aAcc), in percent.
//
// The scenes are rendered at 256 px instead of the benchmark's 128 (the same scenes: a scene's spec
// is drawn before, and independently of, its rendering size): MiniCLIP's image tower has stride 32,
// so 128 px leaves a 4 x 4 score map, where an object of 20-40% of the frame covers one or two cells;
// at 256 px the map is 8 x 8 and an object's cells can light up on their own. The committed 128 px
// benchmark, its manifest and checksums are untouched: the 256 px variant is WorldScenesDataset with
// SCENES_CONFIG's imageSize replaced, and its run record hashes its own pixels.
//
// Measured on the project's 2-core machine under load from other runs (CPU seconds of the one WASM
// thread per training step at 256 px, FPN width 64; DENSECLIP_WORLD in methods/denseclip/presets.ts
// says what follows from them):
//   batch 8, backbone frozen:      baseline 3.4-3.6, fixed-prompts 3.3-3.5, denseclip 4.1-4.3
//   batch 8, backbone fine-tuned:  baseline 4.4-4.9, fixed-prompts 4.8-5.2, denseclip 5.0-5.3
//   batch 4, backbone frozen:      baseline 1.6-1.7, fixed-prompts 1.7-1.75, denseclip 2.1
//   evaluation, 4 test scenes:     0.37-0.45
import * as tf from '@tensorflow/tfjs';
import { variableGradsFreeing } from '../clip/backprop';
import type { RawImage } from '../clip/image';
import { ClipModel } from '../clip/model';
import { toClipInput } from '../clip/preprocess';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { StateDict } from '../clip/weights';
import type { SplitName } from '../data/dataset';
import { SCENES_CONFIG, WorldScenesDataset } from '../data/world-scenes';
import { SegmentationMetrics, type SegmentationResult } from '../eval/segmentation';
import { denseClipInitialWeights, type DenseClipConfig } from '../methods/denseclip/denseclip';
import { fpnInitialWeights, type FpnConfig } from '../methods/denseclip/fpn';
import { denseClipLr, getDenseClipPreset, warmupIterations, type DenseClipPreset } from '../methods/denseclip/presets';
import { resizeBilinearNCHW } from '../methods/denseclip/resize';
import { DenseClipSegmenter, type SegmenterMode } from '../methods/denseclip/segmenter';
import { streamFor } from '../random';
import { AdamW } from '../train/adamw';
import { labelled, type ProgressCallback } from '../train/progress';
import type { ResultRow } from './record';

export const DENSE_METHODS = ['baseline', 'fixed-prompts', 'denseclip'] as const;
export type DenseMethod = (typeof DENSE_METHODS)[number];

/** Images per forward pass in evaluation (no gradients: larger batches cost nothing more per image). */
const EVAL_BATCH = 8;

/** The world preset; quick runs train a fifth of the iterations on the quick split. */
export function densePreset(quick: boolean): DenseClipPreset {
  const p = getDenseClipPreset('world');
  if (quick) p.optim.iterations = Math.round(p.optim.iterations / 5);
  return p;
}

/** world-scenes at the preset's resolution (256 px: an 8 x 8 score map at stride 32); same scenes as the 128 px benchmark. */
export function denseDataset(quick: boolean, imageSize = densePreset(quick).imageSize): WorldScenesDataset {
  return new WorldScenesDataset({ ...SCENES_CONFIG, imageSize }, { quick });
}

/** One rendered scene: RGB pixels and its label map (0 background, 1 + shape index elsewhere). */
export interface DenseScene {
  index: number;
  image: RawImage;
  labels: Uint8Array;
}

/** The scenes of a split (the first `limit`), rendered. */
export function denseScenes(ds: WorldScenesDataset, split: SplitName, limit = Infinity): DenseScene[] {
  return ds.split(split).slice(0, limit).map((item) => {
    const ex = ds.example(item, split);
    return { index: item.index, image: ex.image, labels: ex.labels };
  });
}

function flipImage(im: RawImage): RawImage {
  const { width: w, height: h, channels: c } = im;
  const data = new Uint8Array(im.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (y * w + (w - 1 - x)) * c;
      const to = (y * w + x) * c;
      for (let k = 0; k < c; k++) data[to + k] = im.data[from + k];
    }
  }
  return { ...im, data };
}

function flipLabels(labels: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = labels[y * w + (w - 1 - x)];
  return out;
}

export interface DenseBatch {
  pixels: tf.Tensor4D;
  labels: { data: Uint8Array; shape: [number, number, number] };
}

/** Scenes as CLIP-normalised pixels NCHW and labels [B, H, W]; `flips[i]` mirrors scene i left-right. */
export function denseBatch(scenes: readonly DenseScene[], size: number, flips?: readonly boolean[]): DenseBatch {
  const per = 3 * size * size;
  const pixels = new Float32Array(scenes.length * per);
  const labels = new Uint8Array(scenes.length * size * size);
  scenes.forEach((s, i) => {
    if (s.image.width !== size || s.image.height !== size) throw new Error(`dense: scene ${s.index} is ${s.image.width} x ${s.image.height}, expected ${size} x ${size}`);
    const flip = flips?.[i] === true;
    pixels.set(toClipInput(flip ? flipImage(s.image) : s.image, { size }), i * per);
    labels.set(flip ? flipLabels(s.labels, size, size) : s.labels, i * size * size);
  });
  return { pixels: tf.tensor4d(pixels, [scenes.length, 3, size, size]), labels: { data: labels, shape: [scenes.length, size, size] } };
}

/** The DenseCLIP configuration a preset gives a model: its input size, and the CLIP's own attention-pool heads. */
export function denseClipConfigFor(model: ClipModel, preset: DenseClipPreset): DenseClipConfig {
  return { ...preset.denseclip, inputResolution: preset.imageSize, attnpoolHeads: model.config.visionHeads };
}

/** The FPN's configuration: c1..c4's channels with the score map's K added to c[scoreConcatIndex] (the language-guided methods). */
function fpnConfigFor(model: ClipModel, preset: DenseClipPreset, numClasses: number, withScoreMap: boolean): FpnConfig {
  const w = model.config.visionWidth;
  const inChannels = [4 * w, 8 * w, 16 * w, 32 * w];
  if (withScoreMap) inChannels[preset.denseclip.scoreConcatIndex] += numClasses;
  return { inChannels, channels: preset.fpn.channels, numClasses, dropout: preset.fpn.dropout };
}

/**
 * The same FPN weights for every method of a seed: drawn for the language-guided head (c4 with the
 * score map's K channels after its own), and for the baseline the same with those K input columns
 * of c4's lateral 1x1 conv left out. Every other weight is identical across the three methods.
 */
function fpnWeightsFor(model: ClipModel, preset: DenseClipPreset, numClasses: number, mode: SegmenterMode, seed: number): StateDict {
  const full = fpnInitialWeights(fpnConfigFor(model, preset, numClasses, true), seed);
  if (mode !== 'baseline') return full;
  const i = preset.denseclip.scoreConcatIndex;
  const key = `neck.lateral_convs.${i}.conv.weight`;
  const t = full.get(key);
  if (!t) throw new Error(`dense: the FPN weights have no ${key}`);
  const [out, inC] = t.shape;
  const keep = inC - numClasses;
  const data = new Float32Array(out * keep);
  for (let o = 0; o < out; o++) data.set(t.data.subarray(o * inC, o * inC + keep), o * keep);
  const sd: StateDict = new Map(full);
  sd.set(key, { shape: [out, keep, 1, 1], data });
  return sd;
}

/** A segmenter of one method for one seed, and the CLIP copy it owns when the backbone fine-tunes (else null). */
export function buildDenseSegmenter(model: ClipModel, tokenizer: ClipTokenizer, classNames: readonly string[], template: string, mode: SegmenterMode, preset: DenseClipPreset, seed: number): { seg: DenseClipSegmenter; owned: ClipModel | null } {
  const owned = preset.finetuneBackbone ? new ClipModel(model.config, model.stateDict(), 'the CLIP model (a trainable copy)', true) : null;
  const clip = owned ?? model;
  try {
    const cfg = denseClipConfigFor(model, preset);
    const k = classNames.length;
    const tokens = tokenizer.tokenize(classNames, { contextLength: cfg.classContextLength });
    const prompts = tokenizer.tokenize(classNames.map((c) => template.replace('{}', c)), { contextLength: model.config.contextLength });
    const seg = new DenseClipSegmenter(
      clip,
      k,
      { mode, denseclip: cfg, fpn: { ...preset.fpn }, backboneLrMult: preset.optim.backboneLrMult },
      { denseclip: mode === 'denseclip' ? denseClipInitialWeights(clip, cfg, seed) : undefined, fpn: fpnWeightsFor(model, preset, k, mode, seed) },
      { classTokens: { ids: tokens.ids, shape: tokens.shape }, promptTokens: { ids: prompts.ids, shape: prompts.shape } },
    );
    seg.dropoutSeed = seed;
    return { seg, owned };
  } catch (e) {
    owned?.dispose();
    throw e;
  }
}

/**
 * Trains a segmenter for the preset's iterations: batches drawn from a fresh shuffle of the scenes
 * each epoch (the last incomplete batch dropped), each scene flipped with the preset's probability,
 * AdamW at the poly schedule with warm-up. Returns the loss of every iteration.
 */
export function trainDenseSegmenter(seg: DenseClipSegmenter, preset: DenseClipPreset, scenes: readonly DenseScene[], seed: number, onProgress?: ProgressCallback): number[] {
  const o = preset.optim;
  const groups = seg.paramGroups();
  const vars = groups.map((g) => g.variable);
  const opt = new AdamW(groups, { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay });
  const rng = streamFor(seed, 'dense-batches');
  const n = scenes.length;
  const batch = Math.min(o.batchSize, n);
  const perEpoch = Math.floor(n / batch);
  const total = o.iterations;
  const losses: number[] = [];
  let order: number[] = [];
  const t0 = Date.now();
  seg.training = true;
  try {
    for (let it = 0; it < total; it++) {
      const step = it % perEpoch;
      if (step === 0) order = rng.shuffled(Array.from({ length: n }, (_, i) => i));
      const idx = order.slice(step * batch, (step + 1) * batch);
      const flips = idx.map(() => rng.chance(preset.flipProb));
      const b = denseBatch(idx.map((i) => scenes[i]), preset.imageSize, flips);
      const lr = denseClipLr(it, o);
      try {
        const { value, grads } = variableGradsFreeing(() => seg.loss(b.pixels, b.labels), vars);
        losses.push(value.dataSync()[0]);
        opt.apply(vars.map((v) => grads[v.name]), lr);
        tf.dispose([value, ...Object.values(grads)]);
      } finally {
        b.pixels.dispose();
      }
      const elapsed = (Date.now() - t0) / 1000;
      const done = it + 1;
      const epochStart = it - step;
      const epochLosses = losses.slice(epochStart);
      onProgress?.({
        epoch: Math.floor(it / perEpoch) + 1, epochs: Math.ceil(total / perEpoch), step: step + 1, steps: perEpoch,
        loss: epochLosses.reduce((a, c) => a + c, 0) / epochLosses.length, accuracy: NaN, lr,
        stepsPerSecond: done / Math.max(elapsed, 1e-9), etaSeconds: ((total - done) * elapsed) / done, epochDone: step === perEpoch - 1 || done === total,
      });
    }
  } finally {
    seg.training = false;
    opt.dispose();
  }
  return losses;
}

/** mmseg's metrics of a segmenter over scenes (whole images, single scale, logits upsampled to the labels). */
export function evaluateDense(seg: DenseClipSegmenter, scenes: readonly DenseScene[], size: number, numClasses: number, ignoreIndex = 255): SegmentationResult {
  const metrics = new SegmentationMetrics(numClasses, ignoreIndex);
  for (let i = 0; i < scenes.length; i += EVAL_BATCH) {
    const b = denseBatch(scenes.slice(i, i + EVAL_BATCH), size);
    try {
      metrics.add(seg.predict(b.pixels, size, size), b.labels.data);
    } finally {
      b.pixels.dispose();
    }
  }
  return metrics.result();
}

/** mIoU and pixel accuracy (%) of predicting background everywhere: the floor a segmenter must clear. */
export function allBackground(scenes: readonly DenseScene[], numClasses: number, ignoreIndex = 255): { miou: number; pixelAccuracy: number } {
  const m = new SegmentationMetrics(numClasses, ignoreIndex);
  for (const s of scenes) m.add(new Uint8Array(s.labels.length), s.labels);
  const r = m.result();
  return { miou: 100 * r.miou, pixelAccuracy: 100 * r.pixelAccuracy };
}

// The all-background reference of each variant, kept once computed (runDense renders the test split
// anyway; denseConfig, called after it, then needs no second rendering).
const backgroundReference = new Map<string, { miou: number; pixelAccuracy: number }>();

/** The all-background reference of the test split of a variant (quick or full, at the preset's resolution). */
export function allBackgroundReference(quick: boolean): { miou: number; pixelAccuracy: number } {
  const ds = denseDataset(quick);
  const key = `${quick ? 'quick' : 'full'}-${ds.imageSize}`;
  let r = backgroundReference.get(key);
  if (!r) {
    r = allBackground(denseScenes(ds, 'test'), ds.classNames.length);
    backgroundReference.set(key, r);
  }
  return { ...r };
}

export function denseConfig(quick: boolean) {
  const p = densePreset(quick);
  const ds = denseDataset(quick);
  const grid = p.imageSize / 32;
  return {
    preset: p.name,
    source: p.source,
    imageSize: p.imageSize,
    finetuneBackbone: p.finetuneBackbone,
    scoreMap: `${grid} x ${grid} (MiniCLIP's stride 32 at ${p.imageSize} px; the 128 px benchmark would give ${128 / 32} x ${128 / 32})`,
    classes: ds.classNames.slice(),
    methods: {
      baseline: 'the four stages c1..c4 -> FPN -> Semantic FPN head; cross-entropy only (no score map, no prompts, no auxiliary loss)',
      'fixed-prompts': `the pixel-text cosine of the frozen text features of "${ds.template}" with the attention pool at every position, concatenated to c4; cross-entropy + ${p.denseclip.auxLossWeight} x CE(score map / ${p.denseclip.tau})`,
      denseclip: `post-model prompting: ${p.denseclip.nCtx} learned contexts + ${p.denseclip.classContextLength} class tokens through the frozen text encoder, the context decoder (t + gamma x decoder(t, [g; V]), gamma from 1e-4), the score map concatenated to c4; cross-entropy + ${p.denseclip.auxLossWeight} x CE(score map / ${p.denseclip.tau})`,
    },
    shared: 'every method: the same frozen or fine-tuned backbone, the same FPN head with the same initial weights per seed (the baseline without the score map\'s input columns), the same batches, flips and schedule per seed',
    denseclip: { ...p.denseclip, inputResolution: p.imageSize, attnpoolHeads: 'the CLIP model\'s own (config.visionHeads; MiniCLIP 8)' },
    fpn: { ...p.fpn, levels: 4, strides: [4, 8, 16, 32], note: 'the head\'s 3x3 convs with a bias and no BatchNorm (mmseg: SyncBN over 32 images)' },
    optim: { name: 'adamw', ...p.optim, warmupIterations: warmupIterations(p.optim), normAndBiasDecay: 0, schedule: 'poly (mmcv PolyLrUpdaterHook, per iteration) with linear warm-up' },
    backbone: p.finetuneBackbone
      ? `fine-tuned at lr x ${p.optim.backboneLrMult}; BatchNorm on its running statistics`
      : 'frozen for all three methods (official: fine-tuned at lr x 0.1): a fine-tuning step at batch 8 x 256 px costs 4.4-5.3 s of one WASM core, over the ~1 s the 45-minute budget allows',
    augmentation: `horizontal flip at ${p.flipProb} (mmseg RandomFlip); no resize-ratio jitter, crop or photometric distortion`,
    evaluation: "mmseg 0.19's mIoU and aAcc over the whole test split: intersection and union accumulated per class, classes absent from both prediction and labels left out of the mean; whole 256 px scenes, single scale, logits upsampled bilinearly (align_corners=False), argmax",
    allBackground: allBackgroundReference(quick),
    reproducibility: 'weights, batches, flips and the dropout masks (FPN head, context decoder: seeded tf.dropout, one stream per run seed) follow the seed: a run repeats bit for bit on the same backend',
  };
}

export interface DenseOptions {
  quick?: boolean;
  seeds?: number[];
  log?: (line: string) => void;
  onProgress?: ProgressCallback;
  /** Training iterations instead of the preset's (tests, demonstrations); recorded nowhere, so not for results. */
  iterations?: number;
}

/** The world-scenes splits a run uses, rendered once. */
function denseData(quick: boolean, preset: DenseClipPreset, log: (line: string) => void, testLimit = Infinity) {
  const ds = denseDataset(quick, preset.imageSize);
  const t0 = Date.now();
  const train = denseScenes(ds, 'train');
  const test = denseScenes(ds, 'test', testLimit);
  log(`world-scenes: ${train.length} train and ${test.length} test scenes rendered at ${preset.imageSize} px (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  return { ds, train, test };
}

export function runDense(model: ClipModel, tokenizer: ClipTokenizer, opts: DenseOptions = {}): ResultRow[] {
  const quick = opts.quick === true;
  const log = opts.log ?? (() => undefined);
  const preset = densePreset(quick);
  if (opts.iterations !== undefined) preset.optim.iterations = opts.iterations;
  const { ds, train, test } = denseData(quick, preset, log);
  const k = ds.classNames.length;
  const reference = allBackground(test, k);
  backgroundReference.set(`${quick ? 'quick' : 'full'}-${preset.imageSize}`, reference);
  log(`world-scenes: predicting background everywhere gives mIoU ${reference.miou.toFixed(1)}, pixel accuracy ${reference.pixelAccuracy.toFixed(1)}`);
  const rows: ResultRow[] = [];
  for (const seed of opts.seeds ?? [1]) {
    for (const method of DENSE_METHODS) {
      const t0 = Date.now();
      const { seg, owned } = buildDenseSegmenter(model, tokenizer, ds.classNames, ds.template, method, preset, seed);
      try {
        const losses = trainDenseSegmenter(seg, preset, train, seed, labelled(opts.onProgress, `world-scenes seed ${seed}, ${method}`));
        const r = evaluateDense(seg, test, preset.imageSize, k);
        rows.push({ method, dataset: 'world-scenes', split: 'test', metric: 'miou', seed, value: 100 * r.miou });
        rows.push({ method, dataset: 'world-scenes', split: 'test', metric: 'pixel-accuracy', seed, value: 100 * r.pixelAccuracy });
        const last = losses.slice(-10);
        log(`world-scenes, seed ${seed}, ${method} (${preset.optim.iterations} iterations, ${((Date.now() - t0) / 1000).toFixed(0)} s, train loss ${(last.reduce((a, b) => a + b, 0) / Math.max(1, last.length)).toFixed(3)}): mIoU ${(100 * r.miou).toFixed(1)}, pixel accuracy ${(100 * r.pixelAccuracy).toFixed(1)}`);
      } finally {
        seg.dispose();
        owned?.dispose();
      }
    }
  }
  return rows;
}

export interface DenseWalkthroughScene {
  /** The test item's index. */
  index: number;
  /** RGB pixels, imageSize x imageSize. */
  image: RawImage;
  /** Ground truth [H * W]: 0 background, 1 + shape index elsewhere. */
  labels: Uint8Array;
  /** The classes in the ground truth, ascending (background first). */
  present: number[];
  /**
   * Pixel-text cosine [K * H * W] (class-major), the score map upsampled bilinearly to the image:
   * `fixed` of the hand-crafted prompts (what fixed-prompts concatenates; the backbone is frozen, so
   * it never changes), `before` and `after` of DenseCLIP's refined text before and after training.
   */
  scoreMaps: { fixed: Float32Array; before: Float32Array; after: Float32Array };
  /** Each method's predicted class per pixel [H * W] after training. */
  predictions: Record<DenseMethod, Uint8Array>;
}

export interface DenseWalkthrough {
  classNames: string[];
  imageSize: number;
  /** The score map's side before upsampling (imageSize / 32). */
  scoreGrid: number;
  scenes: DenseWalkthroughScene[];
  /** Each method's mIoU and pixel accuracy (%) over the test split. */
  metrics: Record<DenseMethod, { miou: number; pixelAccuracy: number }>;
  /** Predicting background everywhere, on the same test split. */
  allBackground: { miou: number; pixelAccuracy: number };
  /** Each method's training loss per iteration. */
  losses: Record<DenseMethod, number[]>;
  quick: boolean;
  seed: number;
  iterations: number;
  preset: string;
}

/** Score maps [n, K, h, w] upsampled to [n, K, H, W], one Float32Array per scene. */
function upsampled(scoreMap: tf.Tensor4D, size: number): Float32Array[] {
  const [n, k] = scoreMap.shape;
  const data = tf.tidy(() => resizeBilinearNCHW(scoreMap, size, size).dataSync() as Float32Array);
  const per = k * size * size;
  return Array.from({ length: n }, (_, i) => data.slice(i * per, (i + 1) * per));
}

function scoreMapsOf(seg: DenseClipSegmenter, b: DenseBatch, size: number): Float32Array[] {
  const out = seg.forward(b.pixels);
  try {
    if (!out.scoreMap) throw new Error('dense: this segmenter has no score map');
    return upsampled(out.scoreMap, size);
  } finally {
    tf.dispose([out.logits, out.scoreMap as tf.Tensor]);
  }
}

/**
 * One seed of `repro dense` shown in detail, for notebook 03: the three methods trained once each,
 * and for the first `scenes` test scenes the image, its ground truth, the score maps of the
 * hand-crafted prompts and of DenseCLIP before and after training, and each method's prediction.
 */
export function runDenseWalkthrough(model: ClipModel, tokenizer: ClipTokenizer, opts: { quick?: boolean; seed?: number; iterations?: number; scenes?: number; onProgress?: ProgressCallback; log?: (line: string) => void } = {}): DenseWalkthrough {
  const quick = opts.quick === true;
  const seed = opts.seed ?? 1;
  const log = opts.log ?? (() => undefined);
  const preset = densePreset(quick);
  if (opts.iterations !== undefined) preset.optim.iterations = opts.iterations;
  const size = preset.imageSize;
  const { ds, train, test } = denseData(quick, preset, log);
  const k = ds.classNames.length;
  const shown = test.slice(0, opts.scenes ?? 4);
  const scenes: DenseWalkthroughScene[] = shown.map((s) => ({
    index: s.index,
    image: s.image,
    labels: s.labels,
    present: [...new Set(s.labels)].sort((a, b) => a - b),
    scoreMaps: { fixed: new Float32Array(0), before: new Float32Array(0), after: new Float32Array(0) },
    predictions: {} as Record<DenseMethod, Uint8Array>,
  }));
  const metrics = {} as DenseWalkthrough['metrics'];
  const losses = {} as DenseWalkthrough['losses'];
  const b = denseBatch(shown, size);
  try {
    for (const method of DENSE_METHODS) {
      const { seg, owned } = buildDenseSegmenter(model, tokenizer, ds.classNames, ds.template, method, preset, seed);
      try {
        if (method === 'fixed-prompts') scoreMapsOf(seg, b, size).forEach((m, i) => { scenes[i].scoreMaps.fixed = m; });
        if (method === 'denseclip') scoreMapsOf(seg, b, size).forEach((m, i) => { scenes[i].scoreMaps.before = m; });
        losses[method] = trainDenseSegmenter(seg, preset, train, seed, labelled(opts.onProgress, `world-scenes seed ${seed}, ${method}`));
        if (method === 'denseclip') scoreMapsOf(seg, b, size).forEach((m, i) => { scenes[i].scoreMaps.after = m; });
        const pred = seg.predict(b.pixels, size, size);
        scenes.forEach((s, i) => { s.predictions[method] = Uint8Array.from(pred.subarray(i * size * size, (i + 1) * size * size)); });
        const r = evaluateDense(seg, test, size, k);
        metrics[method] = { miou: 100 * r.miou, pixelAccuracy: 100 * r.pixelAccuracy };
        log(`world-scenes, seed ${seed}, ${method}: mIoU ${metrics[method].miou.toFixed(1)}, pixel accuracy ${metrics[method].pixelAccuracy.toFixed(1)}`);
      } finally {
        seg.dispose();
        owned?.dispose();
      }
    }
  } finally {
    b.pixels.dispose();
  }
  return {
    classNames: ds.classNames.slice(), imageSize: size, scoreGrid: size / 32, scenes, metrics, allBackground: allBackground(test, k), losses,
    quick, seed, iterations: preset.optim.iterations, preset: preset.name,
  };
}
