// DenseCLIP's context decoder: the class text embeddings (queries) attend to the visual context
// [global feature; dense embeddings] through a few transformer-decoder layers, and the result is
// added back to the text as t + gamma * decoder(t, visual).
//
//   mem = LN -> Linear -> LN (visual context)            x = LN -> Linear (text)
//   each layer: x += SelfAttn(LN1 x);  x += CrossAttn(LN2 x, mem, mem);  x += MLP(LN3 x)
//   out = LN -> Linear
// Attention: q/k/v without bias, the output projection with one, scale head_dim^-0.5; the MLP is
// Linear(w, 4w) -> exact GELU -> Linear(4w, w); LayerNorm eps 1e-5; dropout only in training.
import * as tf from '@tensorflow/tfjs';
import { Attention, gelu, layerNorm, Linear, linear, multiHeadAttention, Norm } from '../../clip/ops';
import type { ParamReader } from '../../clip/params';

const EPS = 1e-5;

interface DecoderLayer {
  selfAttn: Attention;
  crossAttn: Attention;
  norm1: Norm;
  norm2: Norm;
  norm3: Norm;
  fc: Linear;
  proj: Linear;
}

export interface ContextDecoderConfig {
  /** The decoder's width (official 256). */
  width: number;
  heads: number;
  layers: number;
  /** Dropout in training (official 0.1). */
  dropout: number;
}

export interface ContextDecoderOptions {
  /**
   * Pre-model prompting (the paper's Sec. 3.3; never released officially, so ours): `queries`
   * learnable query vectors `<prefix>.queries` [queries, width] take the place of the projected text.
   */
  queries?: number;
  /** The output width (default visualDim; pre-model prompting outputs token embeddings). */
  outDim?: number;
}

export class ContextDecoder {
  private readonly memoryProj: [Norm, Linear, Norm];
  private readonly textProj: [Norm, Linear] | null;
  private readonly queries: tf.Tensor2D | null;
  private readonly layers: DecoderLayer[] = [];
  private readonly outProj: [Norm, Linear];
  /** Dropout applies only while training. */
  training = false;

  /** Reads `<prefix>.*` in the official names and layouts (Linear weights [out, in]). */
  constructor(p: ParamReader, prefix: string, readonly visualDim: number, readonly config: ContextDecoderConfig, opts: ContextDecoderOptions = {}) {
    const w = config.width;
    if (w % config.heads !== 0) throw new Error(`ContextDecoder: width ${w} is not divisible by ${config.heads} heads`);
    this.memoryProj = [p.norm(`${prefix}.memory_proj.0`, visualDim, EPS), p.linear(`${prefix}.memory_proj.1`, visualDim, w), p.norm(`${prefix}.memory_proj.2`, w, EPS)];
    this.textProj = opts.queries ? null : [p.norm(`${prefix}.text_proj.0`, visualDim, EPS), p.linear(`${prefix}.text_proj.1`, visualDim, w)];
    this.queries = opts.queries ? (p.tensor(`${prefix}.queries`, [opts.queries, w]) as tf.Tensor2D) : null;
    const attention = (name: string): Attention => ({
      q: p.linear(`${name}.q_proj`, w, w, false),
      k: p.linear(`${name}.k_proj`, w, w, false),
      v: p.linear(`${name}.v_proj`, w, w, false),
      out: p.linear(`${name}.proj`, w, w),
      heads: config.heads,
    });
    for (let i = 0; i < config.layers; i++) {
      const l = `${prefix}.decoder.${i}`;
      this.layers.push({
        selfAttn: attention(`${l}.self_attn`),
        crossAttn: attention(`${l}.cross_attn`),
        norm1: p.norm(`${l}.norm1`, w, EPS),
        norm2: p.norm(`${l}.norm2`, w, EPS),
        norm3: p.norm(`${l}.norm3`, w, EPS),
        fc: p.linear(`${l}.mlp.0`, w, 4 * w),
        proj: p.linear(`${l}.mlp.3`, 4 * w, w),
      });
    }
    this.outProj = [p.norm(`${prefix}.out_proj.0`, w, EPS), p.linear(`${prefix}.out_proj.1`, w, opts.outDim ?? visualDim)];
  }

  /** Seeds the dropout masks (each draw gets the next one of this seed's stream): runs repeat bit for bit. */
  dropoutSeed = 0;
  private dropoutDraws = 0;

  private drop(x: tf.Tensor): tf.Tensor {
    return this.training && this.config.dropout > 0 ? tf.dropout(x, this.config.dropout, undefined, `context-decoder-${this.dropoutSeed}-${this.dropoutDraws++}`) : x;
  }

  /** text [B, K, C], visual [B, N, C] -> the text update [B, K, C] (before gamma). */
  forward(text: tf.Tensor3D, visual: tf.Tensor3D): tf.Tensor3D {
    if (!this.textProj) throw new Error('ContextDecoder.forward: this decoder generates prompts from queries (use generate)');
    const [ln, lin] = this.textProj;
    return tf.tidy(() => this.decode(linear(layerNorm(text, ln), lin) as tf.Tensor3D, visual));
  }

  /** Pre-model prompting: visual [B, N, C] -> prompt vectors [B, queries, outDim], one set per image. */
  generate(visual: tf.Tensor3D): tf.Tensor3D {
    if (!this.queries) throw new Error('ContextDecoder.generate: this decoder refines text (use forward)');
    const q = this.queries;
    return tf.tidy(() => this.decode(tf.broadcastTo(q, [visual.shape[0], ...q.shape]) as tf.Tensor3D, visual));
  }

  /** The decoder layers on x [B, M, w] against the projected visual memory, then the output projection. */
  private decode(x: tf.Tensor3D, visual: tf.Tensor3D): tf.Tensor3D {
    const [mn1, ml, mn2] = this.memoryProj;
    const mem = layerNorm(linear(layerNorm(visual, mn1), ml), mn2) as tf.Tensor3D;   // [B, N, w]
    for (const l of this.layers) {
      const q = layerNorm(x, l.norm1);
      x = tf.add(x, this.drop(multiHeadAttention(q, q, l.selfAttn))) as tf.Tensor3D;
      x = tf.add(x, this.drop(multiHeadAttention(layerNorm(x, l.norm2), mem, l.crossAttn))) as tf.Tensor3D;
      const hidden = this.drop(gelu(linear(layerNorm(x, l.norm3), l.fc)));
      x = tf.add(x, this.drop(linear(hidden, l.proj))) as tf.Tensor3D;
    }
    return linear(layerNorm(x, this.outProj[0]), this.outProj[1]) as tf.Tensor3D;
  }
}
