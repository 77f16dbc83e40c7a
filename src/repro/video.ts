// promptlab repro video: video prompting (Ju et al.) on world-motion, whose paired classes are time
// reversals of each other (moving left / right, up / down, growing / shrinking, the two rotations).
// Three methods over the same frozen per-frame features [N, T, E] (computed once, cached on disk):
//   zeroshot     the mean of the frames against the hand-crafted prompt "a video of a shape {}."
//   prompt       learned prefix + postfix vectors around the class name, mean of the frames
//                (the official --temporal 0)
//   videoprompt  the same prompts and the temporal transformer over the frames (--temporal 1)
// Protocols (--protocol; video-protocols.ts says how each follows the paper and the official code):
//   closed    (the default) train on the train split, test on the test split over all 10 motions:
//             top-1 accuracy, top-5 accuracy, and reversal-confusion: of the test clips whose motion
//             has a time reversal, the share predicted as that reversal (what a model blind to frame
//             order cannot avoid). --val-ensemble V scores each test clip on V temporal crops and
//             averages their softmax, as the official val.py (default 1). World clips have exactly
//             numFrames frames, and the official sampler keeps such a clip whole, so on the world
//             every crop is the clip itself: V crops give the scores of one, at V times the cost
//             (it changes the numbers only for clips longer than numFrames, as real videos are).
//   fewshot   all-way k-shot, k = 2, 4, 8, 16 clips of every motion (2, 4, 8 in quick runs: the
//             quick split has 8 per motion), drawn per (seed, k); the whole test split over all
//             motions; metrics accuracy@k, top5@k, reversal-confusion@k (zero-shot: @0).
//   zeroshot  train on 5 motions, test on the 5 held out (MOTION_CLASS_SPLIT: each time-reversal
//             pair on one side), each model scoring only the held-out names: split "new", metrics
//             accuracy and reversal-confusion; split "base": the trained motions' test clips among
//             the trained motions.
// Few-shot and zero-shot training sets are smaller than the train split: they train for as many
// passes over each clip as the closed preset does (scaledIterations), recorded in results.json.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { VideoItem } from '../data/dataset';
import { FrameFeatures } from '../data/frame-features';
import { getWorldDataset } from '../data/world-benchmarks';
import type { WorldMotionDataset } from '../data/world-motion';
import { zeroshotWeights } from '../eval/features';
import { l2normalize } from '../methods/method';
import { getVideoPreset, type VideoPreset } from '../methods/video/presets';
import { VideoPrompt, videoLr, videoOptimizer, videoTrainStep } from '../methods/video/video-prompt';
import { streamFor } from '../random';
import { labelled, type ProgressCallback } from '../train/progress';
import { REVERSED_OF } from '../world/video';
import type { ResultRow } from './record';
import { checkVideoProtocol, MOTION_CLASS_SPLIT, motionClassSplit, sampleVideoFewShot, scaledIterations, valEnsembleProbs, videoShots, type VideoProtocol } from './video-protocols';

export { VIDEO_PROTOCOLS, type VideoProtocol } from './video-protocols';

export const VIDEO_METHODS = ['zeroshot', 'prompt', 'videoprompt'] as const;
type VideoMethod = (typeof VIDEO_METHODS)[number];

/** The world preset; quick runs train a fifth of the iterations on the quick split. */
export function videoPreset(quick: boolean): VideoPreset {
  const p = getVideoPreset('world');
  if (quick) p.optim.iterations = Math.round(p.optim.iterations / 5);
  return p;
}

/** A run's protocol and its options, checked. */
export interface VideoRun {
  protocol: VideoProtocol;
  /** Crops per test clip whose softmax is averaged (the official --valEnsemble); 1: the clip as it is. */
  valEnsemble: number;
  /** fewshot: clips per class, in the order measured. */
  shots?: number[];
}

/** Checks a run's protocol options before anything runs; errors name the option and what is valid. */
export function checkVideoRun(opts: { protocol?: string; valEnsemble?: number; shots?: readonly number[] }, quick: boolean): VideoRun {
  const protocol = checkVideoProtocol(opts.protocol ?? 'closed');
  const v = opts.valEnsemble;
  if (v !== undefined) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`video: valEnsemble (crops per test clip) must be a positive integer, got ${v}`);
    if (protocol !== 'closed' && v !== 1) throw new Error(`video: valEnsemble is an option of the closed protocol (the official evaluation), not of the ${protocol} protocol`);
  }
  let shots: number[] | undefined;
  if (protocol === 'fewshot') {
    shots = [...(opts.shots ?? videoShots(quick))];
    if (shots.length === 0) throw new Error(`video: no shot counts given (the few-shot protocol's: ${videoShots(quick).join(', ')})`);
    const bad = shots.filter((k) => !Number.isSafeInteger(k) || k < 1);
    if (bad.length) throw new Error(`video: shot counts must be positive integers (clips per class), got ${bad.join(', ')}`);
    if (new Set(shots).size !== shots.length) throw new Error(`video: a shot count is given twice in ${shots.join(', ')}`);
  } else if (opts.shots !== undefined) {
    throw new Error(`video: shots (clips per class) are an option of the fewshot protocol, not of the ${protocol} protocol`);
  }
  return { protocol, valEnsemble: v ?? videoPreset(quick).valEnsemble, ...(shots ? { shots } : {}) };
}

/** The protocol and crops of a recorded run's config (runs that record none: the closed protocol, one crop). */
export function videoRunOf(config: Record<string, unknown>): { protocol: VideoProtocol; valEnsemble: number } {
  return { protocol: checkVideoProtocol(typeof config.protocol === 'string' ? config.protocol : 'closed'), valEnsemble: typeof config.valEnsemble === 'number' ? config.valEnsemble : 1 };
}

const ITERATION_RULE = 'as many passes over each training clip as the closed preset makes over the train split: round(epochs * n / min(batchSize, n)) iterations for n clips, epochs = optim.iterations * optim.batchSize / (train split clips); the official few-shot and zero-shot training code was never released (methods.md 5.7), and keeping the closed run\'s iterations would pass over the 20 clips of k = 2 five times as often as the closed run over its own';

/** The training iterations of n clips (the preset's when n is the whole train split). */
function iterationsFor(preset: VideoPreset, ds: WorldMotionDataset, n: number): number {
  return scaledIterations(preset, ds.perClass.train * ds.classNames.length, n);
}

export function videoConfig(quick: boolean, opts: { protocol?: string; valEnsemble?: number; shots?: readonly number[] } = {}): Record<string, unknown> {
  const p = videoPreset(quick);
  const run = checkVideoRun(opts, quick);
  const base = {
    preset: p.name,
    source: p.source,
    videoprompt: { ...p.config, optim: p.optim },
    prompt: { ...p.config, temporal: false, optim: p.optim },
    zeroshot: 'the mean of the frame features against "a video of a shape {}." (cosine), as the paper\'s zero-shot baseline',
    features: 'frozen per-frame image features (MiniCLIP encodeImage, not normalised) of every clip, computed once and cached on disk keyed by model and data checksums',
    sampling: 'every world clip has exactly numFrames frames: no temporal resampling in training or test (valEnsemble 1)',
    reversalConfusion: 'of the test clips whose motion has a time reversal, the share predicted as that reversal (%)',
  };
  if (run.protocol === 'closed' && run.valEnsemble === 1) return base; // exactly what runs before the protocols recorded (results/video/full)
  const ds = getWorldDataset('world-motion', { quick }) as WorldMotionDataset;
  if (run.protocol === 'closed') {
    return {
      ...base, protocol: run.protocol, valEnsemble: run.valEnsemble,
      sampling: `valEnsemble ${run.valEnsemble}: each test clip scored on ${run.valEnsemble} temporal crops drawn as the official loader draws them (officialFrameIndices), their softmax averaged (src/val.py); world clips have exactly numFrames frames, which the official sampler keeps whole, so every crop is the clip itself and the scores are those of one crop. Training: no temporal resampling`,
    };
  }
  if (run.protocol === 'fewshot') {
    const shots = run.shots as number[];
    return {
      ...base, protocol: run.protocol, shots,
      fewshot: 'all-way: k train clips of every motion, drawn without repetition from one stream per (seed, k) (sampleVideoFewShot), tested on the whole test split over all motions; metric@k (zero-shot CLIP: @0)',
      iterations: Object.fromEntries(shots.map((k) => [k, iterationsFor(p, ds, k * ds.classNames.length)])),
      iterationRule: ITERATION_RULE,
    };
  }
  const { seen, heldOut } = motionClassSplit(ds.motions);
  return {
    ...base, protocol: run.protocol,
    classSplit: {
      seen: seen.map((i) => ds.classNames[i]), heldOut: heldOut.map((i) => ds.classNames[i]),
      rule: 'fixed (MOTION_CLASS_SPLIT), half the motions each way; every time-reversal pair on one side, so each held-out paired motion is scored against its own reversal',
    },
    zeroshotProtocol: 'prompts trained on the seen motions\' train clips, then scoring only the held-out names: split "new" = held-out motions\' test clips among the held-out motions, "base" = seen motions\' test clips among the seen motions',
    iterations: iterationsFor(p, ds, ds.perClass.train * MOTION_CLASS_SPLIT.seen.length),
    iterationRule: ITERATION_RULE,
  };
}

/** Top-1 and top-5 accuracy (%) and the reversal confusion (%) of logits [N, K]. */
export function videoMetrics(logits: tf.Tensor2D, labels: readonly number[], reversalOf: readonly (number | null)[]): { accuracy: number; top5: number; reversalConfusion: number } {
  const [n, k] = logits.shape;
  const scores = logits.dataSync();
  let top1 = 0;
  let top5 = 0;
  let paired = 0;
  let confused = 0;
  for (let i = 0; i < n; i++) {
    const row = scores.subarray(i * k, (i + 1) * k);
    const y = labels[i];
    // rank of the true class: classes scoring strictly higher, ties broken by index as argmax does
    let rank = 0;
    let best = 0;
    for (let j = 0; j < k; j++) {
      if (row[j] > row[y] || (row[j] === row[y] && j < y)) rank++;
      if (row[j] > row[best]) best = j;
    }
    if (rank === 0) top1++;
    if (rank < 5) top5++;
    const r = reversalOf[y];
    if (r !== null) {
      paired++;
      if (best === r) confused++;
    }
  }
  return { accuracy: (100 * top1) / n, top5: (100 * top5) / n, reversalConfusion: paired ? (100 * confused) / paired : 0 };
}

/** What each evaluation of a run scored (tests; a notebook's inspection). */
export interface VideoEvaluation {
  method: VideoMethod;
  seed: number;
  /** fewshot: clips per class; else null. */
  k: number | null;
  split: string;
  /** The class names the model trained with (its class list when training ended); null for zero-shot CLIP. */
  trainedOn: string[] | null;
  /** The distinct class names of its training clips; null for zero-shot CLIP. */
  trainClipClasses: string[] | null;
  /** The class names scored, in the logits' column order. */
  scored: string[];
  /** The scores' shape [N, K]: logits, or averaged probabilities with valEnsemble > 1. */
  shape: number[];
}

export interface VideoOptions {
  quick?: boolean;
  seeds?: number[];
  log?: (line: string) => void;
  onProgress?: ProgressCallback;
  /** Frame-feature cache folder (default: the user cache); null keeps them in memory only. */
  cacheDir?: string | null;
  /** Training iterations instead of the preset's (tests, demonstrations); recorded nowhere, so not for results. */
  iterations?: number;
  /** closed (default), fewshot, zeroshot (held-out motions); see the header. */
  protocol?: string;
  /** closed: crops per test clip, softmax averaged (the official --valEnsemble; default the preset's, 1). */
  valEnsemble?: number;
  /** fewshot: clips per class (default: videoShots(quick)). */
  shots?: readonly number[];
  /** Called once per evaluation with what was trained on and scored. */
  onEvaluated?: (e: VideoEvaluation) => void;
}

/** Trains one prompt model on the train clips for the preset's iterations (batches of the preset's size, the last incomplete one dropped). */
export function trainVideoPrompt(m: VideoPrompt, preset: VideoPreset, frames: tf.Tensor3D, labels: readonly number[], seed: number, onProgress?: ProgressCallback): number {
  const opt = videoOptimizer(m);
  const rng = streamFor(seed, 'video-prompt-batches');
  const n = labels.length;
  const batch = Math.min(preset.optim.batchSize, n);
  const perEpoch = Math.floor(n / batch);
  const total = preset.optim.iterations;
  let order: number[] = [];
  let loss = NaN;
  const t0 = Date.now();
  try {
    for (let it = 1; it <= total; it++) {
      const step = (it - 1) % perEpoch;
      if (step === 0) order = rng.shuffled(Array.from({ length: n }, (_, i) => i));
      const idx = order.slice(step * batch, (step + 1) * batch);
      const x = tf.tidy(() => tf.gather(frames, tf.tensor1d(idx, 'int32')) as tf.Tensor3D);
      try {
        loss = videoTrainStep(m, opt, x, idx.map((i) => labels[i]), videoLr(it, preset.optim.lr, preset.optim.t0, preset.optim.etaMinFactor)).loss;
      } finally {
        x.dispose();
      }
      const epochs = Math.ceil(total / perEpoch);
      const elapsed = (Date.now() - t0) / 1000;
      const lr = videoLr(it, preset.optim.lr, preset.optim.t0, preset.optim.etaMinFactor);
      onProgress?.({ epoch: Math.floor((it - 1) / perEpoch) + 1, epochs, step: step + 1, steps: perEpoch, loss, accuracy: NaN, lr, stepsPerSecond: it / Math.max(elapsed, 1e-9), etaSeconds: ((total - it) * elapsed) / it, epochDone: step === perEpoch - 1 || it === total });
    }
  } finally {
    opt.dispose();
  }
  return loss;
}

/** The test split's frozen features and labels, and each class's time reversal (null: none). */
interface VideoData {
  ds: WorldMotionDataset;
  feats: FrameFeatures<VideoItem>;
  train: tf.Tensor3D;         // [Ntr, T, E]
  test: tf.Tensor3D;          // [Nte, T, E]
  trainLabels: number[];
  testLabels: number[];
  reversalOf: (number | null)[];
}

function videoData(model: ClipModel, quick: boolean, cacheDir: string | null | undefined, log: (line: string) => void): VideoData {
  const ds = getWorldDataset('world-motion', { quick }) as WorldMotionDataset;
  const feats = new FrameFeatures<VideoItem>(model, ds, { cacheDir, log });
  const reversalOf = ds.motions.map((m) => {
    const r = REVERSED_OF[m] ?? (Object.entries(REVERSED_OF).find(([, v]) => v === m)?.[0] as typeof m | undefined);
    return r === undefined ? null : ds.motions.indexOf(r);
  });
  return {
    ds, feats, reversalOf,
    train: feats.raw('train'), test: feats.raw('test'),
    trainLabels: ds.split('train').map((it) => it.label), testLabels: ds.split('test').map((it) => it.label),
  };
}

/** Clips to train on or score: frame features [N, T, E], labels into classNames, each class's reversal among them (null: none). */
interface ClipSet {
  frames: tf.Tensor3D;
  labels: number[];
  classNames: string[];
  reversalOf: (number | null)[];
}

/** The clips of `classes` (label indices of d's classes), relabelled 0..classes-1 in that order; frames a new tensor. */
function classSubset(d: VideoData, split: 'train' | 'test', classes: readonly number[]): ClipSet {
  const labels = split === 'train' ? d.trainLabels : d.testLabels;
  const idx = labels.map((y, i) => (classes.includes(y) ? i : -1)).filter((i) => i >= 0);
  const frames = tf.tidy(() => tf.gather(split === 'train' ? d.train : d.test, tf.tensor1d(idx, 'int32')) as tf.Tensor3D);
  return {
    frames,
    labels: idx.map((i) => classes.indexOf(labels[i])),
    classNames: classes.map((c) => d.ds.classNames[c]),
    reversalOf: classes.map((c) => {
      const r = d.reversalOf[c];
      return r === null || !classes.includes(r) ? null : classes.indexOf(r);
    }),
  };
}

/** The whole split over all classes (frames not copied: the caller must not dispose them). */
function wholeSplit(d: VideoData, split: 'train' | 'test'): ClipSet {
  return split === 'train'
    ? { frames: d.train, labels: d.trainLabels, classNames: [...d.ds.classNames], reversalOf: d.reversalOf }
    : { frames: d.test, labels: d.testLabels, classNames: [...d.ds.classNames], reversalOf: d.reversalOf };
}

interface ScoreContext {
  preset: VideoPreset;
  valEnsemble: number;
  onProgress?: ProgressCallback;
  onEvaluated?: (e: VideoEvaluation) => void;
  /** For progress lines and the evaluation hook. */
  label: string;
  k: number | null;
  splits: string[];
}

/**
 * Scores [N, K] of one method on each test set: zero-shot CLIP (seed unused), or prompts trained on
 * `train` for `iterations` (with or without the temporal transformer) for one seed, their class
 * names switched to each test set's. Logits, or with valEnsemble > 1 the crops' averaged softmax.
 */
function methodScores(model: ClipModel, tokenizer: ClipTokenizer, template: string, method: VideoMethod, seed: number, train: (ClipSet & { iterations: number }) | null, tests: ClipSet[], ctx: ScoreContext): { scores: tf.Tensor2D[]; loss: number } {
  const { preset, valEnsemble } = ctx;
  const numFrames = preset.config.numFrames;
  const report = (i: number, trainedOn: string[] | null, trainClipClasses: string[] | null, s: tf.Tensor2D) => ctx.onEvaluated?.({
    method, seed, k: ctx.k, split: ctx.splits[i], trainedOn, trainClipClasses, scored: [...tests[i].classNames], shape: [...s.shape],
  });
  if (method === 'zeroshot') {
    const scores = tests.map((t, i) => {
      const s = tf.tidy(() => {
        const text = zeroshotWeights(model, tokenizer, t.classNames, [template]);  // [K, E]
        // the frames' mean against the hand-crafted prompt: cosines, and for the softmax of crops CLIP's logit scale
        const cosines = (x: tf.Tensor3D) => tf.matMul(l2normalize(tf.mean(x, 1) as tf.Tensor2D), text, false, true) as tf.Tensor2D;
        if (valEnsemble === 1) return cosines(t.frames);
        const scale = Math.exp(model.logitScale);
        return valEnsembleProbs((x) => tf.mul(cosines(x), scale) as tf.Tensor2D, t.frames, numFrames, valEnsemble, streamFor(seed, 'video-val-ensemble', method));
      });
      report(i, null, null, s);
      return s;
    });
    return { scores, loss: NaN };
  }
  if (!train) throw new Error(`video: ${method} needs training clips`);
  const m = new VideoPrompt(model, tokenizer, train.classNames, { ...ctx.preset.config, temporal: method === 'videoprompt', seed });
  try {
    const loss = trainVideoPrompt(m, { ...preset, optim: { ...preset.optim, iterations: train.iterations } }, train.frames, train.labels, seed, labelled(ctx.onProgress, `${ctx.label}, ${method}`));
    const trainedOn = [...m.classNames];
    const trainClipClasses = [...new Set(train.labels)].sort((a, b) => a - b).map((y) => train.classNames[y]);
    const scores: tf.Tensor2D[] = [];
    try {
      tests.forEach((t, i) => {
        if (JSON.stringify(t.classNames) !== JSON.stringify(m.classNames)) m.setClassNames(t.classNames);
        const s = valEnsemble === 1
          ? tf.tidy(() => m.logits(t.frames))
          : valEnsembleProbs((x) => m.logits(x), t.frames, numFrames, valEnsemble, streamFor(seed, 'video-val-ensemble', method));
        scores.push(s);
        report(i, trainedOn, trainClipClasses, s);
      });
    } catch (err) {
      tf.dispose(scores);
      throw err;
    }
    return { scores, loss };
  } finally {
    m.dispose();
  }
}

const say = (r: ReturnType<typeof videoMetrics>, top5 = true) => `top-1 ${r.accuracy.toFixed(1)}%${top5 ? `, top-5 ${r.top5.toFixed(1)}%` : ''}, reversal confusion ${r.reversalConfusion.toFixed(1)}%`;

/** Scores one method on its test sets, then their metrics (the scores disposed). */
function methodMetrics(model: ClipModel, tokenizer: ClipTokenizer, d: VideoData, method: VideoMethod, seed: number, train: (ClipSet & { iterations: number }) | null, tests: ClipSet[], ctx: ScoreContext): { metrics: ReturnType<typeof videoMetrics>[]; loss: number } {
  const { scores, loss } = methodScores(model, tokenizer, d.ds.template, method, seed, train, tests, ctx);
  try {
    return { metrics: scores.map((s, i) => videoMetrics(s, tests[i].labels, tests[i].reversalOf)), loss };
  } finally {
    tf.dispose(scores);
  }
}

export function runVideo(model: ClipModel, tokenizer: ClipTokenizer, opts: VideoOptions = {}): ResultRow[] {
  const quick = opts.quick === true;
  const log = opts.log ?? (() => undefined);
  const run = checkVideoRun(opts, quick);
  const preset = videoPreset(quick);
  if (opts.iterations !== undefined) preset.optim.iterations = opts.iterations;
  const d = videoData(model, quick, opts.cacheDir, log);
  const rows: ResultRow[] = [];
  const push = (method: string, split: string, seed: number, r: ReturnType<typeof videoMetrics>, suffix = '', top5 = true) => {
    const metrics: [string, number][] = [['accuracy', r.accuracy], ...(top5 ? [['top5', r.top5] as [string, number]] : []), ['reversal-confusion', r.reversalConfusion]];
    for (const [metric, value] of metrics) rows.push({ method, dataset: d.ds.name, split, metric: `${metric}${suffix}`, seed, value });
  };
  const ctx = (label: string, k: number | null, splits: string[]): ScoreContext => ({ preset, valEnsemble: run.valEnsemble, onProgress: opts.onProgress, onEvaluated: opts.onEvaluated, label, k, splits });
  const seeds = opts.seeds ?? [1];
  try {
    if (run.protocol === 'closed') {
      const test = wholeSplit(d, 'test');
      const train = { ...wholeSplit(d, 'train'), iterations: preset.optim.iterations };
      const [zr] = methodMetrics(model, tokenizer, d, 'zeroshot', 0, null, [test], ctx('world-motion', null, ['test'])).metrics;
      log(`world-motion: zero-shot ${say(zr)}${run.valEnsemble > 1 ? ` (${run.valEnsemble} crops per clip)` : ''}`);
      for (const seed of seeds) {
        push('zeroshot', 'test', seed, zr);
        for (const method of ['prompt', 'videoprompt'] as const) {
          const t0 = Date.now();
          const { metrics: [r], loss } = methodMetrics(model, tokenizer, d, method, seed, train, [test], ctx(`world-motion seed ${seed}`, null, ['test']));
          push(method, 'test', seed, r);
          log(`world-motion, seed ${seed}, ${method} (${preset.optim.iterations} iterations, ${((Date.now() - t0) / 1000).toFixed(0)} s, train loss ${loss.toFixed(3)}): ${say(r)}`);
        }
      }
    } else if (run.protocol === 'fewshot') {
      const shots = run.shots as number[];
      const names = [...d.ds.classNames];
      const draw = (k: number, seed: number) => sampleVideoFewShot(d.trainLabels, k, seed, { dataset: d.ds.name, classNames: names });
      for (const seed of seeds) for (const k of shots) draw(k, seed);  // every k checked against the split before any training
      const test = wholeSplit(d, 'test');
      const [zr] = methodMetrics(model, tokenizer, d, 'zeroshot', 0, null, [test], ctx('world-motion', 0, ['test'])).metrics;
      log(`world-motion: zero-shot (no clips) ${say(zr)}`);
      for (const seed of seeds) {
        push('zeroshot', 'test', seed, zr, '@0');
        for (const k of shots) {
          const shot = draw(k, seed);
          const frames = tf.tidy(() => tf.gather(d.train, tf.tensor1d(shot.indices, 'int32')) as tf.Tensor3D);
          try {
            const train = { frames, labels: shot.indices.map((i) => d.trainLabels[i]), classNames: names, reversalOf: d.reversalOf, iterations: opts.iterations ?? iterationsFor(preset, d.ds, shot.indices.length) };
            for (const method of ['prompt', 'videoprompt'] as const) {
              const t0 = Date.now();
              const { metrics: [r], loss } = methodMetrics(model, tokenizer, d, method, seed, train, [test], ctx(`world-motion seed ${seed}, ${k} clips per class`, k, ['test']));
              push(method, 'test', seed, r, `@${k}`);
              log(`world-motion, seed ${seed}, ${k} clips per class, ${method} (${train.iterations} iterations, ${((Date.now() - t0) / 1000).toFixed(0)} s, train loss ${loss.toFixed(3)}): ${say(r)}`);
            }
          } finally {
            frames.dispose();
          }
        }
      }
    } else {
      const { seen, heldOut } = motionClassSplit(d.ds.motions);
      const sets = [classSubset(d, 'train', seen), classSubset(d, 'test', seen), classSubset(d, 'test', heldOut)];
      try {
        const [trainSet, base, novel] = sets;
        const train = { ...trainSet, iterations: opts.iterations ?? iterationsFor(preset, d.ds, trainSet.labels.length) };
        const splits = ['base', 'new'];
        log(`world-motion: training on ${train.classNames.join(', ')}; held out: ${novel.classNames.join(', ')}`);
        const zs = methodMetrics(model, tokenizer, d, 'zeroshot', 0, null, [base, novel], ctx('world-motion', null, splits)).metrics;
        log(`world-motion: zero-shot, seen motions ${say(zs[0], false)}; held-out motions ${say(zs[1], false)}`);
        for (const seed of seeds) {
          splits.forEach((split, i) => push('zeroshot', split, seed, zs[i], '', false));
          for (const method of ['prompt', 'videoprompt'] as const) {
            const t0 = Date.now();
            const { metrics, loss } = methodMetrics(model, tokenizer, d, method, seed, train, [base, novel], ctx(`world-motion seed ${seed}, seen motions`, null, splits));
            splits.forEach((split, i) => push(method, split, seed, metrics[i], '', false));
            log(`world-motion, seed ${seed}, ${method} (${train.iterations} iterations on the seen motions, ${((Date.now() - t0) / 1000).toFixed(0)} s, train loss ${loss.toFixed(3)}): seen ${say(metrics[0], false)}; held out ${say(metrics[1], false)}`);
          }
        }
      } finally {
        tf.dispose(sets.map((s) => s.frames));
      }
    }
  } finally {
    d.feats.dispose();
  }
  return rows;
}

export interface VideoWalkthrough {
  classNames: string[];
  /** Each class's time reversal (an index into classNames), null for a motion without one. */
  reversalOf: (number | null)[];
  /** The test clips' labels and each method's predicted class. */
  labels: number[];
  predictions: Record<VideoMethod, number[]>;
  metrics: Record<VideoMethod, ReturnType<typeof videoMetrics>>;
  quick: boolean;
  seed: number;
  iterations: number;
}

/** The three methods of `repro video` (closed protocol) for one seed, with every test clip's prediction (for confusion matrices). */
export function runVideoWalkthrough(model: ClipModel, tokenizer: ClipTokenizer, opts: { quick?: boolean; seed?: number; iterations?: number; cacheDir?: string | null; onProgress?: ProgressCallback; log?: (line: string) => void } = {}): VideoWalkthrough {
  const quick = opts.quick === true;
  const seed = opts.seed ?? 1;
  const preset = videoPreset(quick);
  if (opts.iterations !== undefined) preset.optim.iterations = opts.iterations;
  const d = videoData(model, quick, opts.cacheDir, opts.log ?? (() => undefined));
  try {
    const predictions = {} as VideoWalkthrough['predictions'];
    const metrics = {} as VideoWalkthrough['metrics'];
    const test = wholeSplit(d, 'test');
    const train = { ...wholeSplit(d, 'train'), iterations: preset.optim.iterations };
    for (const method of VIDEO_METHODS) {
      const { scores: [logits] } = methodScores(model, tokenizer, d.ds.template, method, seed, train, [test], { preset, valEnsemble: 1, onProgress: opts.onProgress, label: `world-motion seed ${seed}`, k: null, splits: ['test'] });
      const best = tf.argMax(logits, 1);
      predictions[method] = Array.from(best.dataSync());
      best.dispose();
      metrics[method] = videoMetrics(logits, d.testLabels, d.reversalOf);
      logits.dispose();
    }
    return { classNames: [...d.ds.classNames], reversalOf: d.reversalOf, labels: d.testLabels, predictions, metrics, quick, seed, iterations: preset.optim.iterations };
  } finally {
    d.feats.dispose();
  }
}
