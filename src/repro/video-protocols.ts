// The evaluation protocols of video prompting (Ju et al., ECCV 2022; methods.md 5.5) beyond the
// closed set, as `promptlab repro video --protocol` runs them on world-motion:
//
//   fewshot   all-way k-shot: k training clips of every class (k = 2, 4, 8, 16, the paper's table;
//             the repo's split lists, datasplits/.../split_{0..9}.list, are k videos per class drawn
//             at random, one list per split), tested on the whole test split over all classes.
//   zeroshot  train on some classes, test on classes held out of training (the repo's open-set list
//             pairs: K-700's train.list of 400 classes and a disjoint test.list of 300): the model
//             scores only the held-out class names at test time, which it never saw in training.
//
// and the official multi-crop evaluation (src/val.py, --valEnsemble): each test video scored on
// several random temporal crops, the softmax probabilities averaged.
import * as tf from '@tensorflow/tfjs';
import { officialFrameIndices } from '../data/video/datasets';
import type { VideoPreset } from '../methods/video/presets';
import { streamFor, type Rng } from '../random';
import type { MotionName } from '../world';
import { REVERSED_OF } from '../world/video';

export const VIDEO_PROTOCOLS = ['closed', 'fewshot', 'zeroshot'] as const;
export type VideoProtocol = (typeof VIDEO_PROTOCOLS)[number];

/** A protocol's name checked, or an error naming the valid ones. */
export function checkVideoProtocol(name: string): VideoProtocol {
  if (!(VIDEO_PROTOCOLS as readonly string[]).includes(name)) {
    throw new Error(`video: unknown protocol "${name}" (valid: ${VIDEO_PROTOCOLS.join(', ')}; closed is the default)`);
  }
  return name as VideoProtocol;
}

/** The paper's shot counts (all-way few-shot: K = 2, 4, 8, 16 clips per class). */
export const VIDEO_SHOTS: readonly number[] = [2, 4, 8, 16];

/** The shot counts a run measures: the paper's four; the quick split has 8 train clips per class, so 2, 4, 8. */
export function videoShots(quick: boolean): number[] {
  return quick ? [2, 4, 8] : [...VIDEO_SHOTS];
}

/** k clips of every class of a train split, as drawn for one (seed, k). */
export interface VideoFewShot {
  k: number;
  seed: number;
  /** Indices into the train split, class by class (labels ascending), each class's in draw order. */
  indices: number[];
}

/**
 * k train clips of every class, without repetition: one stream per (dataset, seed, k), so a draw
 * never depends on which other k or seeds a run measures or in what order; within it, classes in
 * label order, each a partial Fisher-Yates shuffle of its clips. A class with fewer than k clips is
 * an error (the paper's few-shot lists have exactly k videos of every class).
 */
export function sampleVideoFewShot(labels: readonly number[], k: number, seed: number, opts: { dataset: string; classNames: readonly string[] }): VideoFewShot {
  const { dataset, classNames } = opts;
  if (!Number.isSafeInteger(k) || k < 1) throw new Error(`${dataset}: k (clips per class) must be a positive integer, got ${k}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`${dataset}: the few-shot seed must be an integer, got ${seed}`);
  const byClass: number[][] = classNames.map(() => []);
  labels.forEach((y, i) => {
    if (!Number.isInteger(y) || y < 0 || y >= classNames.length) throw new Error(`${dataset}: train clip ${i} has label ${y}, not a class index (valid: 0..${classNames.length - 1})`);
    byClass[y].push(i);
  });
  const short = byClass.map((c, y) => ({ y, n: c.length })).filter((c) => c.n < k);
  if (short.length) {
    const say = short.map((c) => `"${classNames[c.y]}" has ${c.n}`).join(', ');
    throw new Error(`${dataset}: k = ${k} clips per class is more than the train split holds (${say}; valid: k <= ${Math.min(...byClass.map((c) => c.length))})`);
  }
  const rng = streamFor(seed, 'video-fewshot', dataset, k);
  const indices: number[] = [];
  for (const pool of byClass) {
    const p = pool.slice();
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(p.length - i);
      [p[i], p[j]] = [p[j], p[i]];
      indices.push(p[i]);
    }
  }
  return { k, seed, indices };
}

/**
 * The zero-shot protocol's fixed class split of world-motion, half the motions each way as the
 * repo's 50/50 open-set splits. Time-reversal pairs are kept together: a held-out paired motion is
 * then scored against its own reversal, which a model blind to frame order cannot tell from it, so
 * the protocol shows whether the temporal model's sense of order carries over to motion names it
 * never trained on (split apart, the reversal would be no candidate at test time, and the mean of
 * the frames would lose nothing there). Each side has one translation pair, one other pair and one
 * motion without a reversal; held out are a direction of translation the trained one does not
 * cover (up / down against left / right), a kind of motion never trained (rotation) and a change
 * of appearance (colour).
 */
export const MOTION_CLASS_SPLIT: { seen: readonly MotionName[]; heldOut: readonly MotionName[] } = {
  seen: ['move-left', 'move-right', 'grow', 'shrink', 'bounce'],
  heldOut: ['move-up', 'move-down', 'rotate-cw', 'rotate-ccw', 'change-color'],
};

/** Label indices of the split's seen and held-out motions in `motions` (a dataset's label order), checked to partition them with every reversal pair on one side. */
export function motionClassSplit(motions: readonly MotionName[], split = MOTION_CLASS_SPLIT): { seen: number[]; heldOut: number[] } {
  const index = (m: MotionName) => {
    const i = motions.indexOf(m);
    if (i < 0) throw new Error(`video zero-shot split: motion "${m}" is not a class of the dataset (classes: ${motions.join(', ')})`);
    return i;
  };
  const seen = split.seen.map(index);
  const heldOut = split.heldOut.map(index);
  const all = new Set([...seen, ...heldOut]);
  if (all.size !== seen.length + heldOut.length || all.size !== motions.length) {
    throw new Error(`video zero-shot split: seen [${split.seen.join(', ')}] and held out [${split.heldOut.join(', ')}] must split the ${motions.length} motions (${motions.join(', ')}) into two disjoint sets`);
  }
  for (const [a, b] of Object.entries(REVERSED_OF) as [MotionName, MotionName][]) {
    if (split.seen.includes(a) !== split.seen.includes(b)) throw new Error(`video zero-shot split: the time reversals ${a} and ${b} must be on the same side`);
  }
  return { seen, heldOut };
}

/**
 * Training iterations for n training clips: as many passes over each clip as the preset makes over
 * its own training set (nPreset clips: world-motion's train split), i.e. round(epochs * n / batch)
 * with epochs = iterations * batchSize / nPreset and batch = min(batchSize, n), at least 1. A small
 * few-shot set is then trained as often per clip as the closed-set run, and costs in proportion to
 * its size; keeping the closed run's 1,100 iterations would pass over 20 clips (k = 2) 1,100 times.
 */
export function scaledIterations(preset: VideoPreset, nPreset: number, n: number): number {
  if (!(nPreset > 0) || !(n > 0)) throw new Error(`scaledIterations: training sets of ${nPreset} and ${n} clips`);
  const epochs = (preset.optim.iterations * preset.optim.batchSize) / nPreset;
  return Math.max(1, Math.round((epochs * n) / Math.min(preset.optim.batchSize, n)));
}

/**
 * The official multi-crop evaluation (src/val.py with --valEnsemble V): every clip scored on V
 * temporal crops drawn as the training loader draws them (officialFrameIndices: a random rate,
 * offset and window of numFrames; clips of at most numFrames frames are kept whole, the shorter
 * padded with their last frame), the softmax of each crop's logits averaged: probabilities [N, K].
 * `score` maps [N, numFrames, E] frame features to logits [N, K]; `frames` is [N, T_clip, E].
 */
export function valEnsembleProbs(score: (frames: tf.Tensor3D) => tf.Tensor2D, frames: tf.Tensor3D, numFrames: number, views: number, rng: Rng): tf.Tensor2D {
  if (!Number.isSafeInteger(views) || views < 1) throw new Error(`valEnsemble: the number of crops per clip must be a positive integer, got ${views}`);
  const [n, t, e] = frames.shape;
  return tf.tidy(() => {
    const flat = tf.reshape(frames, [n * t, e]);
    let sum: tf.Tensor2D | null = null;
    for (let v = 0; v < views; v++) {
      const rows: number[] = [];
      for (let i = 0; i < n; i++) for (const f of officialFrameIndices(t, numFrames, rng)) rows.push(i * t + f);
      const crop = tf.reshape(tf.gather(flat, tf.tensor1d(rows, 'int32')), [n, numFrames, e]) as tf.Tensor3D;
      const p = tf.softmax(score(crop));                // [N, K]
      sum = sum ? (tf.add(sum, p) as tf.Tensor2D) : p;
    }
    return tf.div(sum as tf.Tensor2D, views) as tf.Tensor2D;
  });
}
