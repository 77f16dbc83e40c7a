// The interface every prompt-learning method implements. Methods see the frozen CLIP only through
// its public API (encodeImage, tokenEmbeddings, encodeTokenEmbeddings) and own nothing but their
// trainable variables.
import * as tf from '@tensorflow/tfjs';

export interface ImageInput {
  /** Normalised image features [B, E] (precomputed from the frozen image tower), or ... */
  features?: tf.Tensor2D;
  /** ... pixel_values NCHW [B, 3, R, R], encoded here. */
  pixels?: tf.Tensor4D;
}

export interface PromptMethod {
  readonly name: string;
  /** The class names the logits are over (in label order). */
  readonly classNames: readonly string[];
  /** Only these variables train; the backbone stays frozen. */
  trainableVariables(): tf.Variable[];
  /** Class logits [B, K] = exp(logit_scale) * cos(image, text). */
  logits(input: ImageInput): tf.Tensor2D;
  /** Rebuilds the class-dependent buffers for another class list (base -> new), keeping what was learned. */
  setClassNames(names: readonly string[]): void;
  dispose(): void;
}

/** L2-normalises the rows of x. */
export function l2normalize<T extends tf.Tensor>(x: T): T {
  return tf.div(x, tf.norm(x, 2, -1, true)) as T;
}

/** Mean cross-entropy of logits [B, K] against integer labels. */
export function crossEntropy(logits: tf.Tensor2D, labels: ArrayLike<number>): tf.Scalar {
  return tf.tidy(() => {
    const y = tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), logits.shape[1]);
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  });
}
