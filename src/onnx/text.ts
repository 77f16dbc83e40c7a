// CLIP's causal text transformer as an ONNX graph, op for op as src/clip/text.ts computes it from
// the prompt hook's input: token embeddings in, pooled text features out (frozen; src/onnx/runtime.ts).
import type { TextTower } from '../clip/text';
import { GraphBuilder } from './graph';
import { INT64 } from './proto';

/**
 * The text tower as an ONNX model. Inputs: `embeds` [K, L, D] (L up to the context length) and
 * `rows` [K] int64, each prompt's EOT position as a row of the flattened [K*L, D] (k * L + eot[k]).
 * Output: `features` [K, E].
 */
export function exportText(text: TextTower): Uint8Array {
  const { positional, blocks, lnFinal, projection } = text;
  const [context, width] = positional.shape;
  const G = new GraphBuilder();
  const length = G.op('Slice', [G.op('Shape', ['embeds']), G.ints('one', [1]), G.ints('two', [2])]); // [L]
  const zero = G.ints('zero', [0]);
  const x0 = G.op('Add', ['embeds', G.op('Slice', [G.weight('positional', positional), zero, length, zero])]);
  // causalMask of src/clip/ops.ts for the longest context, cut to L x L
  const mask = new Float32Array(context * context);
  for (let i = 0; i < context; i++) for (let j = i + 1; j < context; j++) mask[i * context + j] = -1e9;
  const maskL = G.op('Slice', [G.weight('causal_mask', mask, [context, context]), G.ints('zeros', [0, 0]), G.op('Concat', [length, length], [{ name: 'axis', i: 0 }]), G.ints('axes', [0, 1])]);
  let x = x0;
  blocks.forEach((b, i) => { x = G.block(x, b, `block${i}`, maskL); });
  const pooled = G.op('Gather', [G.op('Reshape', [x, G.ints('flat_shape', [-1, width])]), 'rows'], [{ name: 'axis', i: 0 }]); // [K, D]
  G.op('MatMul', [G.layerNorm(pooled, lnFinal, 'ln_final'), G.weight('text_projection', projection)], undefined, 'features');
  return G.model('clip-text', [{ name: 'embeds', dims: ['k', 'l', width] }, { name: 'rows', dims: ['k'], type: INT64 }], [{ name: 'features', dims: ['k', projection.shape[1]] }]);
}
