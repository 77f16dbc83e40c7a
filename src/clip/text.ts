// CLIP's causal text transformer. Methods reach it only through `encodeTokenEmbeddings`, the
// prompt hook: input embeddings [K, L, D] in, pooled text features [K, E] out.
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from './config';
import { causalMask, isTrainable, layerNorm, matMul, Norm, ResidualBlock, residualBlock, residualBlockAfterPrefix } from './ops';
import type { ParamReader } from './params';

export class TextTower {
  readonly tokenEmbedding: tf.Tensor2D;  // [V, D]
  readonly positional: tf.Tensor2D;      // [C, D]
  readonly blocks: ResidualBlock[];
  readonly lnFinal: Norm;
  readonly projection: tf.Tensor2D;      // [D, E]

  constructor(p: ParamReader, readonly config: ClipConfig) {
    const { vocabSize: v, contextLength: c, transformerWidth: d, embedDim: e } = config;
    this.tokenEmbedding = p.tensor('token_embedding.weight', [v, d]) as tf.Tensor2D;
    this.positional = p.tensor('positional_embedding', [c, d]) as tf.Tensor2D;
    this.blocks = [];
    for (let i = 0; i < config.transformerLayers; i++) {
      this.blocks.push(p.block(`transformer.resblocks.${i}`, d, config.transformerHeads, config.textAct, config.layerNormEps));
    }
    this.lnFinal = p.norm('ln_final', d, config.layerNormEps);
    this.projection = p.tensor('text_projection', [d, e]) as tf.Tensor2D;
  }

  /** Token ids [K, L] -> their (frozen) embeddings [K, L, D]. */
  embed(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      if (!isTrainable(this.tokenEmbedding)) return tf.gather(this.tokenEmbedding, ids) as tf.Tensor as tf.Tensor3D;
      // a trainable table: one-hot rows times the table (gather's table gradient is missing on WASM)
      const [k, length] = ids.shape;
      const onehot = tf.oneHot(ids.reshape([-1]) as tf.Tensor1D, this.tokenEmbedding.shape[0]) as tf.Tensor2D;
      return matMul(tf.cast(onehot, 'float32') as tf.Tensor2D, this.tokenEmbedding).reshape([k, length, -1]) as tf.Tensor3D;
    });
  }

  /** The transformer over embeds [K, L, D] (positional embedding added), ln_final not applied. */
  private run(embeds: tf.Tensor3D): tf.Tensor3D {
    const length = embeds.shape[1];
    let x = tf.add(embeds, this.positional.slice([0, 0], [length, -1])) as tf.Tensor3D;
    const mask = causalMask(length); // built per call: a cache would hold tensors across calls
    // one tidy per block: intermediates die with their block (what backprop needs is kept by tfjs)
    for (const b of this.blocks) x = tf.tidy(() => residualBlock(x, b, mask));
    return x;
  }

  /**
   * The prompt hook. embeds [K, L, D], eotIndex [K] (the position of each EOT token) -> [K, E].
   * Exact causal truncation: positions after the last EOT cannot influence any EOT feature, so
   * only the first max(eotIndex) + 1 positions are computed (`truncate = false` computes all L,
   * for benchmarks and tests of that equivalence).
   */
  encodeTokenEmbeddings(embeds: tf.Tensor3D, eotIndex: ArrayLike<number>, truncate = true): tf.Tensor2D {
    const [k, length, d] = embeds.shape;
    if (d !== this.config.transformerWidth) {
      throw new Error(`encodeTokenEmbeddings: embeddings have width ${d}, the text tower expects ${this.config.transformerWidth}`);
    }
    if (length > this.config.contextLength) {
      throw new Error(`encodeTokenEmbeddings: sequence length ${length} exceeds the context length ${this.config.contextLength}`);
    }
    if (eotIndex.length !== k) throw new Error(`encodeTokenEmbeddings: ${eotIndex.length} EOT positions for ${k} sequences`);
    let last = 0;
    for (let i = 0; i < k; i++) {
      const e = eotIndex[i];
      if (!Number.isInteger(e) || e < 0 || e >= length) {
        throw new Error(`encodeTokenEmbeddings: eotIndex[${i}] = ${e} is outside [0, ${length - 1}]`);
      }
      last = Math.max(last, e);
    }
    const used = truncate ? last + 1 : length;
    return tf.tidy(() => {
      const x = this.run(used < length ? (embeds.slice([0, 0, 0], [k, used, d]) as tf.Tensor3D) : embeds);
      const pooled = eotPool(x, Array.from(eotIndex));                 // [K, D]
      return matMul(layerNorm(pooled, this.lnFinal) as tf.Tensor2D, this.projection); // [K, E]
    });
  }

  /**
   * The prompt hook for sequences that share their first embeddings: prefix [1, Lp, D] (the same for
   * all K, e.g. CSP's "[SOT] a photo of"), rest [K, Lr, D], eotIndex [K] counted from the start of the
   * whole sequence (>= Lp). Equal to encodeTokenEmbeddings(concat(prefix, rest)) up to rounding: the
   * causal mask keeps the prefix's states independent of what follows, so they are computed once.
   */
  encodeWithSharedPrefix(prefix: tf.Tensor3D, rest: tf.Tensor3D, eotIndex: ArrayLike<number>): tf.Tensor2D {
    const [, lp, d] = prefix.shape;
    const [k, lr] = rest.shape;
    if (prefix.shape[0] !== 1) throw new Error(`encodeWithSharedPrefix: the prefix must be one sequence [1, Lp, D], got [${prefix.shape}]`);
    if (d !== this.config.transformerWidth || rest.shape[2] !== d) throw new Error(`encodeWithSharedPrefix: embeddings have width ${d} / ${rest.shape[2]}, the text tower expects ${this.config.transformerWidth}`);
    if (lp + lr > this.config.contextLength) throw new Error(`encodeWithSharedPrefix: sequence length ${lp + lr} exceeds the context length ${this.config.contextLength}`);
    if (eotIndex.length !== k) throw new Error(`encodeWithSharedPrefix: ${eotIndex.length} EOT positions for ${k} sequences`);
    let last = lp;
    for (let i = 0; i < k; i++) {
      const e = eotIndex[i];
      if (!Number.isInteger(e) || e < lp || e >= lp + lr) throw new Error(`encodeWithSharedPrefix: eotIndex[${i}] = ${e} is outside the rest [${lp}, ${lp + lr - 1}]`);
      last = Math.max(last, e);
    }
    const used = last + 1 - lp;
    return tf.tidy(() => {
      let xp = tf.add(prefix, this.positional.slice([0, 0], [lp, -1])) as tf.Tensor3D;
      let xs = tf.add(used < lr ? rest.slice([0, 0, 0], [k, used, d]) : rest, this.positional.slice([lp, 0], [used, -1])) as tf.Tensor3D;
      const mask = causalMask(lp);
      for (const b of this.blocks) {
        [xp, xs] = tf.tidy(() => [residualBlock(xp, b, mask), residualBlockAfterPrefix(xp, xs, b)]);
      }
      const pooled = eotPool(xs, Array.from(eotIndex, (e) => e - lp));
      return matMul(layerNorm(pooled, this.lnFinal) as tf.Tensor2D, this.projection);
    });
  }

  /** ln_final output at every position [K, L, D] (no truncation: every position is computed). */
  tokens(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => layerNorm(this.run(this.embed(ids)), this.lnFinal) as tf.Tensor3D);
  }
}

/**
 * Each sequence's state at its EOT position: x [K, L, D], eot [K] -> [K, D]. A one-hot weighted sum:
 * exact, and differentiable on every backend (the gather gradient is missing on WASM); a sequence of
 * one position is its own EOT (tf.oneHot needs a depth of at least 2).
 */
function eotPool(x: tf.Tensor3D, eot: number[]): tf.Tensor2D {
  const [k, used, d] = x.shape;
  if (used === 1) return x.reshape([k, d]);
  const onehot = tf.oneHot(tf.tensor1d(eot, 'int32'), used).reshape([k, used, 1]);
  return tf.sum(tf.mul(x, onehot), 1) as tf.Tensor2D;
}
