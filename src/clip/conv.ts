// conv2d for training on every backend. WASM has no kernel for the filter gradient
// (Conv2DBackpropFilter), so a trainable filter gets a custom gradient: the filter gradient as
// one matMul per kernel offset (exact), the input gradient from tfjs's Conv2DBackpropInput.
// A 1x1 convolution is a matMul over pixels. Frozen filters use tf.conv2d as it is.
import * as tf from '@tensorflow/tfjs';
import { isTrainable, matMul } from './ops';

/** x[:, p::s, q::s, :], gathered in JavaScript (tfjs's StridedSlice on WASM is far slower). */
function phaseOf(x: tf.Tensor4D, p: number, q: number, s: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const src = x.dataSync();
  const ph = Math.ceil((h - p) / s);
  const pw = Math.ceil((w - q) / s);
  const out = new Float32Array(n * ph * pw * c);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < ph; y++) {
      const row = ((b * h + p + y * s) * w + q) * c;
      for (let z = 0; z < pw; z++) {
        const at = row + z * s * c;
        for (let ch = 0; ch < c; ch++) out[o++] = src[at + ch];
      }
    }
  }
  return tf.tensor4d(out, [n, ph, pw, c]);
}

/** x NHWC (already padded), filter [k, k, in, out], 'valid' padding. */
function conv2dTrainable(x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, inputGrad: boolean): tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xIn, wIn]);
    const y = tf.conv2d(xIn, wIn, stride, 'valid');
    return {
      value: y,
      gradFunc: (dyRaw: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dy = dyRaw as tf.Tensor4D;
        const [xs, w] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [n, ho, wo, cout] = dy.shape;
        const [k, , cin] = w.shape;
        const dy2 = dy.reshape([n * ho * wo, cout]);
        // stride > 1: the input split once into stride x stride phases, so each kernel offset is a
        // plain slice of one phase (StridedSlice is slow on WASM)
        const phases = new Map<string, tf.Tensor4D>();
        const phase = (p: number, q: number): tf.Tensor4D => {
          const key = `${p},${q}`;
          if (!phases.has(key)) phases.set(key, phaseOf(xs, p, q, stride));
          return phases.get(key) as tf.Tensor4D;
        };
        const rows: tf.Tensor[] = [];
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            // the input pixels that met kernel offset (i, j): [n, ho, wo, cin]
            const patch = stride === 1
              ? tf.slice(xs, [0, i, j, 0], [n, ho, wo, cin])
              : tf.slice(phase(i % stride, j % stride), [0, Math.floor(i / stride), Math.floor(j / stride), 0], [n, ho, wo, cin]);
            rows.push(tf.matMul(tf.transpose(patch.reshape([n * ho * wo, cin])), dy2)); // [cin, cout]
          }
        }
        const dw = tf.stack(rows).reshape([k, k, cin, cout]);
        let dx: tf.Tensor;
        if (!inputGrad) dx = tf.zerosLike(xs);
        else if (stride === 1) {
          // full correlation of dy with the filter rotated 180 degrees, in/out swapped: a forward
          // conv, much faster on WASM than Conv2DBackpropInput
          const rotated = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
          dx = tf.conv2d(tf.pad(dy, [[0, 0], [k - 1, k - 1], [k - 1, k - 1], [0, 0]]), rotated, 1, 'valid');
        } else dx = tf.conv2dTranspose(dy, w, xs.shape, stride, 'valid');
        return [dx, dw];
      },
    };
  });
  return f(x, filter) as tf.Tensor4D;
}

/**
 * Convolution with PyTorch's semantics: symmetric zero padding `pad`, stride, no bias.
 * x NHWC, filter [k, k, in, out]. `inputGrad = false` skips the input gradient where the input is
 * data (the first layer).
 */
export function conv2d(x: tf.Tensor4D, filter: tf.Tensor4D, stride = 1, pad = 0, inputGrad = true): tf.Tensor4D {
  const [k, , cin, cout] = filter.shape;
  if (k === 1 && stride === 1 && pad === 0) {
    const [n, h, w] = x.shape;
    return matMul(x.reshape([n * h * w, cin]) as tf.Tensor2D, filter.reshape([cin, cout]) as tf.Tensor2D, isTrainable(filter)).reshape([n, h, w, cout]);
  }
  const padded = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
  // Only WASM lacks the filter gradient kernel; native and JS backends use tfjs's own gradients.
  const custom = isTrainable(filter) && tf.getBackend() === 'wasm';
  return custom ? conv2dTrainable(padded, filter, stride, inputGrad) : tf.conv2d(padded, filter, stride, 'valid');
}
