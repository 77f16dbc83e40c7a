// The video side of video prompting (Ju et al., ECCV 2022; methods.md 5.3): a light transformer over
// the frozen per-frame features, as the official TemporalModelling (Efficient-Prompt src/model.py):
// CLIP's pre-LN residual attention blocks (x += attn(ln_1(x)); x += mlp(ln_2(x)); QuickGELU MLP 4x;
// LayerNorm eps 1e-5) with NO attention mask, every frame attending to every frame.
import * as tf from '@tensorflow/tfjs';
import { residualBlock, type ResidualBlock } from '../../clip/ops';
import type { ParamReader } from '../../clip/params';
import type { StateDict } from '../../clip/weights';
import { uniform } from '../../random';

const EPS = 1e-5;

export class TemporalModelling {
  readonly resblocks: ResidualBlock[] = [];

  /** Reads `<prefix>.resblocks.{i}.*` in the official names and PyTorch layouts. */
  constructor(p: ParamReader, prefix: string, readonly width: number, readonly layers: number, readonly heads: number) {
    if (!Number.isInteger(heads) || heads < 1 || width % heads !== 0) {
      throw new Error(`TemporalModelling: width ${width} is not divisible into ${heads} heads (valid: a divisor of ${width})`);
    }
    for (let i = 0; i < layers; i++) this.resblocks.push(p.block(`${prefix}.resblocks.${i}`, width, heads, 'quick_gelu', EPS));
  }

  /** x [B, T, W] -> [B, T, W] (the official code runs [T, B, W]; attention is per video either way). */
  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      let h = x;
      for (const b of this.resblocks) h = residualBlock(h, b);  // no mask: bidirectional over frames
      return h;
    });
  }
}

/**
 * PyTorch's initialisation of `layers` blocks of width W under `prefix` (nn.MultiheadAttention:
 * in_proj xavier_uniform, biases 0; nn.Linear: U(+-1/sqrt(in)) for weight and bias; LayerNorm 1, 0),
 * drawn from promptlab's seeded generator.
 */
export function temporalInitialWeights(prefix: string, width: number, layers: number, seed: number): StateDict {
  const sd: StateDict = new Map();
  const u = uniform(seed, 'video-temporal-init');
  const draw = (count: number, bound: number) => Float32Array.from({ length: count }, () => (2 * u() - 1) * bound);
  const put = (key: string, shape: number[], data: Float32Array) => sd.set(key, { shape, data });
  const w = width;
  for (let i = 0; i < layers; i++) {
    const l = `${prefix}.resblocks.${i}`;
    put(`${l}.attn.in_proj_weight`, [3 * w, w], draw(3 * w * w, Math.sqrt(6 / (w + 3 * w))));
    put(`${l}.attn.in_proj_bias`, [3 * w], new Float32Array(3 * w));
    put(`${l}.attn.out_proj.weight`, [w, w], draw(w * w, 1 / Math.sqrt(w)));
    put(`${l}.attn.out_proj.bias`, [w], new Float32Array(w));
    for (const ln of ['ln_1', 'ln_2']) {
      put(`${l}.${ln}.weight`, [w], new Float32Array(w).fill(1));
      put(`${l}.${ln}.bias`, [w], new Float32Array(w));
    }
    put(`${l}.mlp.c_fc.weight`, [4 * w, w], draw(4 * w * w, 1 / Math.sqrt(w)));
    put(`${l}.mlp.c_fc.bias`, [4 * w], draw(4 * w, 1 / Math.sqrt(w)));
    put(`${l}.mlp.c_proj.weight`, [w, 4 * w], draw(4 * w * w, 1 / Math.sqrt(4 * w)));
    put(`${l}.mlp.c_proj.bias`, [w], draw(w, 1 / Math.sqrt(4 * w)));
  }
  return sd;
}

