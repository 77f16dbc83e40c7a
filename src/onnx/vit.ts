// CLIP's VisionTransformer as an ONNX graph, op for op as src/clip/vit.ts computes it, for frozen
// image features on onnxruntime (multi-threaded native kernels; src/onnx/runtime.ts). Weights come
// from the tower's own tensors (the layout encode() uses); the batch size stays free.
import * as tf from '@tensorflow/tfjs';
import type { Norm, ResidualBlock } from '../clip/ops';
import type { VisionTransformer } from '../clip/vit';
import { FLOAT, INT64, onnxModel, type OnnxNode, type OnnxTensor } from './proto';

/** The image tower `vit` as an ONNX model: input `pixels` [N, 3, R, R] -> output `features` [N, E]. */
export function exportVit(vit: VisionTransformer): Uint8Array {
  const { patchW, classEmbedding, positional, lnPre, blocks, lnPost, proj, patch: p, grid: g } = vit.parts();
  const width = patchW.shape[1];
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  let n = 0;
  const fresh = (hint: string) => `${hint}_${n++}`;
  const weight = (name: string, t: tf.Tensor | Float32Array, dims?: number[]) => {
    const data = t instanceof Float32Array ? t : (t.dataSync() as Float32Array);
    initializers.push({ name, dims: dims ?? (t as tf.Tensor).shape, type: FLOAT, data });
    return name;
  };
  const ints = (name: string, v: number[]) => {
    initializers.push({ name, dims: [v.length], type: INT64, data: BigInt64Array.from(v.map(BigInt)) });
    return name;
  };
  const op = (type: string, inputs: string[], attributes?: OnnxNode['attributes'], hint = type) => {
    const out = fresh(hint);
    nodes.push({ op: type, inputs, outputs: [out], attributes });
    return out;
  };
  const layerNorm = (x: string, norm: Norm, name: string) =>
    op('LayerNormalization', [x, weight(`${name}.weight`, norm.weight), weight(`${name}.bias`, norm.bias)], [{ name: 'axis', i: -1 }, { name: 'epsilon', f: norm.eps }]);
  const linear = (x: string, l: { w: tf.Tensor2D; b?: tf.Tensor1D }, name: string) => {
    const y = op('MatMul', [x, weight(`${name}.w`, l.w)]);
    return l.b ? op('Add', [y, weight(`${name}.b`, l.b)]) : y;
  };

  // patches: [N,3,R,R] -> [N,3,g,p,g,p] -> [N,g,g,3,p,p] -> [N, g*g, 3*p*p], then conv1 as a matMul
  const patches = op('Reshape', [op('Transpose', [op('Reshape', ['pixels', ints('patch_shape', [-1, 3, g, p, g, p])])], [{ name: 'perm', ints: [0, 2, 4, 1, 3, 5] }]), ints('rows_shape', [-1, g * g, 3 * p * p])]);
  const tokens = op('MatMul', [patches, weight('conv1', patchW)]);                         // [N, g*g, W]
  // the class token: a zero row in front, then the positional embedding with the class embedding
  // added into its first row (0 + (cls + pos0) is exactly concat(cls, ...) + pos in float32)
  const pos = Float32Array.from(positional.dataSync() as Float32Array);
  const cls = classEmbedding.dataSync() as Float32Array;
  for (let i = 0; i < width; i++) pos[i] = Math.fround(cls[i] + pos[i]);
  const padded = op('Pad', [tokens, ints('pad_cls', [0, 1, 0, 0, 0, 0])]);                  // [N, 1+g*g, W]
  let x = layerNorm(op('Add', [padded, weight('positional', pos, positional.shape)]), lnPre, 'ln_pre');

  blocks.forEach((b: ResidualBlock, i) => {
    const name = `block${i}`;
    const heads = b.attn.heads;
    const hd = width / heads;
    const h = layerNorm(x, b.ln1, `${name}.ln_1`);
    const split = (t: string, perm: number[]) => op('Transpose', [op('Reshape', [t, ints(fresh('heads_shape'), [0, 0, heads, hd])])], [{ name: 'perm', ints: perm }]);
    const q = split(op('Mul', [linear(h, b.attn.q, `${name}.q`), weight(fresh('scale'), Float32Array.of(1 / Math.sqrt(hd)), [])]), [0, 2, 1, 3]); // [N,H,T,hd]
    const kT = split(linear(h, b.attn.k, `${name}.k`), [0, 2, 3, 1]);                    // [N,H,hd,T]
    const v = split(linear(h, b.attn.v, `${name}.v`), [0, 2, 1, 3]);                     // [N,H,T,hd]
    const attn = op('Softmax', [op('MatMul', [q, kT])], [{ name: 'axis', i: -1 }]);
    const ctx = op('Reshape', [op('Transpose', [op('MatMul', [attn, v])], [{ name: 'perm', ints: [0, 2, 1, 3] }]), ints(fresh('merge_shape'), [0, 0, width])]);
    x = op('Add', [x, linear(ctx, b.attn.out, `${name}.out`)]);
    const u = linear(layerNorm(x, b.ln2, `${name}.ln_2`), b.fc, `${name}.fc`);
    const act = b.act === 'quick_gelu'
      ? op('Mul', [u, op('Sigmoid', [op('Mul', [u, weight(fresh('c1702'), Float32Array.of(1.702), [])])])])
      : op('Mul', [op('Mul', [u, weight(fresh('half'), Float32Array.of(0.5), [])]), op('Add', [weight(fresh('one'), Float32Array.of(1), []), op('Erf', [op('Mul', [u, weight(fresh('rsqrt2'), Float32Array.of(Math.SQRT1_2), [])])])])]);
    x = op('Add', [x, linear(act, b.proj, `${name}.proj`)]);
  });

  const first = op('Gather', [x, ints('cls_index', [0])], [{ name: 'axis', i: 1 }]);        // [N, 1, W]
  const pooled = layerNorm(op('Reshape', [first, ints('pooled_shape', [-1, width])]), lnPost, 'ln_post');
  nodes.push({ op: 'MatMul', inputs: [pooled, weight('proj', proj)], outputs: ['features'] });
  return onnxModel({
    name: 'clip-vit-image',
    nodes,
    initializers,
    inputs: [{ name: 'pixels', dims: ['n', 3, g * p, g * p] }],
    outputs: [{ name: 'features', dims: ['n', proj.shape[1]] }],
  });
}
