// The linear probe baseline: multinomial logistic regression on frozen (normalised) image
// features, L2 strength chosen on the validation split (as CLIP's and CoOp's linear probes).
import * as tf from '@tensorflow/tfjs';
import { accuracy, Features } from './features';

export interface LinearProbeResult {
  lambda: number;        // the chosen L2 strength
  valAccuracy: number;
  testAccuracy: number;
  sweep: { lambda: number; valAccuracy: number }[];
}

export const PROBE_LAMBDAS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1];

/** Trains W [E, K], b [K] by full-batch Adam on the mean cross-entropy + lambda * ||W||^2. */
export function fitLogistic(train: Features, numClasses: number, lambda: number, steps = 300, lr = 0.05): { w: tf.Tensor2D; b: tf.Tensor1D } {
  const dim = train.features.shape[1];
  const w = tf.variable(tf.zeros([dim, numClasses]));
  const b = tf.variable(tf.zeros([numClasses]));
  const opt = tf.train.adam(lr);
  const y = tf.oneHot(tf.tensor1d(train.labels, 'int32'), numClasses);
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      opt.minimize(() => {
        const logits = tf.add(tf.matMul(train.features, w), b);
        return tf.add(tf.losses.softmaxCrossEntropy(y, logits), tf.mul(lambda, tf.sum(tf.square(w)))) as tf.Scalar;
      }, false, [w, b]);
    });
  }
  y.dispose();
  opt.dispose();
  const out = { w: tf.clone(w) as tf.Tensor2D, b: tf.clone(b) as tf.Tensor1D };
  tf.dispose([w, b]);
  return out;
}

function scoreOf(m: { w: tf.Tensor2D; b: tf.Tensor1D }, f: Features): number {
  const logits = tf.tidy(() => tf.add(tf.matMul(f.features, m.w), m.b) as tf.Tensor2D);
  const acc = accuracy(logits, f.labels);
  logits.dispose();
  return acc;
}

/** Sweeps lambda on val, then reports the chosen model's test accuracy. */
export function linearProbe(train: Features, val: Features, test: Features, numClasses: number, lambdas = PROBE_LAMBDAS): LinearProbeResult {
  const sweep: { lambda: number; valAccuracy: number }[] = [];
  let best = { lambda: lambdas[0], valAccuracy: -1 };
  for (const lambda of lambdas) {
    const m = fitLogistic(train, numClasses, lambda);
    const valAccuracy = scoreOf(m, val);
    tf.dispose([m.w, m.b]);
    sweep.push({ lambda, valAccuracy });
    if (valAccuracy > best.valAccuracy) best = { lambda, valAccuracy };
  }
  const m = fitLogistic(train, numClasses, best.lambda);
  const testAccuracy = scoreOf(m, test);
  tf.dispose([m.w, m.b]);
  return { lambda: best.lambda, valAccuracy: best.valAccuracy, testAccuracy, sweep };
}
