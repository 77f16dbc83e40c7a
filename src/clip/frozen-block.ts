// A frozen residual block under a gradient tape as ONE taped op with a hand-written backward: the
// prompt-learning case (gradients flow through the frozen text tower to the prompts only).
//
// Through tfjs's autodiff a block puts ~50 ops on the tape, each keeping its inputs, and the backward
// keeps every intermediate gradient until it ends: about 140 floats per position and unit of width
// per layer. Here the forward runs the same ops as residualBlock (so values are bitwise equal) and
// keeps only what the backward needs: the normalised inputs of both LayerNorms, q, k, v, the attention
// probabilities and the MLP's pre-activation (about 10 floats per position and unit, plus heads x L);
// the backward computes dx from them in one tidy.
//
//   h = LN1(x); q, k, v = h Wq + bq, h Wk + bk, h Wv + bv; A = softmax(q k^T / sqrt(hd) + mask)
//   x1 = x + (A v) Wo + bo;  u = LN2(x1) Wfc + bfc;  out = x1 + act(u) Wproj + bproj
import * as tf from '@tensorflow/tfjs';
import type { Norm, ResidualBlock } from './ops';

/** x [N, T, D] -> [N, T, D]; `mask` [T, T] additive. The block's weights must be frozen. */
export function residualBlockFrozen(x: tf.Tensor3D, p: ResidualBlock, mask?: tf.Tensor2D): tf.Tensor3D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor3D;
    const save = args[1] as tf.GradSaveFunc;
    const [n, t, d] = input.shape;
    const heads = p.attn.heads;
    const hd = d / heads;
    const flat = (a: tf.Tensor) => a.reshape([-1, a.shape[a.shape.length - 1]]) as tf.Tensor2D;
    const lin = (a: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D) => {
      const y = tf.matMul(flat(a), w);
      return (b ? tf.add(y, b) : y).reshape([...a.shape.slice(0, -1), w.shape[1]]);
    };
    const split = (a: tf.Tensor) => a.reshape([n, t, heads, hd]).transpose([0, 2, 1, 3]).reshape([n * heads, t, hd]) as tf.Tensor3D;
    const merge = (a: tf.Tensor) => a.reshape([n, heads, t, hd]).transpose([0, 2, 1, 3]).reshape([n, t, d]);

    // the forward, op for op as residualBlock / multiHeadAttention / layerNorm compute it
    const ln1 = normalise(input, p.ln1);
    const h = tf.add(tf.mul(ln1.xhat, p.ln1.weight), p.ln1.bias);
    const q = split(tf.mul(lin(h, p.attn.q.w, p.attn.q.b), 1 / Math.sqrt(hd)));  // [NH, T, hd]
    const k = split(lin(h, p.attn.k.w, p.attn.k.b));                              // [NH, T, hd]
    const v = split(lin(h, p.attn.v.w, p.attn.v.b));                              // [NH, T, hd]
    let scores = tf.matMul(q, tf.transpose(k, [0, 2, 1]));                       // [NH, T, T]
    if (mask) scores = tf.add(scores, mask);
    const attn = tf.softmax(scores, -1);
    const x1 = tf.add(input, lin(merge(tf.matMul(attn, v)), p.attn.out.w, p.attn.out.b)) as tf.Tensor3D;
    const ln2 = normalise(x1, p.ln2);
    const u = lin(tf.add(tf.mul(ln2.xhat, p.ln2.weight), p.ln2.bias), p.fc.w, p.fc.b); // [N, T, 4D]
    const value = tf.add(x1, lin(activate(u, p.act), p.proj.w, p.proj.b)) as tf.Tensor3D;
    save([ln1.xhat, ln1.sd, q, k, v, attn, ln2.xhat, ln2.sd, u]);

    const gradFunc = (dyIn: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.tidy(() => {
      const [xhat1, sd1, qs, ks, vs, a, xhat2, sd2, us] = saved;
      const dy = dyIn as tf.Tensor3D;
      const back = (g: tf.Tensor, w: tf.Tensor2D) => tf.matMul(flat(g), tf.transpose(w)).reshape([...g.shape.slice(0, -1), w.shape[0]]);
      // MLP: out = x1 + act(u) Wproj + bproj, u = LN2(x1) Wfc + bfc
      const du = tf.mul(back(dy, p.proj.w), activationGrad(us, p.act));
      const dx1 = tf.add(dy, normGrad(back(du, p.fc.w), xhat2, sd2, p.ln2));
      // attention: x1 = x + merge(A v) Wo + bo
      const dctx = split(back(dx1, p.attn.out.w));                                // [NH, T, hd]
      const dA = tf.matMul(dctx, tf.transpose(vs, [0, 2, 1]));                    // [NH, T, T]
      const dv = tf.matMul(tf.transpose(a, [0, 2, 1]), dctx);                     // [NH, T, hd]
      const dS = tf.mul(a, tf.sub(dA, tf.sum(tf.mul(dA, a), -1, true)));          // softmax backward
      const dq = tf.mul(tf.matMul(dS, ks), 1 / Math.sqrt(hd));                     // q was scaled
      const dk = tf.matMul(tf.transpose(dS, [0, 2, 1]), qs);
      const dh = tf.add(tf.add(back(merge(dq), p.attn.q.w), back(merge(dk), p.attn.k.w)), back(merge(dv), p.attn.v.w));
      return tf.add(dx1, normGrad(dh, xhat1, sd1, p.ln1));
    });
    return { value, gradFunc };
  });
  return f(x) as tf.Tensor3D;
}

/** LayerNorm's normalised input and sqrt(var + eps), by the ops of ops.layerNorm. */
function normalise(x: tf.Tensor, p: Norm): { xhat: tf.Tensor; sd: tf.Tensor } {
  const { mean, variance } = tf.moments(x, -1, true);
  const sd = tf.sqrt(tf.add(variance, p.eps));
  return { xhat: tf.div(tf.sub(x, mean), sd), sd };
}

/** d/dx of LayerNorm(x) applied to dy: (g - mean(g) - xhat mean(g xhat)) / sd, with g = dy * weight. */
function normGrad(dy: tf.Tensor, xhat: tf.Tensor, sd: tf.Tensor, p: Norm): tf.Tensor {
  const g = tf.mul(dy, p.weight);
  return tf.div(tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))), sd);
}

function activate(u: tf.Tensor, act: ResidualBlock['act']): tf.Tensor {
  if (act === 'gelu') return tf.mul(tf.mul(u, 0.5), tf.add(1, tf.erf(tf.mul(u, Math.SQRT1_2))));
  return tf.mul(u, tf.sigmoid(tf.mul(u, 1.702)));
}

/** act'(u): QuickGELU s + 1.702 u s (1 - s) with s = sigmoid(1.702 u); GELU Phi(u) + u phi(u). */
function activationGrad(u: tf.Tensor, act: ResidualBlock['act']): tf.Tensor {
  if (act === 'gelu') {
    const cdf = tf.mul(tf.add(1, tf.erf(tf.mul(u, Math.SQRT1_2))), 0.5);
    const pdf = tf.mul(tf.exp(tf.mul(tf.square(u), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return tf.add(cdf, tf.mul(u, pdf));
  }
  const s = tf.sigmoid(tf.mul(u, 1.702));
  return tf.add(s, tf.mul(tf.mul(u, 1.702), tf.mul(s, tf.sub(1, s))));
}
