// AdamW as PyTorch's torch.optim.AdamW computes it (decoupled weight decay applied before the
// Adam update, bias-corrected moments), with its state exposed so checkpoints resume exactly.
import * as tf from '@tensorflow/tfjs';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.2 }; // CLIP's values

export interface AdamWParam {
  key: string;
  variable: tf.Variable;
  /** Decoupled weight decay applies to this parameter (CLIP: matrices yes; gains, biases, embeddings, logit scale no). */
  decay: boolean;
  /** This parameter's learning rate is lr x lrMult (mmcv's paramwise lr_mult; default 1). */
  lrMult?: number;
}

export class AdamW {
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  /** Number of updates applied so far. */
  step = 0;

  constructor(readonly params: AdamWParam[], readonly config: AdamWConfig = ADAMW_DEFAULTS) {
    this.m = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p.variable), false)));
    this.v = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p.variable), false)));
  }

  /** One update with learning rate `lr`; `grads` in the order of `params`. */
  apply(grads: tf.Tensor[], lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.config;
    this.step += 1;
    const c1 = 1 - beta1 ** this.step;
    const c2 = 1 - beta2 ** this.step;
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const rate = lr * (p.lrMult ?? 1);
        const decayed = p.decay && weightDecay > 0 ? tf.mul(p.variable, 1 - rate * weightDecay) : p.variable;
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        p.variable.assign(tf.sub(decayed, tf.mul(update, rate)));
      });
    });
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

/** Linear warm-up from 0 to `peak` over `warmup` steps, then cosine to 0 at `total` (step is 0-based). */
export function warmupCosine(step: number, peak: number, warmup: number, total: number): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return 0.5 * peak * (1 + Math.cos(Math.PI * progress));
}

/** CLIP's rule for which parameters get weight decay: matrices and conv filters, not gains,
 * biases, norms, embeddings, positional embeddings or the logit scale. */
export function decays(key: string, rank: number): boolean {
  if (rank < 2) return false;
  return !/(embedding|positional|class_embedding|logit_scale|ln_|bn\d|downsample\.1)/.test(key);
}
