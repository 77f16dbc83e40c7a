// conv2d for training on every backend. WASM has no kernel for the filter gradient
// (Conv2DBackpropFilter), so a trainable filter gets a custom gradient: the filter gradient as
// one matMul per kernel offset (exact), the input gradient from tfjs's Conv2DBackpropInput.
// A 1x1 convolution is a matMul over pixels. Frozen filters use tf.conv2d as it is.
import * as tf from '@tensorflow/tfjs';
import { isTrainable, matMul } from './ops';

/**
 * The input pixels that met kernel offset (i, j), transposed: [cin, n*ho*wo] with column (b, y, z)
 * = x[b, i + y*s, j + z*s, :]. Copied in JavaScript from `src` (x's values, NHWC): the same values
 * as slicing and transposing with tfjs ops, which on WASM cost more than the filter gradient's matMuls.
 */
function offsetPatchT(src: Float32Array | Int32Array | Uint8Array, shape: number[], i: number, j: number, s: number, ho: number, wo: number): tf.Tensor2D {
  const [n, h, w, c] = shape;
  const cols = n * ho * wo;
  const out = new Float32Array(c * cols);
  let col = 0;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < ho; y++) {
      const row = ((b * h + i + y * s) * w + j) * c;
      for (let z = 0; z < wo; z++, col++) {
        const at = row + z * s * c;
        for (let ch = 0; ch < c; ch++) out[ch * cols + col] = src[at + ch];
      }
    }
  }
  return tf.tensor2d(out, [c, cols]);
}

/** x NHWC (already padded), filter [k, k, in, out], 'valid' padding. */
function conv2dTrainable(x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, inputGrad: boolean): tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xIn, wIn]);
    const y = tf.conv2d(xIn, wIn, stride, 'valid');
    return {
      value: y,
      // in a tidy: tfjs calls a custom gradient outside one, and its intermediates would live to the end of the backward
      gradFunc: (dyRaw: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.tidy(() => {
        const dy = dyRaw as tf.Tensor4D;
        const [xs, w] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [n, ho, wo, cout] = dy.shape;
        const [k, , cin] = w.shape;
        const dy2 = dy.reshape([n * ho * wo, cout]);
        const src = xs.dataSync(); // the input once, in JavaScript; each offset's patch is copied from it
        const rows: tf.Tensor[] = [];
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const patchT = offsetPatchT(src, xs.shape, i, j, stride, ho, wo); // [cin, n*ho*wo]
            rows.push(tf.matMul(patchT, dy2));                                // [cin, cout]
            patchT.dispose();
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
      }),
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
