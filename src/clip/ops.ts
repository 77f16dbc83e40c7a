// The few building blocks every CLIP tower is made of, written for TensorFlow.js on WASM:
// 2-D matMuls with weights stored pre-transposed ([in, out]) and gradients with explicit
// transposes (tfjs's own matMul gradient uses transposeA/B flags, 5-8x slower on WASM).
import * as tf from '@tensorflow/tfjs';

/** A linear layer's parameters: `w` is [in, out] (PyTorch's weight transposed), `b` is [out]. */
export interface Linear {
  w: tf.Tensor2D;
  b?: tf.Tensor1D;
}

export interface Norm {
  weight: tf.Tensor1D;
  bias: tf.Tensor1D;
  eps: number;
}

export function isTrainable(t: tf.Tensor): boolean {
  return t instanceof tf.Variable && t.trainable;
}

/** x [M, in] @ w [in, out] whose gradient flows to x only (w is a frozen constant). */
function matMulFrozen(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.matMul(args[0] as tf.Tensor2D, w),
    // in a tidy: tfjs calls a custom gradient outside one, and the transposed weight would live to the end of the backward
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.tidy(() => tf.matMul(dy as tf.Tensor2D, tf.transpose(w))),
  }));
  return f(x) as tf.Tensor2D;
}

/** x [M, in] @ w [in, out] with gradients to both, each an explicit transpose and a plain matMul. */
function matMulBoth(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([xIn, wIn]);
    return {
      value: tf.matMul(xIn, wIn),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.tidy(() => [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(saved[1] as tf.Tensor2D)),
        tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D),
      ]),
    };
  });
  return f(x, w) as tf.Tensor2D;
}

/**
 * 2-D matMul that picks the cheapest correct gradient for the weight's role: frozen weights get
 * no gradient (and cost none); trainable ones (or `weightGrad = true`) get theirs.
 */
export function matMul(x: tf.Tensor2D, w: tf.Tensor2D, weightGrad = isTrainable(w)): tf.Tensor2D {
  return weightGrad ? matMulBoth(x, w) : matMulFrozen(x, w);
}

/** y = x @ w + b over the last axis of x (any rank), as one 2-D matMul. */
export function linear(x: tf.Tensor, p: Linear): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1];
  const outDim = p.w.shape[1];
  const y2 = matMul(x.reshape([-1, inDim]) as tf.Tensor2D, p.w);
  const y = p.b ? tf.add(y2, p.b) : y2;
  return y.reshape([...x.shape.slice(0, -1), outDim]);
}

/** LayerNorm over the last axis (PyTorch semantics: biased variance, eps inside the sqrt). */
export function layerNorm(x: tf.Tensor, p: Norm): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, p.eps))), p.weight), p.bias);
}

/** CLIP's QuickGELU: x * sigmoid(1.702 x). */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

/** Exact GELU (erf form), used by Hugging Face configs with hidden_act = "gelu". */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

export type Activation = 'quick_gelu' | 'gelu';

export function activation(kind: Activation): (x: tf.Tensor) => tf.Tensor {
  return kind === 'gelu' ? gelu : quickGelu;
}

/** Multi-head attention parameters (PyTorch nn.MultiheadAttention, q/k/v as three linears). */
export interface Attention {
  q: Linear;
  k: Linear;
  v: Linear;
  out: Linear;
  heads: number;
}

/** [N, T, H*hd] -> [N*H, T, hd] */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  const [n, t, d] = x.shape;
  return x.reshape([n, t, heads, d / heads]).transpose([0, 2, 1, 3]).reshape([n * heads, t, d / heads]) as tf.Tensor3D;
}

/** [N*H, T, hd] -> [N, T, H*hd] */
function mergeHeads(x: tf.Tensor, n: number, heads: number): tf.Tensor3D {
  const [, t, hd] = x.shape;
  return x.reshape([n, heads, t, hd]).transpose([0, 2, 1, 3]).reshape([n, t, heads * hd]) as tf.Tensor3D;
}

/**
 * Scaled dot-product multi-head attention. query [N, Tq, D], keyValue [N, Tk, D];
 * `mask` [Tq, Tk] is added to the scores (0 or a large negative number). Returns [N, Tq, D].
 */
export function multiHeadAttention(query: tf.Tensor, keyValue: tf.Tensor, p: Attention, mask?: tf.Tensor2D): tf.Tensor3D {
  const n = query.shape[0];
  const d = p.q.w.shape[1];
  const hd = d / p.heads;
  const q = splitHeads(tf.mul(linear(query, p.q), 1 / Math.sqrt(hd)), p.heads); // [N*H, Tq, hd]
  const k = splitHeads(linear(keyValue, p.k), p.heads);                          // [N*H, Tk, hd]
  const v = splitHeads(linear(keyValue, p.v), p.heads);                          // [N*H, Tk, hd]
  let scores = tf.matMul(q, tf.transpose(k, [0, 2, 1]));                         // [N*H, Tq, Tk]
  if (mask) scores = tf.add(scores, mask);
  const attn = tf.softmax(scores, -1);
  const ctx = mergeHeads(tf.matMul(attn, v), n, p.heads);                        // [N, Tq, D]
  return linear(ctx, p.out) as tf.Tensor3D;
}

/** One pre-LN residual block: x += attn(ln_1(x)); x += mlp(ln_2(x)). */
export interface ResidualBlock {
  ln1: Norm;
  attn: Attention;
  ln2: Norm;
  fc: Linear;
  proj: Linear;
  act: Activation;
}

/**
 * A block for the positions after a shared prefix: `x` [K, Ls, D] attends to the prefix's block input
 * `prefix` [1, Lp, D] (the same for every sequence) and to itself, causally (position i of x sits at
 * Lp + i). Returns x's block output; the prefix's own output is residualBlock(prefix) (computed once).
 */
export function residualBlockAfterPrefix(prefix: tf.Tensor3D, x: tf.Tensor3D, p: ResidualBlock): tf.Tensor3D {
  const [k, ls, d] = x.shape;
  const lp = prefix.shape[1];
  const h = layerNorm(x, p.ln1);
  const kv = tf.concat([tf.broadcastTo(layerNorm(prefix, p.ln1), [k, lp, d]), h], 1);
  const mask = tf.tidy(() => {
    const i = tf.range(0, ls, 1, 'int32').reshape([ls, 1]);
    const j = tf.range(0, lp + ls, 1, 'int32').reshape([1, lp + ls]);
    return tf.where(tf.greater(j, tf.add(i, lp)), tf.fill([ls, lp + ls], -1e9), tf.zeros([ls, lp + ls])) as tf.Tensor2D;
  });
  const x1 = tf.add(x, multiHeadAttention(h, kv, p.attn, mask)) as tf.Tensor3D;
  const m = linear(activation(p.act)(linear(layerNorm(x1, p.ln2), p.fc)), p.proj);
  return tf.add(x1, m) as tf.Tensor3D;
}

export function residualBlock(x: tf.Tensor3D, p: ResidualBlock, mask?: tf.Tensor2D): tf.Tensor3D {
  return mlpHalf(attentionHalf(x, p, mask), p);
}

/** A block's first half: x + attn(ln_1(x)). */
export function attentionHalf(x: tf.Tensor3D, p: Pick<ResidualBlock, 'ln1' | 'attn'>, mask?: tf.Tensor2D): tf.Tensor3D {
  const h = layerNorm(x, p.ln1);
  return tf.add(x, multiHeadAttention(h, h, p.attn, mask)) as tf.Tensor3D;
}

/** A block's second half: x1 + mlp(ln_2(x1)). */
export function mlpHalf(x1: tf.Tensor3D, p: Pick<ResidualBlock, 'ln2' | 'fc' | 'proj' | 'act'>): tf.Tensor3D {
  const m = linear(activation(p.act)(linear(layerNorm(x1, p.ln2), p.fc)), p.proj);
  return tf.add(x1, m) as tf.Tensor3D;
}

/** Additive causal mask [L, L]: 0 on and below the diagonal, -1e9 above (finite on every backend). */
export function causalMask(length: number): tf.Tensor2D {
  return tf.tidy(() => {
    const i = tf.range(0, length, 1, 'int32').reshape([length, 1]);
    const j = tf.range(0, length, 1, 'int32').reshape([1, length]);
    return tf.where(tf.greater(j, i), tf.fill([length, length], -1e9), tf.zeros([length, length])) as tf.Tensor2D;
  });
}
