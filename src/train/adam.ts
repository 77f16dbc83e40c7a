// Adam as torch.optim.Adam computes it (the CSP optimiser): weight decay added to the gradient (L2,
// not decoupled), bias-corrected moments, eps added after the corrected square root.
import * as tf from '@tensorflow/tfjs';

export interface AdamConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAM_DEFAULTS: AdamConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

export class Adam {
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  readonly config: AdamConfig;
  /** Updates applied so far. */
  step = 0;

  constructor(readonly params: tf.Variable[], config: Partial<AdamConfig> = {}) {
    this.config = { ...ADAM_DEFAULTS, ...config };
    this.m = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
    this.v = tf.tidy(() => params.map((p) => tf.variable(tf.zerosLike(p), false)));
  }

  /** One update at learning rate `lr`; `grads` in the order of `params`. */
  apply(grads: tf.Tensor[], lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.config;
    this.step += 1;
    const c1 = 1 - beta1 ** this.step;
    const c2 = Math.sqrt(1 - beta2 ** this.step);
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = weightDecay > 0 ? tf.add(grads[i], tf.mul(p, weightDecay)) : grads[i];
        const m = tf.add(tf.mul(this.m[i], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const denom = tf.add(tf.div(tf.sqrt(v), c2), eps);
        p.assign(tf.sub(p, tf.mul(tf.div(m, denom), lr / c1)));
      });
    });
  }

  /** A copy of the state (step, then the first and the second moments of every parameter), for checkpoints. */
  state(): { step: number; buffers: (Float32Array | null)[] } {
    return { step: this.step, buffers: [...this.m, ...this.v].map((b) => (b.dataSync() as Float32Array).slice()) };
  }

  /** Restores a state from `state()`. */
  loadState(state: { step: number; buffers: (Float32Array | null)[] }): void {
    const all = [...this.m, ...this.v];
    if (state.buffers.length !== all.length) throw new Error(`Adam: state holds ${state.buffers.length} buffers for ${this.params.length} parameters (2 each)`);
    state.buffers.forEach((data, i) => {
      if (data === null || data.length !== all[i].size) throw new Error(`Adam: buffer ${i} is missing or holds ${data?.length} values for ${all[i].size}`);
    });
    tf.tidy(() => state.buffers.forEach((data, i) => all[i].assign(tf.tensor(data as Float32Array, all[i].shape, 'float32'))));
    this.step = state.step;
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}
