// Turns a state dict (OpenAI key names, float32) into the tensors the towers use, checking every
// shape so a wrong or truncated checkpoint fails with the key and both shapes named.
import * as tf from '@tensorflow/tfjs';
import type { StateDict } from './weights';
import type { Activation, Attention, Linear, Norm, ResidualBlock } from './ops';

export class ParamReader {
  /** Every tensor created, so the model can dispose them all. */
  readonly created: tf.Tensor[] = [];

  constructor(private readonly sd: StateDict, private readonly source: string) {}

  has(key: string): boolean {
    return this.sd.has(key);
  }

  raw(key: string, shape: (number | null)[]): { shape: number[]; data: Float32Array } {
    const t = this.sd.get(key);
    if (!t) {
      const near = [...this.sd.keys()].filter((k) => k.split('.').slice(0, -1).join('.') === key.split('.').slice(0, -1).join('.'));
      throw new Error(`${this.source}: tensor '${key}' is missing${near.length ? ` (same module has: ${near.slice(0, 6).join(', ')})` : ''}`);
    }
    const ok = t.shape.length === shape.length && shape.every((d, i) => d === null || d === t.shape[i]);
    if (!ok) {
      const want = `[${shape.map((d) => (d === null ? '*' : d)).join(', ')}]`;
      throw new Error(`${this.source}: tensor '${key}' has shape [${t.shape.join(', ')}], expected ${want}`);
    }
    return t;
  }

  /** A stored scalar: shape [] (torch) or [1]. */
  scalar(key: string): number {
    const t = this.sd.get(key);
    if (!t || t.data.length !== 1) {
      throw new Error(`${this.source}: tensor '${key}' is ${t ? `of shape [${t.shape.join(', ')}]` : 'missing'}, expected a scalar`);
    }
    return t.data[0];
  }

  private keep<T extends tf.Tensor>(t: T): T {
    this.created.push(t);
    return t;
  }

  tensor(key: string, shape: (number | null)[]): tf.Tensor {
    const t = this.raw(key, shape);
    return this.keep(tf.tensor(t.data, t.shape, 'float32'));
  }

  /** A 2-D tensor given rows of a stored [rows, cols] matrix, transposed to [cols, rows]. */
  private transposedRows(key: string, full: number[], from: number, count: number): tf.Tensor2D {
    const t = this.raw(key, full);
    const cols = t.shape[1];
    const rows = t.data.subarray(from * cols, (from + count) * cols);
    return this.keep(tf.tidy(() => tf.transpose(tf.tensor2d(rows, [count, cols]))));
  }

  /** PyTorch Linear (weight [out, in]) as w [in, out], b [out]. */
  linear(prefix: string, inDim: number, outDim: number, bias = true): Linear {
    const w = this.transposedRows(`${prefix}.weight`, [outDim, inDim], 0, outDim);
    const b = bias ? (this.tensor(`${prefix}.bias`, [outDim]) as tf.Tensor1D) : undefined;
    return { w, b };
  }

  norm(prefix: string, dim: number, eps: number): Norm {
    return {
      weight: this.tensor(`${prefix}.weight`, [dim]) as tf.Tensor1D,
      bias: this.tensor(`${prefix}.bias`, [dim]) as tf.Tensor1D,
      eps,
    };
  }

  /** nn.MultiheadAttention with a packed in_proj ([3D, D]) split into q, k, v. */
  packedAttention(prefix: string, dim: number, heads: number): Attention {
    const wKey = `${prefix}.in_proj_weight`;
    const b = this.raw(`${prefix}.in_proj_bias`, [3 * dim]).data;
    const part = (i: number): Linear => ({
      w: this.transposedRows(wKey, [3 * dim, dim], i * dim, dim),
      b: this.keep(tf.tensor1d(b.subarray(i * dim, (i + 1) * dim))),
    });
    return { q: part(0), k: part(1), v: part(2), out: this.linear(`${prefix}.out_proj`, dim, dim), heads };
  }

  /** CLIP's ResidualAttentionBlock. */
  block(prefix: string, dim: number, heads: number, act: Activation, eps: number): ResidualBlock {
    const hidden = this.raw(`${prefix}.mlp.c_fc.weight`, [null, dim]).shape[0];
    return {
      ln1: this.norm(`${prefix}.ln_1`, dim, eps),
      attn: this.packedAttention(`${prefix}.attn`, dim, heads),
      ln2: this.norm(`${prefix}.ln_2`, dim, eps),
      fc: this.linear(`${prefix}.mlp.c_fc`, dim, hidden),
      proj: this.linear(`${prefix}.mlp.c_proj`, hidden, dim),
      act,
    };
  }

  /** A conv weight [out, in, kh, kw] as a tfjs filter [kh, kw, in, out]. */
  convFilter(key: string, out: number, inC: number, k: number): tf.Tensor4D {
    const t = this.raw(key, [out, inC, k, k]);
    return this.keep(tf.tidy(() => tf.transpose(tf.tensor4d(t.data, [out, inC, k, k]), [2, 3, 1, 0])));
  }

  /** Eval-mode BatchNorm folded into a per-channel scale and shift. */
  batchNorm(prefix: string, ch: number, eps = 1e-5): { scale: tf.Tensor1D; shift: tf.Tensor1D } {
    const w = this.raw(`${prefix}.weight`, [ch]).data;
    const b = this.raw(`${prefix}.bias`, [ch]).data;
    const mean = this.raw(`${prefix}.running_mean`, [ch]).data;
    const v = this.raw(`${prefix}.running_var`, [ch]).data;
    const scale = new Float32Array(ch);
    const shift = new Float32Array(ch);
    for (let c = 0; c < ch; c++) {
      scale[c] = w[c] / Math.sqrt(v[c] + eps);
      shift[c] = b[c] - mean[c] * scale[c];
    }
    return { scale: this.keep(tf.tensor1d(scale)), shift: this.keep(tf.tensor1d(shift)) };
  }
}
