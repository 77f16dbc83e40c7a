// Turns a state dict (OpenAI key names, float32) into the tensors the towers use, checking every
// shape so a wrong or truncated checkpoint fails with the key and both shapes named. Each tensor
// remembers where it came from, so a trained model can be written back as a state dict.
import * as tf from '@tensorflow/tfjs';
import type { StateDict } from './weights';
import type { Activation, Attention, Linear, Norm, ResidualBlock } from './ops';

/** How a model tensor was cut from its state-dict entry. */
type Layout =
  | { kind: 'same' }
  | { kind: 'rowsT'; from: number; count: number; cols: number } // transpose of rows [from, from+count) of a [R, cols] view
  | { kind: 'rows'; from: number; count: number }                // elements [from, from+count) of a 1-D entry
  | { kind: 'conv' };                                            // [out, in, k, k] permuted to [k, k, in, out]

interface Entry {
  key: string;
  tensor: tf.Tensor;
  layout: Layout;
}

export class ParamReader {
  /** Every tensor created, in creation order, with the state-dict entry it came from. */
  readonly entries: Entry[] = [];
  /** Shapes of the state-dict entries used. */
  readonly shapes = new Map<string, number[]>();

  /**
   * With `trainable`, weights become trainable tf.Variables and BatchNorm running statistics
   * non-trainable ones (so training can update them); otherwise plain tensors.
   */
  constructor(private readonly sd: StateDict, private readonly source: string, readonly trainable = false) {}

  get created(): tf.Tensor[] {
    return this.entries.map((e) => e.tensor);
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
    this.shapes.set(key, t.shape);
    return t;
  }

  private make(key: string, layout: Layout, build: () => tf.Tensor, trainable = true): tf.Tensor {
    const t = tf.tidy(build);
    const tensor = this.trainable ? tf.variable(t, trainable) : t;
    if (tensor !== t) t.dispose();
    this.entries.push({ key, tensor, layout });
    return tensor;
  }

  /** A stored scalar (shape [] as torch saves it, or [1]) as a rank-0 tensor. */
  scalar(key: string): tf.Scalar {
    const t = this.sd.get(key);
    if (!t || t.data.length !== 1) {
      throw new Error(`${this.source}: tensor '${key}' is ${t ? `of shape [${t.shape.join(', ')}]` : 'missing'}, expected a scalar`);
    }
    this.shapes.set(key, t.shape);
    return this.make(key, { kind: 'same' }, () => tf.scalar(t.data[0])) as tf.Scalar;
  }

  tensor(key: string, shape: (number | null)[], trainable = true): tf.Tensor {
    const t = this.raw(key, shape);
    return this.make(key, { kind: 'same' }, () => tf.tensor(t.data, t.shape, 'float32'), trainable);
  }

  /** Rows [from, from+count) of the entry viewed as [R, cols], transposed to [cols, count]. */
  transposedRows(key: string, full: number[], from: number, count: number): tf.Tensor2D {
    const t = this.raw(key, full);
    const cols = t.data.length / full[0];
    const rows = t.data.subarray(from * cols, (from + count) * cols);
    return this.make(key, { kind: 'rowsT', from, count, cols }, () => tf.transpose(tf.tensor2d(rows, [count, cols]))) as tf.Tensor2D;
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
    const bKey = `${prefix}.in_proj_bias`;
    const b = this.raw(bKey, [3 * dim]).data;
    const part = (i: number): Linear => ({
      w: this.transposedRows(wKey, [3 * dim, dim], i * dim, dim),
      b: this.make(bKey, { kind: 'rows', from: i * dim, count: dim }, () => tf.tensor1d(b.subarray(i * dim, (i + 1) * dim))) as tf.Tensor1D,
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
    return this.make(key, { kind: 'conv' }, () => tf.transpose(tf.tensor4d(t.data, [out, inC, k, k]), [2, 3, 1, 0])) as tf.Tensor4D;
  }

  /** BatchNorm parameters; running statistics never train (training updates them by assignment). */
  batchNorm(prefix: string, ch: number, eps = 1e-5): BatchNorm {
    return {
      weight: this.tensor(`${prefix}.weight`, [ch]) as tf.Tensor1D,
      bias: this.tensor(`${prefix}.bias`, [ch]) as tf.Tensor1D,
      runningMean: this.tensor(`${prefix}.running_mean`, [ch], false) as tf.Tensor1D,
      runningVar: this.tensor(`${prefix}.running_var`, [ch], false) as tf.Tensor1D,
      eps,
    };
  }

  /** Writes the current values back in the state dict's layout (OpenAI keys, PyTorch shapes). */
  stateDict(opts: { keys?: (key: string) => boolean; shared?: boolean } = {}): StateDict {
    const out: StateDict = new Map();
    const keep = opts.keys ?? (() => true);
    for (const [key, shape] of this.shapes) {
      if (!keep(key)) continue;
      const n = shape.reduce((a, b) => a * b, 1);
      out.set(key, { shape, data: opts.shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n) });
    }
    for (const { key, tensor, layout } of this.entries) {
      if (!out.has(key)) continue;
      const dst = (out.get(key) as { data: Float32Array }).data;
      const src = tensor.dataSync() as Float32Array;
      switch (layout.kind) {
        case 'same':
          dst.set(src);
          break;
        case 'rows':
          dst.set(src, layout.from);
          break;
        case 'rowsT': // src [cols, count] = transpose of rows [from, from+count)
          for (let c = 0; c < layout.cols; c++) {
            for (let r = 0; r < layout.count; r++) dst[(layout.from + r) * layout.cols + c] = src[c * layout.count + r];
          }
          break;
        case 'conv': {
          const [o, i, k] = out.get(key)!.shape;
          for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) {
            dst[((a * i + b) * k + y) * k + x] = src[((y * k + x) * i + b) * o + a];
          }
          break;
        }
      }
    }
    return out;
  }
}

export interface BatchNorm {
  weight: tf.Tensor1D;
  bias: tf.Tensor1D;
  runningMean: tf.Tensor1D;
  runningVar: tf.Tensor1D;
  eps: number;
}
