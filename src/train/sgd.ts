// SGD as torch.optim.SGD computes it (the optimiser of CoOp and CoCoOp through Dassl, methods.md 1.3):
// weight decay COUPLED (added to the gradient), momentum with dampening, optional Nesterov:
//
//   d = g + wd * p
//   buf = d                                  on a parameter's first step (no dampening then)
//   buf = momentum * buf + (1 - dampening) * d   afterwards
//   d = nesterov ? d + momentum * buf : buf
//   p = p - lr * d
//
// A parameter whose gradient is missing in a step is skipped entirely (no decay, no momentum), as
// PyTorch skips parameters whose .grad is None. The momentum buffers are exposed (and can be
// exported and restored) so checkpoints resume exactly.
import * as tf from '@tensorflow/tfjs';

export interface SgdConfig {
  momentum: number;
  weightDecay: number;
  dampening: number;
  nesterov: boolean;
}

/** Dassl's defaults (OPTIM.MOMENTUM 0.9, WEIGHT_DECAY 5e-4, SGD_DAMPNING 0, SGD_NESTEROV False). */
export const SGD_DEFAULTS: SgdConfig = { momentum: 0.9, weightDecay: 5e-4, dampening: 0, nesterov: false };

/** The optimiser's state as plain arrays: momentum buffers by parameter index (null: not created yet). */
export interface SgdState {
  step: number;
  buffers: (Float32Array | null)[];
}

export class SGD {
  readonly config: SgdConfig;
  /** Momentum buffers by parameter index; null until the parameter's first update (or with momentum 0). */
  readonly buffers: (tf.Variable | null)[];
  /** Number of updates applied so far. */
  step = 0;

  constructor(readonly params: readonly tf.Variable[], config: Partial<SgdConfig> = {}) {
    this.config = { ...SGD_DEFAULTS, ...config };
    const { momentum, dampening, nesterov, weightDecay } = this.config;
    if (!(momentum >= 0) || !(weightDecay >= 0) || !Number.isFinite(dampening)) {
      throw new Error(`SGD: invalid momentum ${momentum}, weight decay ${weightDecay} or dampening ${dampening}`);
    }
    if (nesterov && (momentum <= 0 || dampening !== 0)) throw new Error('SGD: Nesterov momentum requires a momentum and zero dampening');
    this.buffers = params.map(() => null);
  }

  /** One update with learning rate `lr`; `grads` in the order of `params` (null/undefined: no gradient). */
  apply(grads: readonly (tf.Tensor | null | undefined)[], lr: number): void {
    if (grads.length !== this.params.length) throw new Error(`SGD: ${grads.length} gradients for ${this.params.length} parameters`);
    const { momentum, weightDecay, dampening, nesterov } = this.config;
    this.step += 1;
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const g = grads[i];
        if (g == null) return;
        let d: tf.Tensor = weightDecay !== 0 ? tf.add(g, tf.mul(p, weightDecay)) : g;
        if (momentum !== 0) {
          const old = this.buffers[i];
          if (old === null) {
            this.buffers[i] = tf.variable(d, false); // variables outlive the tidy
          } else {
            old.assign(tf.add(tf.mul(old, momentum), dampening !== 0 ? tf.mul(d, 1 - dampening) : d));
          }
          const buf = this.buffers[i] as tf.Variable;
          d = nesterov ? tf.add(d, tf.mul(buf, momentum)) : buf;
        }
        p.assign(tf.sub(p, tf.mul(d, lr)));
      });
    });
  }

  /** A copy of the state (step and momentum buffers), for checkpoints. */
  state(): SgdState {
    return { step: this.step, buffers: this.buffers.map((b) => (b ? (b.dataSync() as Float32Array).slice() : null)) };
  }

  /** Restores a state from `state()` (shapes must match the parameters). */
  loadState(state: SgdState): void {
    if (state.buffers.length !== this.params.length) throw new Error(`SGD: state holds ${state.buffers.length} buffers for ${this.params.length} parameters`);
    state.buffers.forEach((data, i) => {
      const p = this.params[i];
      if (data !== null && data.length !== p.size) throw new Error(`SGD: buffer ${i} holds ${data.length} values for a parameter of ${p.size}`);
    });
    state.buffers.forEach((data, i) => {
      const old = this.buffers[i];
      if (data === null) {
        old?.dispose();
        this.buffers[i] = null;
        return;
      }
      const t = tf.tensor(data, this.params[i].shape, 'float32');
      if (old) old.assign(t);
      else this.buffers[i] = tf.variable(t, false);
      t.dispose();
    });
    this.step = state.step;
  }

  dispose(): void {
    this.buffers.forEach((b, i) => {
      b?.dispose();
      this.buffers[i] = null;
    });
  }
}
