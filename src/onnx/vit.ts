// CLIP's VisionTransformer as an ONNX graph, op for op as src/clip/vit.ts computes it, for frozen
// image features on onnxruntime (multi-threaded native kernels; src/onnx/runtime.ts). Weights come
// from the tower's own tensors (the layout encode() uses); the batch size stays free.
import type { VisionTransformer } from '../clip/vit';
import { GraphBuilder } from './graph';

/** The image tower `vit` as an ONNX model: input `pixels` [N, 3, R, R] -> output `features` [N, E]. */
export function exportVit(vit: VisionTransformer): Uint8Array {
  const { patchW, classEmbedding, positional, lnPre, blocks, lnPost, proj, patch: p, grid: g } = vit.parts();
  const width = patchW.shape[1];
  const G = new GraphBuilder();
  // patches: [N,3,R,R] -> [N,3,g,p,g,p] -> [N,g,g,3,p,p] -> [N, g*g, 3*p*p], then conv1 as a matMul
  const grid = G.op('Reshape', ['pixels', G.ints('patch_shape', [-1, 3, g, p, g, p])]);
  const patches = G.op('Reshape', [G.op('Transpose', [grid], [{ name: 'perm', ints: [0, 2, 4, 1, 3, 5] }]), G.ints('rows_shape', [-1, g * g, 3 * p * p])]);
  const tokens = G.op('MatMul', [patches, G.weight('conv1', patchW)]);                        // [N, g*g, W]
  // the class token: a zero row in front, then the positional embedding with the class embedding
  // added into its first row (0 + (cls + pos0) is exactly concat(cls, ...) + pos in float32)
  const pos = Float32Array.from(positional.dataSync() as Float32Array);
  const cls = classEmbedding.dataSync() as Float32Array;
  for (let i = 0; i < width; i++) pos[i] = Math.fround(cls[i] + pos[i]);
  const padded = G.op('Pad', [tokens, G.ints('pad_cls', [0, 1, 0, 0, 0, 0])]);                // [N, 1+g*g, W]
  let x = G.layerNorm(G.op('Add', [padded, G.weight('positional', pos, positional.shape)]), lnPre, 'ln_pre');
  blocks.forEach((b, i) => { x = G.block(x, b, `block${i}`); });
  const first = G.op('Gather', [x, G.ints('cls_index', [0])], [{ name: 'axis', i: 1 }]);      // [N, 1, W]
  const pooled = G.layerNorm(G.op('Reshape', [first, G.ints('pooled_shape', [-1, width])]), lnPost, 'ln_post');
  G.op('MatMul', [pooled, G.weight('proj', proj)], undefined, 'features');
  return G.model('clip-vit-image', [{ name: 'pixels', dims: ['n', 3, g * p, g * p] }], [{ name: 'features', dims: ['n', proj.shape[1]] }]);
}
