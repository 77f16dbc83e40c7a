// DenseCLIP (Rao et al., CVPR 2022): language-guided dense prediction with context-aware prompting,
// post-model prompting as the official code does it (raoyongming/DenseCLIP, segmentation/denseclip).
//
//   c1..c4, g, V = backbone(x)                    V [B, E, h, w]: the attention pool at every position
//   t_k = TextEncoder([SOT, ctx_1..ctx_M, class_k tokens, EOT])   the M contexts are learned, shared
//   t   = t + gamma * ContextDecoder(t, [g; V])   the image refines the text (gamma starts at 1e-4)
//   s   = cos(V, t)                   [B, K, h, w] the pixel-text score map, concatenated to c4
//   L_aux = 0.4 * CE(upsample(s / tau), labels)   every label pixel counts in the mean
//
// What learns: the contexts, gamma, the context decoder (and, in segmentation training, the image
// backbone at a tenth of the rate and the FPN head); the text encoder is frozen but passes gradients.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../../clip/model';
import { ParamReader } from '../../clip/params';
import type { StateDict } from '../../clip/weights';
import { streamFor } from '../../random';
import { l2normalize } from '../method';
import { DenseClipBackbone, DenseFeatures } from './backbone';
import { ContextDecoder, ContextDecoderConfig } from './context-decoder';
import { resizeBilinearNCHW } from './resize';

export interface DenseClipConfig {
  /**
   * 'post': post-model prompting, the official code (learned contexts, text refined by the context
   * decoder); 'pre': pre-model prompting as the paper describes it (Sec. 3.3; never released, so this
   * is our implementation): a decoder with nCtx learnable queries reads the visual context and
   * outputs the prompt vectors of each image, which go before the class tokens into the text encoder.
   */
  prompting: 'post' | 'pre';
  /** Learnable contexts (or pre-model prompt vectors) after SOT (official 8 = 13 - 5). */
  nCtx: number;
  /** Tokens per class name with SOT and EOT (official 5: at most 3 BPE tokens; longer is an error). */
  classContextLength: number;
  /** The backbone's input resolution: the attention pool's grid is inputResolution / 32 (official 512). */
  inputResolution: number;
  /** Heads of the dense attention pool (32 in the official code, whatever the width). */
  attnpoolHeads: number;
  decoder: ContextDecoderConfig;
  /** Temperature of the auxiliary loss on the score map (0.07). */
  tau: number;
  /** Weight of the auxiliary (identity-head) loss (0.4). */
  auxLossWeight: number;
  /** Label value the losses ignore (255). */
  ignoreIndex: number;
  /** Which of c1..c4 gets the score map concatenated (3: c4). */
  scoreConcatIndex: number;
}

/** The official RN50 configuration (configs/denseclip_fpn_res50_512x512_80k.py). */
export const DENSECLIP_RN50: DenseClipConfig = {
  prompting: 'post',
  nCtx: 8,
  classContextLength: 5,
  inputResolution: 512,
  attnpoolHeads: 32,
  decoder: { width: 256, heads: 4, layers: 3, dropout: 0.1 },
  tau: 0.07,
  auxLossWeight: 0.4,
  ignoreIndex: 255,
  scoreConcatIndex: 3,
};

/** Class-name token ids [K, classContextLength] as `tokenize(name, context_length=5)` makes them. */
export interface ClassTokens {
  ids: Int32Array;
  shape: [number, number];
}

export interface DenseClipOutput extends DenseFeatures {
  /** [B, 1 + h*w, E]: the global feature, then the dense embeddings row-major. */
  visualContext: tf.Tensor3D;
  /**
   * The class text features before and after the context decoder: [K, E] and [B, K, E] (pre-model:
   * the mean over images, a zero update, and each image's own text features).
   */
  textEmbeddings: tf.Tensor2D;
  textDiff: tf.Tensor3D;
  textRefined: tf.Tensor3D;
  /** Pixel-text cosine similarities [B, K, h, w] (no temperature). */
  scoreMap: tf.Tensor4D;
  /** c1..c4 with the score map concatenated to c[scoreConcatIndex] (what the neck receives). */
  neckInputs: tf.Tensor4D[];
}

/**
 * Fresh weights as the official code draws them: contexts from N(0, 1) cut at +-2 (torch.randn, then
 * trunc_normal_), gamma 1e-4 everywhere, the decoder's Linear weights from N(0, 0.02^2) cut at +-2
 * (timm's trunc_normal_, whose bounds are absolute) with zero biases, LayerNorms at 1 and 0.
 */
export function denseClipInitialWeights(clip: ClipModel, config: DenseClipConfig, seed: number): StateDict {
  const rng = streamFor(seed, 'denseclip-init');
  const truncNormal = (n: number, std: number): Float32Array => Float32Array.from({ length: n }, () => {
    for (;;) {
      const x = rng.normal() * std;
      if (x >= -2 && x <= 2) return x;
    }
  });
  const e = clip.config.embedDim;
  const d = clip.config.transformerWidth;
  const w = config.decoder.width;
  const sd: StateDict = new Map();
  const put = (key: string, shape: number[], data: Float32Array) => sd.set(key, { shape, data });
  const linear = (key: string, out: number, inDim: number, bias = true) => {
    put(`${key}.weight`, [out, inDim], truncNormal(out * inDim, 0.02));
    if (bias) put(`${key}.bias`, [out], new Float32Array(out));
  };
  const norm = (key: string, dim: number) => {
    put(`${key}.weight`, [dim], new Float32Array(dim).fill(1));
    put(`${key}.bias`, [dim], new Float32Array(dim));
  };
  const pre = config.prompting === 'pre';
  const p = pre ? 'prompt_generator' : 'context_decoder';
  if (pre) {
    put(`${p}.queries`, [config.nCtx, w], truncNormal(config.nCtx * w, 0.02));
  } else {
    put('contexts', [1, config.nCtx, d], truncNormal(config.nCtx * d, 1));
    put('gamma', [e], new Float32Array(e).fill(1e-4));
  }
  norm(`${p}.memory_proj.0`, e); linear(`${p}.memory_proj.1`, w, e); norm(`${p}.memory_proj.2`, w);
  if (!pre) { norm(`${p}.text_proj.0`, e); linear(`${p}.text_proj.1`, w, e); }
  for (let i = 0; i < config.decoder.layers; i++) {
    const l = `${p}.decoder.${i}`;
    for (const a of ['self_attn', 'cross_attn']) {
      for (const q of ['q_proj', 'k_proj', 'v_proj']) linear(`${l}.${a}.${q}`, w, w, false);
      linear(`${l}.${a}.proj`, w, w);
    }
    for (const n of ['norm1', 'norm2', 'norm3']) norm(`${l}.${n}`, w);
    linear(`${l}.mlp.0`, 4 * w, w);
    linear(`${l}.mlp.3`, w, 4 * w);
  }
  norm(`${p}.out_proj.0`, w); linear(`${p}.out_proj.1`, pre ? d : e, w);
  return sd;
}

export class DenseCLIP {
  readonly name = 'denseclip';
  readonly backbone: DenseClipBackbone;
  /** Post-model prompting's learned contexts [1, M, D], gamma [E] and context decoder (null in 'pre'). */
  readonly contexts: tf.Tensor3D | null;
  readonly gamma: tf.Tensor1D | null;
  readonly decoder: ContextDecoder | null;
  /** Pre-model prompting's prompt generator (null in 'post'). */
  readonly generator: ContextDecoder | null;
  private readonly params: ParamReader;
  private classTokens: ClassTokens;

  /**
   * `weights` holds `contexts` [1, M, D], `gamma` [E] and `context_decoder.*` in the official names
   * (denseClipInitialWeights draws them as the official code does).
   */
  constructor(readonly clip: ClipModel, classTokens: ClassTokens, readonly config: DenseClipConfig, weights: StateDict, source = 'DenseCLIP weights') {
    const e = clip.config.embedDim;
    const d = clip.config.transformerWidth;
    this.backbone = new DenseClipBackbone(clip, config.inputResolution, config.attnpoolHeads);
    this.params = new ParamReader(weights, source, true);
    if (config.prompting === 'pre') {
      this.contexts = null;
      this.gamma = null;
      this.decoder = null;
      this.generator = new ContextDecoder(this.params, 'prompt_generator', e, config.decoder, { queries: config.nCtx, outDim: d });
    } else {
      this.contexts = this.params.tensor('contexts', [1, config.nCtx, d]) as tf.Tensor3D;
      this.gamma = this.params.tensor('gamma', [e]) as tf.Tensor1D;
      this.decoder = new ContextDecoder(this.params, 'context_decoder', e, config.decoder);
      this.generator = null;
    }
    this.classTokens = this.checkTokens(classTokens);
  }

  private checkTokens(t: ClassTokens): ClassTokens {
    const [k, l] = t.shape;
    if (l !== this.config.classContextLength) throw new Error(`DenseCLIP: class tokens have length ${l}, expected ${this.config.classContextLength} (SOT, at most ${this.config.classContextLength - 2} BPE tokens, EOT)`);
    if (k < 1 || t.ids.length !== k * l) throw new Error(`DenseCLIP: ${t.ids.length} class token ids for shape [${k}, ${l}]`);
    if (1 + this.config.nCtx + l - 1 > this.clip.config.contextLength) throw new Error(`DenseCLIP: ${this.config.nCtx} contexts and ${l} class tokens exceed the text context length ${this.clip.config.contextLength}`);
    return t;
  }

  /** Another class list (the score map's K follows it); what was learned is kept. */
  setClassTokens(t: ClassTokens): void {
    this.classTokens = this.checkTokens(t);
  }

  get numClasses(): number {
    return this.classTokens.shape[0];
  }

  /** Everything that trains here (contexts, gamma, the context decoder); the backbone's are the CLIP model's. */
  trainableVariables(): tf.Variable[] {
    return this.params.created.filter((t): t is tf.Variable => t instanceof tf.Variable && t.trainable);
  }

  /**
   * The class text features: [SOT, ctx_1..ctx_M, the class tokens after SOT] through CLIP's frozen
   * text encoder, read at the EOT (its position in the class tokens + M). With no argument, the
   * learned contexts (post-model): [K, E]; with prompt vectors [B, M, D] (pre-model), each image's
   * own: [B, K, E].
   */
  textEmbeddings(): tf.Tensor2D;
  textEmbeddings(prompts: tf.Tensor3D): tf.Tensor3D;
  textEmbeddings(prompts?: tf.Tensor3D): tf.Tensor2D | tf.Tensor3D {
    const { ids, shape } = this.classTokens;
    const [k, l] = shape;
    const m = this.config.nCtx;
    const eotOf = new Int32Array(k);
    for (let i = 0; i < k; i++) {
      let best = 0;
      for (let j = 1; j < l; j++) if (ids[i * l + j] > ids[i * l + best]) best = j; // argmax, first on ties
      eotOf[i] = best + m;
    }
    const ctx = prompts ?? this.contexts;
    if (!ctx) throw new Error('DenseCLIP.textEmbeddings: pre-model prompting needs the prompt vectors of each image');
    const b = ctx.shape[0];
    return tf.tidy(() => {
      const tokens = this.clip.tokenEmbeddings({ ids, shape });                         // [K, l, D]
      const d = tokens.shape[2];
      const seq = 1 + m + l - 1;
      const sot = tf.broadcastTo(tokens.slice([0, 0, 0], [k, 1, d]).reshape([1, k, 1, d]), [b, k, 1, d]);
      const rest = tf.broadcastTo(tokens.slice([0, 1, 0], [k, l - 1, d]).reshape([1, k, l - 1, d]), [b, k, l - 1, d]);
      const c = tf.broadcastTo(ctx.reshape([b, 1, m, d]), [b, k, m, d]);
      const prompt = tf.concat([sot, c, rest], 2).reshape([b * k, seq, d]) as tf.Tensor3D;  // [B*K, 1+M+l-1, D]
      const eot = Int32Array.from({ length: b * k }, (_, i) => eotOf[i % k]);
      const t = this.clip.encodeTokenEmbeddings(prompt, eot);                          // [B*K, E]
      return prompts ? (t.reshape([b, k, t.shape[1]]) as tf.Tensor3D) : t;
    });
  }

  /** text [B, K, E] and the visual context [B, N, E] -> the decoder's update and the refined text. */
  refine(text: tf.Tensor3D, visualContext: tf.Tensor3D): { diff: tf.Tensor3D; refined: tf.Tensor3D } {
    const { decoder, gamma } = this;
    if (!decoder || !gamma) throw new Error('DenseCLIP.refine: pre-model prompting refines nothing after the text encoder');
    return tf.tidy(() => {
      const diff = decoder.forward(text, visualContext);
      return { diff, refined: tf.add(text, tf.mul(gamma, diff)) as tf.Tensor3D };
    });
  }

  /** cos(V, t): visual [B, E, h, w], text [B, K, E] -> [B, K, h, w]. */
  static scoreMap(visual: tf.Tensor4D, text: tf.Tensor3D): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, e, h, w] = visual.shape;
      const v = l2normalize(visual.reshape([b, e, h * w]).transpose([0, 2, 1]) as tf.Tensor3D); // [B, hw, E]
      const t = l2normalize(text);                                                              // [B, K, E]
      const k = text.shape[1];
      const s = tf.matMul(t, v, false, true);                                                   // [B, K, hw]
      return s.reshape([b, k, h, w]) as tf.Tensor4D;
    });
  }

  /** The whole DenseCLIP forward on pixels NCHW [B, 3, H, W]. */
  forward(pixels: tf.Tensor4D): DenseClipOutput {
    return tf.tidy(() => {
      const f = this.backbone.features(pixels);
      const [b, e, h, w] = f.visualEmbeddings.shape;
      const visualContext = tf.concat([f.globalFeat.reshape([b, 1, e]), f.visualEmbeddings.reshape([b, e, h * w]).transpose([0, 2, 1])], 1) as tf.Tensor3D;
      let textEmbeddings: tf.Tensor2D;
      let diff: tf.Tensor3D;
      let refined: tf.Tensor3D;
      if (this.generator) {
        // pre-model: each image's prompts, the text features of each image's classes, no refinement
        refined = this.textEmbeddings(this.generator.generate(visualContext));          // [B, K, E]
        textEmbeddings = tf.mean(refined, 0) as tf.Tensor2D;
        diff = tf.zerosLike(refined);
      } else {
        textEmbeddings = this.textEmbeddings();
        const text = tf.broadcastTo(textEmbeddings, [b, ...textEmbeddings.shape]) as tf.Tensor3D;
        ({ diff, refined } = this.refine(text, visualContext));
      }
      const scoreMap = DenseCLIP.scoreMap(f.visualEmbeddings, refined);
      const i = this.config.scoreConcatIndex;
      const neckInputs = f.c.map((c, j) => (j === i ? (tf.concat([c, scoreMap], 1) as tf.Tensor4D) : c));
      return { ...f, visualContext, textEmbeddings, textDiff: diff, textRefined: refined, scoreMap, neckInputs };
    });
  }

  /**
   * The auxiliary (identity-head) loss: score map / tau upsampled to the labels' size (bilinear,
   * align_corners=False), cross-entropy with `ignoreIndex` ignored, averaged over *all* B*H*W
   * pixels (mmseg 0.19's 'mean': the ignored ones count as 0), times the loss weight.
   */
  auxLoss(scoreMap: tf.Tensor4D, labels: { data: ArrayLike<number>; shape: [number, number, number] }): tf.Scalar {
    return segmentationLoss(tf.div(scoreMap, this.config.tau) as tf.Tensor4D, labels, this.config.ignoreIndex, this.config.auxLossWeight);
  }

  /** The learned values in the official names and layouts. */
  stateDict(): StateDict {
    return this.params.stateDict();
  }

  dispose(): void {
    this.backbone.dispose();
    tf.dispose(this.params.created);
  }
}

/**
 * Cross-entropy of logits [B, K, h, w] upsampled to labels [B, H, W] (bilinear, align_corners=False),
 * `ignore` ignored, the sum over pixels divided by B*H*W (mmseg 0.19), times `weight`.
 */
export function segmentationLoss(logits: tf.Tensor4D, labels: { data: ArrayLike<number>; shape: [number, number, number] }, ignore: number, weight = 1): tf.Scalar {
  const [b, k] = logits.shape;
  const [lb, hh, ww] = labels.shape;
  if (lb !== b) throw new Error(`segmentationLoss: ${lb} label maps for ${b} images`);
  const n = b * hh * ww;
  const onehot = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const y = labels.data[i];
    if (y === ignore) continue;
    if (!Number.isInteger(y) || y < 0 || y >= k) throw new Error(`segmentationLoss: label ${y} at pixel ${i} is neither a class (0..${k - 1}) nor the ignore index ${ignore}`);
    onehot[i * k + y] = 1;
  }
  return tf.tidy(() => {
    const up = tf.transpose(resizeBilinearNCHW(logits, hh, ww), [0, 2, 3, 1]);          // [B, H, W, K]
    const logp = tf.logSoftmax(up.reshape([n, k]));
    const picked = tf.sum(tf.mul(logp, tf.tensor2d(onehot, [n, k])));                  // ignored pixels contribute 0
    return tf.mul(tf.neg(picked), weight / n) as tf.Scalar;
  });
}
