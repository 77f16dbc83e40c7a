// Bilinear resizing as PyTorch's F.interpolate(mode='bilinear', align_corners=False) computes it,
// written as two matMuls with fixed interpolation matrices (tfjs' own matMul, whose gradient keeps
// them alive through backprop) so that its gradient is exact on every
// backend: tfjs's own ResizeBilinear gradient fails on non-square maps on the cpu backend (a shape
// error) and is wrong on WASM (measured against PyTorch on DenseCLIP's auxiliary loss: 69% error).
import * as tf from '@tensorflow/tfjs';

/**
 * The [out, in] matrix of 1-D linear interpolation with half-pixel centres: output i samples the
 * input at max((i + 0.5) * in / out - 0.5, 0), between floor and the next index (clamped).
 */
export function bilinearMatrix(out: number, inSize: number): Float32Array {
  const m = new Float32Array(out * inSize);
  const scale = inSize / out;
  for (let i = 0; i < out; i++) {
    const src = Math.max((i + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l1 = src - i0;
    m[i * inSize + i0] += 1 - l1;
    m[i * inSize + i1] += l1;
  }
  return m;
}

/** The [out, in] selection matrix of PyTorch's mode='nearest': output i takes input floor(i * in / out). */
export function nearestMatrix(out: number, inSize: number): Float32Array {
  const m = new Float32Array(out * inSize);
  for (let i = 0; i < out; i++) m[i * inSize + Math.min(Math.floor(i * (inSize / out)), inSize - 1)] = 1;
  return m;
}

/** x NCHW [N, C, h, w] -> [N, C, H, W], bilinear with align_corners=False, differentiable. */
export function resizeBilinearNCHW(x: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  return resizeNCHW(x, height, width, bilinearMatrix);
}

/** x NCHW [N, C, h, w] -> [N, C, H, W], PyTorch's mode='nearest', differentiable. */
export function resizeNearestNCHW(x: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  return resizeNCHW(x, height, width, nearestMatrix);
}

function resizeNCHW(x: tf.Tensor4D, height: number, width: number, matrix: (out: number, inSize: number) => Float32Array): tf.Tensor4D {
  const [n, c, h, w] = x.shape;
  if (h === height && w === width) return x.clone();
  return tf.tidy(() => {
    const aw = tf.tensor2d(matrix(width, w), [width, w]).transpose() as tf.Tensor2D;   // [w, W]
    const ah = tf.tensor2d(matrix(height, h), [height, h]).transpose() as tf.Tensor2D; // [h, H]
    const alongW = tf.matMul(x.reshape([n * c * h, w]) as tf.Tensor2D, aw);                // [N*C*h, W]
    const t = alongW.reshape([n * c, h, width]).transpose([0, 2, 1]).reshape([n * c * width, h]) as tf.Tensor2D;
    const alongH = tf.matMul(t, ah);                                                        // [N*C*W, H]
    return alongH.reshape([n, c, width, height]).transpose([0, 1, 3, 2]) as tf.Tensor4D;
  });
}
