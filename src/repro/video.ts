// promptlab repro video: video prompting (Ju et al.) on world-motion, whose paired classes are time
// reversals of each other (moving left / right, up / down, growing / shrinking, the two rotations).
// Three methods over the same frozen per-frame features [N, T, E] (computed once, cached on disk):
//   zeroshot     the mean of the frames against the hand-crafted prompt "a video of a shape {}."
//   prompt       learned prefix + postfix vectors around the class name, mean of the frames
//                (the official --temporal 0)
//   videoprompt  the same prompts and the temporal transformer over the frames (--temporal 1)
// Metrics on the test split: top-1 accuracy, top-5 accuracy, and reversal-confusion: of the test
// clips whose motion has a time reversal, the share predicted as that reversal (what a model blind to
// frame order cannot avoid).
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

export const VIDEO_METHODS = ['zeroshot', 'prompt', 'videoprompt'] as const;

/** The world preset; quick runs train a fifth of the iterations on the quick split. */
export function videoPreset(quick: boolean): VideoPreset {
  const p = getVideoPreset('world');
  if (quick) p.optim.iterations = Math.round(p.optim.iterations / 5);
  return p;
}

export function videoConfig(quick: boolean) {
  const p = videoPreset(quick);
  return {
    preset: p.name,
    source: p.source,
    videoprompt: { ...p.config, optim: p.optim },
    prompt: { ...p.config, temporal: false, optim: p.optim },
    zeroshot: 'the mean of the frame features against "a video of a shape {}." (cosine), as the paper\'s zero-shot baseline',
    features: 'frozen per-frame image features (MiniCLIP encodeImage, not normalised) of every clip, computed once and cached on disk keyed by model and data checksums',
    sampling: 'every world clip has exactly numFrames frames: no temporal resampling in training or test (valEnsemble 1)',
    reversalConfusion: 'of the test clips whose motion has a time reversal, the share predicted as that reversal (%)',
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

export interface VideoOptions {
  quick?: boolean;
  seeds?: number[];
  log?: (line: string) => void;
  onProgress?: ProgressCallback;
  /** Frame-feature cache folder (default: the user cache); null keeps them in memory only. */
  cacheDir?: string | null;
  /** Training iterations instead of the preset's (tests, demonstrations); recorded nowhere, so not for results. */
  iterations?: number;
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

/** Test logits [Nte, K] of one method: zero-shot, or prompts trained (with or without the temporal transformer) for one seed. */
function methodLogits(model: ClipModel, tokenizer: ClipTokenizer, d: VideoData, preset: VideoPreset, method: (typeof VIDEO_METHODS)[number], seed: number, onProgress?: ProgressCallback): { logits: tf.Tensor2D; loss: number } {
  if (method === 'zeroshot') {
    // the frames' mean against the hand-crafted prompt
    const logits = tf.tidy(() => {
      const text = zeroshotWeights(model, tokenizer, d.ds.classNames, [d.ds.template]);  // [K, E]
      return tf.matMul(l2normalize(tf.mean(d.test, 1) as tf.Tensor2D), text, false, true) as tf.Tensor2D;
    });
    return { logits, loss: NaN };
  }
  const m = new VideoPrompt(model, tokenizer, d.ds.classNames, { ...preset.config, temporal: method === 'videoprompt', seed });
  try {
    const loss = trainVideoPrompt(m, preset, d.train, d.trainLabels, seed, labelled(onProgress, `world-motion seed ${seed}, ${method}`));
    return { logits: tf.tidy(() => m.logits(d.test)), loss };
  } finally {
    m.dispose();
  }
}

export function runVideo(model: ClipModel, tokenizer: ClipTokenizer, opts: VideoOptions = {}): ResultRow[] {
  const quick = opts.quick === true;
  const log = opts.log ?? (() => undefined);
  const preset = videoPreset(quick);
  if (opts.iterations !== undefined) preset.optim.iterations = opts.iterations;
  const d = videoData(model, quick, opts.cacheDir, log);
  const rows: ResultRow[] = [];
  const push = (method: string, seed: number, r: ReturnType<typeof videoMetrics>) => {
    for (const [metric, value] of [['accuracy', r.accuracy], ['top5', r.top5], ['reversal-confusion', r.reversalConfusion]] as const) {
      rows.push({ method, dataset: 'world-motion', split: 'test', metric, seed, value });
    }
  };
  try {
    const zs = methodLogits(model, tokenizer, d, preset, 'zeroshot', 0);
    const zr = videoMetrics(zs.logits, d.testLabels, d.reversalOf);
    zs.logits.dispose();
    log(`world-motion: zero-shot top-1 ${zr.accuracy.toFixed(1)}%, top-5 ${zr.top5.toFixed(1)}%, reversal confusion ${zr.reversalConfusion.toFixed(1)}%`);
    for (const seed of opts.seeds ?? [1]) {
      push('zeroshot', seed, zr);
      for (const method of ['prompt', 'videoprompt'] as const) {
        const t0 = Date.now();
        const { logits, loss } = methodLogits(model, tokenizer, d, preset, method, seed, opts.onProgress);
        const r = videoMetrics(logits, d.testLabels, d.reversalOf);
        logits.dispose();
        push(method, seed, r);
        log(`world-motion, seed ${seed}, ${method} (${preset.optim.iterations} iterations, ${((Date.now() - t0) / 1000).toFixed(0)} s, train loss ${loss.toFixed(3)}): top-1 ${r.accuracy.toFixed(1)}%, top-5 ${r.top5.toFixed(1)}%, reversal confusion ${r.reversalConfusion.toFixed(1)}%`);
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
  predictions: Record<(typeof VIDEO_METHODS)[number], number[]>;
  metrics: Record<(typeof VIDEO_METHODS)[number], ReturnType<typeof videoMetrics>>;
  quick: boolean;
  seed: number;
  iterations: number;
}

/** The three methods of `repro video` for one seed, with every test clip's prediction (for confusion matrices). */
export function runVideoWalkthrough(model: ClipModel, tokenizer: ClipTokenizer, opts: { quick?: boolean; seed?: number; iterations?: number; cacheDir?: string | null; onProgress?: ProgressCallback; log?: (line: string) => void } = {}): VideoWalkthrough {
  const quick = opts.quick === true;
  const seed = opts.seed ?? 1;
  const preset = videoPreset(quick);
  if (opts.iterations !== undefined) preset.optim.iterations = opts.iterations;
  const d = videoData(model, quick, opts.cacheDir, opts.log ?? (() => undefined));
  try {
    const predictions = {} as VideoWalkthrough['predictions'];
    const metrics = {} as VideoWalkthrough['metrics'];
    for (const method of VIDEO_METHODS) {
      const { logits } = methodLogits(model, tokenizer, d, preset, method, seed, opts.onProgress);
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
