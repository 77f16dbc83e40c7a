// CoCoOp (Zhou et al., CVPR 2022): CoOp's context plus an image-conditional bias from a small
// meta-net, pi = Linear(E, E/16) -> ReLU -> Linear(E/16, D) on the normalised image feature, added
// to every context vector, so each image gets its own prompts. methods.md 2. The B x K prompts of
// a batch go through the text encoder as one [B*K, L, D] batch (truncated at the last EOT).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import { matMul } from '../clip/ops';
import { uniform } from '../random';
import { ImageInput, l2normalize, PromptMethod } from './method';
import { buildPromptBuffers, disposeBuffers, initialContext, PromptBuffers } from './prompt-template';

export interface CoCoOpConfig {
  nCtx: number;
  ctxInit: string;
  initStd: number;
  seed: number;
}

export const COCOOP_DEFAULTS: CoCoOpConfig = { nCtx: 4, ctxInit: 'a photo of a', initStd: 0.02, seed: 0 };

/** PyTorch's default Linear init: weight and bias U(-1/sqrt(in), 1/sqrt(in)); weight stored [in, out]. */
function linearInit(inDim: number, outDim: number, rand: () => number): { w: tf.Variable; b: tf.Variable } {
  const bound = 1 / Math.sqrt(inDim);
  const u = (n: number) => Float32Array.from({ length: n }, () => (2 * rand() - 1) * bound);
  const variable = (t: tf.Tensor) => {
    const v = tf.variable(t); // shares t's data; t itself must still go
    t.dispose();
    return v;
  };
  return { w: variable(tf.tensor2d(u(inDim * outDim), [inDim, outDim])), b: variable(tf.tensor1d(u(outDim))) };
}

export class CoCoOp implements PromptMethod {
  readonly name = 'cocoop';
  readonly config: CoCoOpConfig;
  readonly nCtx: number;
  readonly ctx: tf.Variable; // [nCtx, D]
  /** meta_net.linear1 (w [E, E/16], b) and linear2 (w [E/16, D], b). */
  readonly metaNet: { linear1: { w: tf.Variable; b: tf.Variable }; linear2: { w: tf.Variable; b: tf.Variable } };
  private readonly prefixText: string;
  private buffers: PromptBuffers;
  private names: string[];

  constructor(readonly clip: ClipModel, readonly tokenizer: ClipTokenizer, classNames: readonly string[], config: Partial<CoCoOpConfig> = {}) {
    this.config = { ...COCOOP_DEFAULTS, ...config };
    const d = clip.config.transformerWidth;
    const e = clip.config.embedDim;
    const init = initialContext(clip, tokenizer, { ...this.config, std: this.config.initStd, shape: [this.config.nCtx, d] });
    this.nCtx = init.nCtx;
    this.prefixText = init.prefixText;
    this.ctx = tf.variable(init.ctx, true);
    init.ctx.dispose();
    const rand = uniform(this.config.seed, 'meta-net-init');
    const hidden = Math.max(1, Math.floor(e / 16));
    this.metaNet = { linear1: linearInit(e, hidden, rand), linear2: linearInit(hidden, d, rand) };
    this.names = [...classNames];
    this.buffers = buildPromptBuffers(clip, tokenizer, classNames, this.prefixText, this.nCtx);
  }

  get classNames(): readonly string[] {
    return this.names;
  }

  /** The placeholder prompts' token ids [K, L] and each class name's BPE length. */
  get tokenizedPrompts(): { ids: Int32Array; shape: [number, number]; nameLens: number[] } {
    return { ids: this.buffers.tokenized, shape: [this.names.length, this.buffers.length], nameLens: this.buffers.nameLens };
  }

  trainableVariables(): tf.Variable[] {
    const { linear1, linear2 } = this.metaNet;
    return [this.ctx, linear1.w, linear1.b, linear2.w, linear2.b];
  }

  setClassNames(names: readonly string[]): void {
    disposeBuffers(this.buffers);
    this.names = [...names];
    this.buffers = buildPromptBuffers(this.clip, this.tokenizer, names, this.prefixText, this.nCtx);
  }

  /** pi = meta_net(f) [B, D] for normalised image features f [B, E]. */
  bias(f: tf.Tensor2D): tf.Tensor2D {
    const { linear1, linear2 } = this.metaNet;
    return tf.tidy(() => {
      const h = tf.relu(tf.add(matMul(f, linear1.w as tf.Tensor as tf.Tensor2D), linear1.b));
      return tf.add(matMul(h as tf.Tensor2D, linear2.w as tf.Tensor as tf.Tensor2D), linear2.b) as tf.Tensor2D;
    });
  }

  logits(input: ImageInput): tf.Tensor2D {
    return tf.tidy(() => {
      const f = input.features ?? l2normalize(this.clip.encodeImage(input.pixels as tf.Tensor4D)); // [B, E]
      const b = f.shape[0];
      const { tokenPrefix: prefix, tokenSuffix: suffix, eot } = this.buffers;
      const [k, , d] = prefix.shape;
      const ctx = tf.add(this.ctx.expandDims(0), this.bias(f).expandDims(1));                 // [B, nCtx, D]
      const prompts = tf.concat([
        tf.broadcastTo(prefix.expandDims(0), [b, k, 1, d]),
        tf.broadcastTo(ctx.expandDims(1), [b, k, this.nCtx, d]),
        tf.broadcastTo(suffix.expandDims(0), [b, k, suffix.shape[1], d]),
      ], 2).reshape([b * k, -1, d]) as tf.Tensor3D;                                            // [B*K, L, D]
      const eots = new Int32Array(b * k);
      for (let i = 0; i < b; i++) eots.set(eot, i * k);
      const t = l2normalize(this.clip.encodeTokenEmbeddings(prompts, eots)).reshape([b, k, -1]); // [B, K, E]
      const cos = tf.sum(tf.mul(t, f.expandDims(1)), -1);                                         // [B, K]
      return tf.mul(cos, tf.exp(this.clip.logitScaleParam)) as tf.Tensor2D;
    });
  }

  dispose(): void {
    disposeBuffers(this.buffers);
    tf.dispose(this.trainableVariables());
  }
}
