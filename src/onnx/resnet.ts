// CLIP's ModifiedResNet as an ONNX graph (NCHW, as onnxruntime's Conv wants), op for op as
// src/clip/resnet.ts computes it in eval mode: the 3-conv stem, anti-aliased bottlenecks, BatchNorm
// with running statistics (folded exactly as convBn folds them), and the attention pool.
import * as tf from '@tensorflow/tfjs';
import type { ConvBn, ModifiedResNet } from '../clip/resnet';
import { GraphBuilder } from './graph';

/** The image tower `rn` as an ONNX model: input `pixels` [N, 3, R, R] -> output `features` [N, E]. */
export function exportResNet(rn: ModifiedResNet): Uint8Array {
  const { stem, stages, pool, poolPositional } = rn.parts();
  const G = new GraphBuilder();
  let convs = 0;
  const channels = (v: Float32Array) => [v.length, 1, 1];
  const convBn = (x: string, c: ConvBn, stride = 1) => {
    const name = `conv${convs++}`;
    const filter = tf.tidy(() => tf.transpose(c.filter, [3, 2, 0, 1]));                 // [k,k,in,out] -> [out,in,k,k]
    const [, , k] = filter.shape;
    const y = G.op('Conv', [x, G.weight(`${name}.filter`, filter)], [
      { name: 'kernel_shape', ints: [k, k] }, { name: 'strides', ints: [stride, stride] }, { name: 'pads', ints: [c.pad, c.pad, c.pad, c.pad] },
    ]);
    filter.dispose();
    // convBn's eval fold, in the same float32 ops: scale = w / sqrt(var + eps); y * scale + (b - mean * scale)
    const { scale, shift } = tf.tidy(() => {
      const sc = tf.div(c.bn.weight, tf.sqrt(tf.add(c.bn.runningVar, c.bn.eps)));
      return { scale: sc.dataSync() as Float32Array, shift: tf.sub(c.bn.bias, tf.mul(c.bn.runningMean, sc)).dataSync() as Float32Array };
    });
    return G.op('Add', [G.op('Mul', [y, G.weight(`${name}.scale`, scale, channels(scale))]), G.weight(`${name}.shift`, shift, channels(shift))]);
  };
  const relu = (x: string) => G.op('Relu', [x]);
  const avgPool = (x: string, k: number) => (k > 1 ? G.op('AveragePool', [x], [{ name: 'kernel_shape', ints: [k, k] }, { name: 'strides', ints: [k, k] }]) : x);

  let x = relu(convBn('pixels', stem[0], 2));
  x = relu(convBn(x, stem[1]));
  x = avgPool(relu(convBn(x, stem[2])), 2);
  for (const stage of stages) {
    for (const b of stage) {
      let out = relu(convBn(x, b.conv1));
      out = relu(convBn(out, b.conv2));
      out = convBn(avgPool(out, b.stride), b.conv3);
      const identity = b.downsample ? convBn(avgPool(x, b.stride), b.downsample) : x;
      x = relu(G.op('Add', [out, identity]));
    }
  }
  // the attention pool: [N,C,h,w] -> tokens [N, h*w, C], the mean token first, positions added
  const c = poolPositional.shape[1];
  const flat = G.op('Transpose', [G.op('Reshape', [x, G.ints('map_shape', [0, c, -1])])], [{ name: 'perm', ints: [0, 2, 1] }]);
  const tokens = G.op('Add', [
    G.op('Concat', [G.op('ReduceMean', [flat], [{ name: 'axes', ints: [1] }, { name: 'keepdims', i: 1 }]), flat], [{ name: 'axis', i: 1 }]),
    G.weight('pool.positional', poolPositional),
  ]);
  const query = G.op('Slice', [tokens, G.ints('q_start', [0]), G.ints('q_end', [1]), G.ints('q_axis', [1])]); // [N, 1, C]
  const out = G.attention(query, tokens, pool, 'attnpool');                                                   // [N, 1, E]
  const e = pool.out.w.shape[1];
  G.op('Reshape', [out, G.ints('features_shape', [-1, e])], undefined, 'features');
  const r = rn.config.imageResolution;
  return G.model('clip-resnet-image', [{ name: 'pixels', dims: ['n', 3, r, r] }], [{ name: 'features', dims: ['n', e] }]);
}
