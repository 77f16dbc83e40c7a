// CLIP's pretraining objective: symmetric InfoNCE over a batch of image-caption pairs, with a
// learned temperature (logit_scale, clamped at ln 100 as CLIP does).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel, TextInput } from '../clip/model';

export const MAX_LOGIT_SCALE = Math.log(100);

/** Mean of the image->text and text->image cross-entropies; pair i matches caption i. */
export function infoNceLoss(model: ClipModel, pixels: tf.Tensor4D, text: TextInput): tf.Scalar {
  const img = model.encodeImage(pixels);                                    // [B, E]
  const txt = model.encodeText(text);                                       // [B, E]
  return infoNceFromFeatures(tf.div(img, tf.norm(img, 2, -1, true)), tf.div(txt, tf.norm(txt, 2, -1, true)), model.logitScaleParam);
}

/** The same loss from L2-normalised image and text features [B, E] and the logit-scale parameter. */
export function infoNceFromFeatures(imgN: tf.Tensor2D, txtN: tf.Tensor2D, logitScale: tf.Tensor): tf.Scalar {
  const scale = tf.exp(tf.minimum(logitScale, MAX_LOGIT_SCALE));
  const logits = tf.mul(tf.matMul(imgN, tf.transpose(txtN)), scale);       // [B, B]
  const b = logits.shape[0];
  const labels = tf.oneHot(tf.range(0, b, 1, 'int32'), b);
  const i2t = tf.losses.softmaxCrossEntropy(labels, logits);
  const t2i = tf.losses.softmaxCrossEntropy(labels, tf.transpose(logits));
  return tf.div(tf.add(i2t, t2i), 2) as tf.Scalar;
}

/** Fraction of images whose own caption scores highest, and the reverse. */
export function batchRetrieval(model: ClipModel, pixels: tf.Tensor4D, text: TextInput): { i2t: number; t2i: number } {
  return tf.tidy(() => {
    const l = model.logits(pixels, text);
    const b = pixels.shape[0];
    const target = tf.range(0, b, 1, 'int32');
    const i2t = tf.mean(tf.cast(tf.equal(tf.argMax(l.logitsPerImage, 1), target), 'float32')).dataSync()[0];
    const t2i = tf.mean(tf.cast(tf.equal(tf.argMax(l.logitsPerImage, 0), target), 'float32')).dataSync()[0];
    return { i2t, t2i };
  });
}
