// Frozen CLIP features for evaluation: normalised image features of a dataset split, and
// zero-shot classifier weights from class names and prompt templates (CLIP's ensembling).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import { toClipInput } from '../clip/preprocess';
import type { RawImage } from '../clip/image';
import { fillTemplate } from '../data/dataset';

export interface Features {
  features: tf.Tensor2D; // [N, E], L2-normalised (unless asked for raw)
  labels: Int32Array;    // [N]
}

/**
 * Encodes images (the test transform) in batches and L2-normalises the features (`normalize: false`:
 * the image encoder's raw output, as CoOp's linear probe reads it). `onBatch` reports progress.
 */
export function encodeImages(
  model: ClipModel,
  count: number,
  image: (i: number) => RawImage,
  label: (i: number) => number,
  opts: { batchSize?: number; normalize?: boolean; onBatch?: (done: number, total: number) => void } = {},
): Features {
  const size = model.config.imageResolution;
  const per = 3 * size * size;
  const batchSize = opts.batchSize ?? 128;
  const labels = new Int32Array(count);
  const parts: tf.Tensor2D[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const data = new Float32Array(n * per);
    for (let b = 0; b < n; b++) {
      data.set(toClipInput(image(start + b), { size }), b * per);
      labels[start + b] = label(start + b);
    }
    parts.push(tf.tidy(() => {
      const f = model.encodeImage(tf.tensor4d(data, [n, 3, size, size]));
      return opts.normalize === false ? f : (tf.div(f, tf.norm(f, 2, -1, true)) as tf.Tensor2D);
    }));
    opts.onBatch?.(start + n, count);
  }
  const features = tf.concat(parts, 0) as tf.Tensor2D;
  tf.dispose(parts);
  return { features, labels };
}

/**
 * Zero-shot classifier [K, E]: for each class, the normalised text features of every template,
 * averaged and normalised again (CLIP's prompt ensembling; one template = no ensembling).
 */
export function zeroshotWeights(model: ClipModel, tokenizer: ClipTokenizer, classNames: string[], templates: string[]): tf.Tensor2D {
  return tf.tidy(() => {
    const perTemplate = templates.map((t) => {
      const batch = tokenizer.tokenize(classNames.map((c) => fillTemplate(t, c)), { contextLength: model.config.contextLength });
      const f = model.encodeText(batch);
      return tf.div(f, tf.norm(f, 2, -1, true));
    });
    const mean = tf.mean(tf.stack(perTemplate), 0);
    return tf.div(mean, tf.norm(mean, 2, -1, true)) as tf.Tensor2D;
  });
}

/** Zero-shot top-1 accuracy (in [0, 1]) of normalised image features [N, E] with the classifier of `templates`. */
export function zeroshotAccuracyOf(model: ClipModel, tokenizer: ClipTokenizer, features: tf.Tensor2D, labels: Int32Array, classNames: string[], templates: string[]): number {
  return tf.tidy(() => accuracy(tf.matMul(features, zeroshotWeights(model, tokenizer, classNames, templates), false, true) as tf.Tensor2D, labels));
}

/** Top-1 accuracy (in [0, 1]) of scores [N, K] against labels. */
export function accuracy(scores: tf.Tensor2D, labels: Int32Array): number {
  const pred = tf.tidy(() => tf.argMax(scores, 1).dataSync() as Int32Array);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) correct++;
  return labels.length ? correct / labels.length : 0;
}
