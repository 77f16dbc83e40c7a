// CLIP's causal text transformer. Methods reach it only through `encodeTokenEmbeddings`, the
// prompt hook: input embeddings [K, L, D] in, pooled text features [K, E] out.
import * as tf from '@tensorflow/tfjs';
import { gradientsFreeing } from './backprop';
import type { ClipConfig } from './config';
import { causalMask, isTrainable, layerNorm, matMul, Norm, ResidualBlock, residualBlock, residualBlockAfterPrefix } from './ops';
import type { ParamReader } from './params';
import { splitRows, type TowerWorkers } from './workers';
import { residualBlockFrozen } from './frozen-block';
import { checkpointedBlock, gradInsideBackward, tensorsOf } from './recompute';

/**
 * Checks the prompt hook's input (embeddings of shape [K, L, D], K EOT positions inside [0, L)) and
 * returns how many positions to compute: up to the last EOT when `truncate` (exact: the mask is
 * causal), else all L.
 */
export function positionsUsed(config: ClipConfig, shape: readonly number[], eotIndex: ArrayLike<number>, truncate: boolean): number {
  const [k, length, d] = shape;
  if (d !== config.transformerWidth) {
    throw new Error(`encodeTokenEmbeddings: embeddings have width ${d}, the text tower expects ${config.transformerWidth}`);
  }
  if (length > config.contextLength) {
    throw new Error(`encodeTokenEmbeddings: sequence length ${length} exceeds the context length ${config.contextLength}`);
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
  return truncate ? last + 1 : length;
}

export class TextTower {
  readonly tokenEmbedding: tf.Tensor2D;  // [V, D]
  readonly positional: tf.Tensor2D;      // [C, D]
  readonly blocks: ResidualBlock[];
  readonly lnFinal: Norm;
  readonly projection: tf.Tensor2D;      // [D, E]
  /** Worker threads that share the rows of encodeTokenEmbeddings (ClipModel.startWorkers). */
  workers: TowerWorkers | null = null;

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
    // under a tape with frozen weights (prompt learning), each block is one op that keeps ~10 floats
    // per position and unit of width for its backward instead of autodiff's ~140 (frozen-block.ts)
    const fused = tf.engine().isTapeOn() && this.frozen();
    // one tidy per block: intermediates die with their block (what backprop needs is kept by tfjs)
    // with trainable weights (pretraining) and --recompute, each half of a block is one op that keeps
    // its input and recomputes its activations in the backward (recompute.ts); outside a tape both are
    // the plain block
    for (const b of this.blocks) {
      x = tf.tidy(() => (fused ? residualBlockFrozen(x, b, mask) : checkpointedBlock(x, b, mask)));
    }
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
    const used = positionsUsed(this.config, embeds.shape, eotIndex, truncate);
    const eot = Array.from(eotIndex);
    return tf.tidy(() => {
      const x = used < length ? (embeds.slice([0, 0, 0], [k, used, d]) as tf.Tensor3D) : embeds;
      const tape = tf.engine().isTapeOn();
      const pool = this.workers;
      if (pool && k >= pool.size && (!tape || this.frozen())) {
        return splitRows(pool, 'text', x, eot, this.config.embedDim, tape, (part, e) => this.encodeLocal(part as tf.Tensor3D, e, tape));
      }
      return this.encodeLocal(x, eot, tape);
    });
  }

  /** This thread's rows: in one pass, or checkpointed when many prompts go through under a tape. */
  private encodeLocal(x: tf.Tensor3D, eot: number[], tape: boolean): tf.Tensor2D {
    const rows = this.checkpointRows(x.shape[1]);
    if (x.shape[0] > rows && tape && this.frozen()) return this.encodeCheckpointed(x, eot, rows);
    return this.encodeRows(x, eot);
  }

  /** [K, L, D] -> [K, E]: the transformer, the EOT position of each row, ln_final and the projection. */
  private encodeRows(x: tf.Tensor3D, eot: number[]): tf.Tensor2D {
    const pooled = eotPool(this.run(x), eot);                                  // [K, D]
    return matMul(layerNorm(pooled, this.lnFinal) as tf.Tensor2D, this.projection); // [K, E]
  }

  /**
   * Bytes of activations that one chunk of prompts may keep for backprop (see encodeCheckpointed).
   * 1 GiB keeps a CoOp step on ImageNet's 1,000 classes with ViT-B's text tower inside WASM's 4 GB,
   * and 100 classes (the papers' usual count) in one pass, without recomputing.
   */
  static checkpointBytes = 2 ** 30;

  /**
   * Rows per chunk. A frozen block under a tape keeps about 12 floats per position and unit of width
   * (frozen-block.ts) and the attention probabilities (heads x positions); 16 leaves a margin.
   */
  private checkpointRows(used: number): number {
    const { transformerWidth: d, transformerLayers: layers, transformerHeads: heads } = this.config;
    const perRow = layers * 4 * (used * d * 16 + heads * used * used);
    return Math.max(1, Math.floor(TextTower.checkpointBytes / perRow));
  }

  /** True when no weight of the tower trains (prompts train, the tower is frozen: the methods' case). */
  private frozen(): boolean {
    return tensorsOf([this.positional, this.projection, this.lnFinal, this.blocks]).every((t) => !isTrainable(t));
  }

  /**
   * Gradient checkpointing over rows, for many prompts under a gradient tape (CoOp on 100 or 1,000
   * classes): the forward runs chunk by chunk without keeping activations (a custom gradient's forward
   * is not taped), and the backward recomputes each chunk's forward to backpropagate its rows of dy.
   * Rows are independent, so values and gradients equal the one-pass ones (tested); the price is one
   * more forward pass, the gain that memory holds one chunk's activations instead of all K rows'.
   */
  private encodeCheckpointed(x: tf.Tensor3D, eot: number[], rows: number): tf.Tensor2D {
    const [k, length, d] = x.shape;
    const spans: [number, number][] = [];
    for (let a = 0; a < k; a += rows) spans.push([a, Math.min(k, a + rows)]);
    const part = (t: tf.Tensor3D, [a, b]: [number, number]) => t.slice([a, 0, 0], [b - a, length, d]) as tf.Tensor3D;
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const input = args[0] as tf.Tensor3D;
      const save = args[1] as tf.GradSaveFunc;
      save([input]);
      const value = tf.concat(spans.map((s) => tf.tidy(() => this.encodeRows(part(input, s), eot.slice(s[0], s[1])))), 0) as tf.Tensor2D; // [K, E]
      const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.concat(spans.map((s) => tf.tidy(() => {
        const dyPart = dy.slice([s[0], 0], [s[1] - s[0], -1]) as tf.Tensor2D;
        return gradInsideBackward(() => {
          const p = part(saved[0] as tf.Tensor3D, s);
          const { value, grads } = gradientsFreeing(() => this.encodeRows(p, eot.slice(s[0], s[1])), [p], dyPart);
          value.dispose();
          return grads[0] as tf.Tensor;
        });
      })), 0);
      return { value, gradFunc };
    });
    return f(x) as tf.Tensor2D;
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
