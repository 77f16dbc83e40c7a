// Gradient checkpointing for a tower whose weights train (MiniCLIP pretraining). Through tfjs's
// autodiff every op of a residual block or bottleneck keeps its inputs on the tape until the backward
// reaches it. Here a part of a block (a transformer block's attention half or MLP half, the ResNet
// stem, a bottleneck) is ONE taped op: its forward runs untaped (a custom gradient's forward is not
// recorded), keeping only its input; its backward runs the same part again under a tape of its own
// and backpropagates dy through it with the freeing backward (backprop.ts), so only one part's
// activations and gradients are alive at a time.
//
// The values are bitwise those of the plain graph: the forward is the same ops on the same inputs
// (deterministic kernels), and the inner backward is tfjs's backprop (backprop.ts) over the same ops in the same
// order, so every gradient is summed in the same order as before (a block's input gets all of its
// contributions inside the block; a weight is used once). test/unit/recompute.test.ts holds that.
import * as tf from '@tensorflow/tfjs';
import { gradientsFreeing } from './backprop';
import { attentionHalf, isTrainable, mlpHalf, type ResidualBlock } from './ops';

/** Every tf.Tensor reachable from `o` (a block's parameter record), in a fixed order. */
export function tensorsOf(o: unknown, out: tf.Tensor[] = []): tf.Tensor[] {
  if (o instanceof tf.Tensor) out.push(o);
  else if (Array.isArray(o)) for (const v of o) tensorsOf(v, out);
  else if (o && typeof o === 'object') for (const v of Object.values(o)) tensorsOf(v, out);
  return out;
}

let enabled = false;

/**
 * Turns checkpointing on or off (off by default: it costs a third more time per step) and returns the
 * previous setting. `promptlab pretrain --recompute` turns it on for a run.
 */
export function useRecompute(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/**
 * y = f(x, false, consts) under a tape, holding only x (and `consts`, tensors f reads that are not
 * weights, such as a mask, which may be disposed before the backward) for the backward, which
 * recomputes f(x, true, consts): the flag lets f skip side effects such as recording BatchNorm
 * statistics a second time. `params` must hold every trainable tensor f reads (tensorsOf(block); the
 * frozen ones are dropped); `inputGrad = false` when x needs no gradient (pixels). Outside a tape, or
 * with nothing trainable, it is f(x, false, consts).
 */
export function recompute<T extends tf.Tensor>(
  f: (x: T, again: boolean, consts: tf.Tensor[]) => T, x: T, params: tf.Tensor[], consts: tf.Tensor[] = [], inputGrad = true,
): T {
  if (!enabled || !tf.engine().isTapeOn()) return f(x, false, consts); // inference: no work on the hot path
  const trainable = params.filter(isTrainable);
  if (trainable.length === 0) return f(x, false, consts);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save([args[0] as T, ...consts]);
    return {
      value: f(args[0] as T, false, consts),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const input = saved[0] as T;
        const wrt = inputGrad ? [input, ...trainable] : trainable;
        const grads = gradInsideBackward(() => {
          const { value, grads } = gradientsFreeing(() => f(input, true, saved.slice(1)), wrt, dy as tf.Tensor);
          value.dispose();
          return grads;
        });
        const out = grads.map((g, i) => g ?? tf.zerosLike(wrt[i]));
        return inputGrad ? out : [tf.zerosLike(input), ...out];
      },
    };
  });
  return op(x, ...trainable) as T;
}

/**
 * Runs a gradient computation from inside a custom gradient's backward pass. tfjs keeps one active
 * tape: a first-order gradient started there would replace the outer backward's tape and, when done,
 * free it. The outer tape is set aside for the inner computation (which then behaves as a top-level
 * one, freeing only what it saved) and restored after it. Relies on tfjs' engine state (4.x); the
 * checkpointing tests fail if that changes.
 */
export function gradInsideBackward<T>(f: () => T): T {
  const state = tf.engine().state;
  const outer = state.activeTape;
  state.activeTape = null as unknown as typeof outer;
  try {
    return f();
  } finally {
    state.activeTape = outer;
  }
}

/**
 * A transformer block, checkpointed in its two halves when its weights train under a tape and
 * checkpointing is on, so the backward holds one half's activations and gradients at a time;
 * elsewhere the plain block.
 */
export function checkpointedBlock(x: tf.Tensor3D, p: ResidualBlock, mask?: tf.Tensor2D): tf.Tensor3D {
  const consts = mask ? [mask] : [];
  const x1 = recompute((h, _, [m]) => attentionHalf(h, p, m as tf.Tensor2D | undefined), x, tensorsOf([p.ln1, p.attn]), consts);
  return recompute((h) => mlpHalf(h, p), x1, tensorsOf([p.ln2, p.fc, p.proj]));
}
