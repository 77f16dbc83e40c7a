// A small builder for the ONNX graphs of CLIP's towers: named initializers from tfjs tensors, nodes
// with fresh output names, and the pieces every tower shares (LayerNorm, a linear layer, the
// pre-LN residual block of src/clip/ops.ts).
import * as tf from '@tensorflow/tfjs';
import type { Attention, Linear, Norm, ResidualBlock } from '../clip/ops';
import { FLOAT, INT64, onnxModel, type Attribute, type OnnxNode, type OnnxTensor, type OnnxValue } from './proto';

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private n = 0;

  fresh(hint: string): string {
    return `${hint}_${this.n++}`;
  }

  /** A float32 initializer from a tensor (read now) or from values with their dims. */
  weight(name: string, t: tf.Tensor | Float32Array, dims?: number[]): string {
    const data = t instanceof Float32Array ? t : (t.dataSync() as Float32Array);
    this.initializers.push({ name, dims: dims ?? (t as tf.Tensor).shape, type: FLOAT, data });
    return name;
  }

  scalar(hint: string, v: number): string {
    return this.weight(this.fresh(hint), Float32Array.of(v), []);
  }

  ints(hint: string, v: number[]): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims: [v.length], type: INT64, data: BigInt64Array.from(v.map(BigInt)) });
    return name;
  }

  op(type: string, inputs: string[], attributes?: Attribute[], output?: string): string {
    const out = output ?? this.fresh(type);
    this.nodes.push({ op: type, inputs, outputs: [out], attributes });
    return out;
  }

  layerNorm(x: string, norm: Norm, name: string): string {
    return this.op('LayerNormalization', [x, this.weight(`${name}.weight`, norm.weight), this.weight(`${name}.bias`, norm.bias)], [{ name: 'axis', i: -1 }, { name: 'epsilon', f: norm.eps }]);
  }

  linear(x: string, l: Linear, name: string): string {
    const y = this.op('MatMul', [x, this.weight(`${name}.w`, l.w)]);
    return l.b ? this.op('Add', [y, this.weight(`${name}.b`, l.b)]) : y;
  }

  /** multiHeadAttention of src/clip/ops.ts: query [N, Tq, W] attends to keyValue [N, Tk, W] (+ mask [Tq, Tk]). */
  attention(query: string, keyValue: string, a: Attention, name: string, mask?: string): string {
    const width = a.q.w.shape[1];
    const heads = a.heads;
    const hd = width / heads;
    const split = (t: string, perm: number[]) => this.op('Transpose', [this.op('Reshape', [t, this.ints('heads_shape', [0, 0, heads, hd])])], [{ name: 'perm', ints: perm }]);
    const q = split(this.op('Mul', [this.linear(query, a.q, `${name}.q`), this.scalar('scale', 1 / Math.sqrt(hd))]), [0, 2, 1, 3]); // [N,H,Tq,hd]
    const kT = split(this.linear(keyValue, a.k, `${name}.k`), [0, 2, 3, 1]);                                                 // [N,H,hd,Tk]
    const v = split(this.linear(keyValue, a.v, `${name}.v`), [0, 2, 1, 3]);                                                  // [N,H,Tk,hd]
    let scores = this.op('MatMul', [q, kT]);                                                                               // [N,H,Tq,Tk]
    if (mask) scores = this.op('Add', [scores, mask]);
    const attn = this.op('Softmax', [scores], [{ name: 'axis', i: -1 }]);
    const ctx = this.op('Reshape', [this.op('Transpose', [this.op('MatMul', [attn, v])], [{ name: 'perm', ints: [0, 2, 1, 3] }]), this.ints('merge_shape', [0, 0, width])]);
    return this.linear(ctx, a.out, `${name}.out`);
  }

  /** residualBlock of src/clip/ops.ts on x [N, T, W]; `mask` [T, T] is added to the attention scores. */
  block(x: string, b: ResidualBlock, name: string, mask?: string): string {
    const h = this.layerNorm(x, b.ln1, `${name}.ln_1`);
    const x1 = this.op('Add', [x, this.attention(h, h, b.attn, `${name}.attn`, mask)]);
    const u = this.linear(this.layerNorm(x1, b.ln2, `${name}.ln_2`), b.fc, `${name}.fc`);
    const act = b.act === 'quick_gelu'
      ? this.op('Mul', [u, this.op('Sigmoid', [this.op('Mul', [u, this.scalar('c1702', 1.702)])])])
      : this.op('Mul', [this.op('Mul', [u, this.scalar('half', 0.5)]), this.op('Add', [this.scalar('one', 1), this.op('Erf', [this.op('Mul', [u, this.scalar('rsqrt2', Math.SQRT1_2)])])])]);
    return this.op('Add', [x1, this.linear(act, b.proj, `${name}.proj`)]);
  }

  model(name: string, inputs: OnnxValue[], outputs: OnnxValue[]): Uint8Array {
    return onnxModel({ name, nodes: this.nodes, initializers: this.initializers, inputs, outputs });
  }
}
