// conv2d for training on every backend. WASM has no kernel for the filter gradient
// (Conv2DBackpropFilter), so a trainable filter gets a custom gradient: the filter gradient as
// one matMul per kernel offset (exact), the input gradient from tfjs's Conv2DBackpropInput.
// A 1x1 convolution is a matMul over pixels. Frozen filters use tf.conv2d as it is.
import * as tf from '@tensorflow/tfjs';
import { isTrainable, matMul } from './ops';

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
        const rows: tf.Tensor[] = [];
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            // the input pixels that met kernel offset (i, j): [n, ho, wo, cin]
            const patch = tf.stridedSlice(xs, [0, i, j, 0], [n, i + stride * (ho - 1) + 1, j + stride * (wo - 1) + 1, cin], [1, stride, stride, 1]);
            rows.push(tf.matMul(tf.transpose(patch.reshape([n * ho * wo, cin])), dy2)); // [cin, cout]
          }
        }
        const dw = tf.stack(rows).reshape([k, k, cin, cout]);
        const dx = inputGrad ? tf.conv2dTranspose(dy, w, xs.shape, stride, 'valid') : tf.zerosLike(xs);
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
  return isTrainable(filter) ? conv2dTrainable(padded, filter, stride, inputGrad) : tf.conv2d(padded, filter, stride, 'valid');
}
