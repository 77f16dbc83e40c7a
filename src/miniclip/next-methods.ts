// What the frozen backbone knows that the next methods build on, measured for MiniCLIP's model card:
//   * CSP: zero-shot accuracy on world-czsl's test images over every closed-world pair ("a photo of a
//     red star."), on the seen and the unseen pairs;
//   * DenseCLIP: dense zero-shot segmentation on world-scenes in the manner of MaskCLIP (each
//     position's feature from the attention pool's value and output projections, against the class
//     names' text features, upsampled to the image), mIoU against predicting background everywhere;
//   * video prompting: CoOp's linear probe on world-motion clips, from the frames' mean feature (which
//     cannot tell a motion from its time reversal) and from the frames' features in order.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import { toClipInput } from '../clip/preprocess';
import type { RawImage } from '../clip/image';
import type { CompositionalDataset, SegmentationDataset, SplitName, VideoDataset } from '../data/dataset';
import { getWorldDataset } from '../data/world-benchmarks';
import { zeroshotWeights } from '../eval/features';
import { linearProbe } from '../eval/linear-probe';
import { l2normalize } from '../methods/method';

/** Image features [N, E] (the test transform, batches of 64), normalised or raw. */
function encode(model: ClipModel, images: RawImage[], normalize: boolean): tf.Tensor2D {
  const size = model.config.imageResolution;
  const parts: tf.Tensor2D[] = [];
  for (let s = 0; s < images.length; s += 64) {
    const batch = images.slice(s, s + 64);
    const data = new Float32Array(batch.length * 3 * size * size);
    batch.forEach((img, i) => data.set(toClipInput(img, { size }), i * 3 * size * size));
    parts.push(tf.tidy(() => {
      const f = model.encodeImage(tf.tensor4d(data, [batch.length, 3, size, size]));
      return normalize ? l2normalize(f) : f;
    }));
  }
  const out = tf.concat(parts, 0) as tf.Tensor2D;
  tf.dispose(parts);
  return out;
}

export interface CzslKnowledge {
  /** Closed-world candidates (every pair with images in some split). */
  pairs: number;
  seen: number;
  unseen: number;
}

/** Zero-shot accuracy (%) on the test images of seen and of unseen pairs, over every closed-world pair. */
export function czslZeroshot(model: ClipModel, tokenizer: ClipTokenizer, ds: CompositionalDataset): CzslKnowledge {
  const items = ds.split('test');
  const names = ds.pairs.map(([a, o]) => `${a} ${o}`);
  const index = new Map(names.map((n, i) => [n, i]));
  const seen = new Set(ds.trainPairs.map(([a, o]) => `${a} ${o}`));
  const f = encode(model, items.map((it) => ds.image(it, 'test')), true);
  const w = zeroshotWeights(model, tokenizer, names, [ds.template]);
  const pred = tf.tidy(() => tf.argMax(tf.matMul(f, w, false, true), 1).dataSync());
  tf.dispose([f, w]);
  const acc = { seen: [0, 0], unseen: [0, 0] };
  items.forEach((it, i) => {
    const name = `${ds.attrs[it.attr]} ${ds.objs[it.obj]}`;
    const k = seen.has(name) ? acc.seen : acc.unseen;
    k[1]++;
    if (pred[i] === index.get(name)) k[0]++;
  });
  return { pairs: names.length, seen: (100 * acc.seen[0]) / Math.max(1, acc.seen[1]), unseen: (100 * acc.unseen[0]) / Math.max(1, acc.unseen[1]) };
}

export interface DenseKnowledge {
  /** The dense map's size at the dataset's image size. */
  grid: [number, number];
  miou: number;
  /** mIoU of predicting background everywhere. */
  backgroundBaseline: number;
  /** Pixel accuracy, and the background's share of the pixels. */
  pixelAccuracy: number;
  backgroundShare: number;
}

/** mIoU (%) over the classes present in the labels or the predictions, from a K x K confusion matrix (rows: truth). */
export function meanIoU(confusion: Float64Array, k: number): number {
  let sum = 0;
  let n = 0;
  for (let c = 0; c < k; c++) {
    let row = 0;
    let col = 0;
    for (let j = 0; j < k; j++) {
      row += confusion[c * k + j];
      col += confusion[j * k + c];
    }
    const union = row + col - confusion[c * k + c];
    if (union > 0) {
      sum += confusion[c * k + c] / union;
      n++;
    }
  }
  return n ? (100 * sum) / n : 0;
}

/** MaskCLIP-style dense zero-shot segmentation of the test split. */
export function denseZeroshot(model: ClipModel, tokenizer: ClipTokenizer, ds: SegmentationDataset): DenseKnowledge {
  const k = ds.classNames.length;
  const items = ds.split('test');
  const size = ds.imageSize;
  const w = zeroshotWeights(model, tokenizer, ds.classNames, [ds.template]); // [K, E]
  const confusion = new Float64Array(k * k);
  const background = new Float64Array(k * k);
  let grid: [number, number] = [0, 0];
  try {
    for (let s = 0; s < items.length; s += 16) {
      const batch = items.slice(s, s + 16).map((it) => ds.example(it, 'test'));
      const data = new Float32Array(batch.length * 3 * size * size);
      batch.forEach((ex, i) => data.set(toClipInput(ex.image, { size }), i * 3 * size * size));
      const pred = tf.tidy(() => {
        const dense = l2normalize(model.denseFeatures(tf.tensor4d(data, [batch.length, 3, size, size]))); // [B, h, w, E]
        grid = [dense.shape[1], dense.shape[2]];
        const scores = tf.matMul(dense.reshape([-1, dense.shape[3]]), w, false, true).reshape([batch.length, dense.shape[1], dense.shape[2], k]);
        const up = tf.image.resizeBilinear(scores as tf.Tensor4D, [size, size], false, true);
        return tf.argMax(up, 3).dataSync();
      });
      batch.forEach((ex, i) => {
        for (let p = 0; p < size * size; p++) {
          const t = ex.labels[p];
          confusion[t * k + pred[i * size * size + p]]++;
          background[t * k]++;
        }
      });
    }
  } finally {
    w.dispose();
  }
  let correct = 0;
  let total = 0;
  for (let t = 0; t < k; t++) {
    correct += confusion[t * k + t];
    for (let j = 0; j < k; j++) total += confusion[t * k + j];
  }
  return { grid, miou: meanIoU(confusion, k), backgroundBaseline: meanIoU(background, k), pixelAccuracy: (100 * correct) / total, backgroundShare: (100 * background[0]) / total };
}

export interface MotionKnowledge {
  classes: number;
  chance: number;
  /** CoOp's linear probe (%) on the frames' mean feature, and on the frames' features in order. */
  meanFrames: number;
  framesInOrder: number;
}

/** Linear probes of world-motion clips from the frozen frame features. */
export function motionProbe(model: ClipModel, ds: VideoDataset): MotionKnowledge {
  const features = (split: SplitName) => {
    const items = ds.split(split);
    const frames = items.flatMap((it) => ds.frames(it, split));
    const f = encode(model, frames, false); // [N * T, E]
    const t = ds.numFrames;
    const e = f.shape[1];
    const seq = f.reshape([items.length, t, e]);
    const out = { mean: tf.mean(seq, 1) as tf.Tensor2D, order: seq.reshape([items.length, t * e]) as tf.Tensor2D, labels: items.map((it) => it.label) };
    tf.dispose([f, seq]);
    return out;
  };
  const [train, val, test] = (['train', 'val', 'test'] as const).map(features);
  try {
    const probe = (which: 'mean' | 'order') => 100 * linearProbe({ features: train[which], labels: train.labels }, { features: val[which], labels: val.labels }, { features: test[which], labels: test.labels }).testAccuracy;
    return { classes: ds.classNames.length, chance: 100 / ds.classNames.length, meanFrames: probe('mean'), framesInOrder: probe('order') };
  } finally {
    for (const s of [train, val, test]) tf.dispose([s.mean, s.order]);
  }
}

export interface NextMethodsKnowledge {
  czsl: CzslKnowledge;
  dense: DenseKnowledge;
  motion: MotionKnowledge;
}

/** The three measurements on world-czsl, world-scenes and world-motion (quick: their small variants). */
export function measureNextMethods(model: ClipModel, tokenizer: ClipTokenizer, opts: { quick?: boolean; log?: (s: string) => void } = {}): NextMethodsKnowledge {
  const quick = opts.quick === true;
  const czsl = czslZeroshot(model, tokenizer, getWorldDataset('world-czsl', { quick }) as CompositionalDataset);
  opts.log?.(`world-czsl: zero-shot over ${czsl.pairs} closed-world pairs: seen ${czsl.seen.toFixed(1)}%, unseen ${czsl.unseen.toFixed(1)}%`);
  const dense = denseZeroshot(model, tokenizer, getWorldDataset('world-scenes', { quick }) as SegmentationDataset);
  opts.log?.(`world-scenes: dense zero-shot mIoU ${dense.miou.toFixed(1)} (all-background ${dense.backgroundBaseline.toFixed(1)}), ${dense.grid.join(' x ')} grid`);
  const motion = motionProbe(model, getWorldDataset('world-motion', { quick }) as VideoDataset);
  opts.log?.(`world-motion: linear probe on the mean frame ${motion.meanFrames.toFixed(1)}%, on the frames in order ${motion.framesInOrder.toFixed(1)}% (chance ${motion.chance.toFixed(1)}%)`);
  return { czsl, dense, motion };
}
