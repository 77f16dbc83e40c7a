// CoOp (Zhou et al., IJCV 2022): learnable context vectors in place of a hand-crafted prompt.
// prompts = [SOT, ctx_1..ctx_M, name tokens, '.', EOT] (class token at the end, middle or front),
// through the frozen text encoder; logits = exp(logit_scale) * cos(image, text). methods.md 1.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import { ImageInput, l2normalize, PromptMethod } from './method';
import { buffersFromIds, buildPromptBuffers, disposeBuffers, initialContext, PromptBuffers } from './prompt-template';

export type ClassTokenPosition = 'end' | 'middle' | 'front';

export interface CoOpConfig {
  /** Context vectors M (ignored when ctxInit is set: the number of its words). */
  nCtx: number;
  /** Initialisation words, e.g. "a photo of a"; '' = N(0, initStd). */
  ctxInit: string;
  /** Class-specific context (one set per class); ignored with ctxInit, as the official code. */
  csc: boolean;
  classTokenPosition: ClassTokenPosition;
  initStd: number;
  seed: number;
}

export const COOP_DEFAULTS: CoOpConfig = { nCtx: 16, ctxInit: '', csc: false, classTokenPosition: 'end', initStd: 0.02, seed: 0 };

export class CoOp implements PromptMethod {
  readonly name = 'coop';
  readonly config: CoOpConfig;
  readonly nCtx: number;
  readonly ctx: tf.Variable;           // [nCtx, D] or [K, nCtx, D] (class-specific)
  private readonly prefixText: string;
  private buffers: PromptBuffers;
  private names: string[];

  /**
   * `promptIds` (tests, or prompts tokenized elsewhere): use these [K, L] ids, laid out
   * [SOT, X * nCtx, name, '.', EOT, 0...], instead of tokenizing "X X ... name." here.
   */
  constructor(
    readonly clip: ClipModel,
    readonly tokenizer: ClipTokenizer | null,
    classNames: readonly string[],
    config: Partial<CoOpConfig> = {},
    promptIds?: { ids: Int32Array; shape: [number, number]; nameLens?: number[] },
  ) {
    const cfg = { ...COOP_DEFAULTS, ...config };
    if (promptIds && !promptIds.nameLens && cfg.classTokenPosition !== 'end') {
      throw new Error(`CoOp: the class token goes ${cfg.classTokenPosition === 'middle' ? 'in the middle' : 'in front'}, which needs each class name's BPE length: pass promptIds.nameLens with promptIds`);
    }
    const csc = cfg.csc && !cfg.ctxInit.trim();
    this.config = { ...cfg, csc };
    const d = clip.config.transformerWidth;
    if (!tokenizer && (!promptIds || cfg.ctxInit.trim())) throw new Error('CoOp: a tokenizer is needed to build prompts from class names or to initialise from words');
    const init = initialContext(clip, tokenizer as ClipTokenizer, {
      ctxInit: cfg.ctxInit, nCtx: cfg.nCtx, std: cfg.initStd, seed: cfg.seed,
      shape: csc ? [classNames.length, cfg.nCtx, d] : [cfg.nCtx, d],
    });
    this.nCtx = init.nCtx;
    this.prefixText = init.prefixText;
    this.ctx = tf.variable(init.ctx, true);
    init.ctx.dispose();
    this.names = [...classNames];
    this.buffers = promptIds
      ? buffersFromIds(clip, promptIds, this.nCtx, promptIds.nameLens ?? classNames.map(() => 0))
      : buildPromptBuffers(clip, tokenizer as ClipTokenizer, classNames, this.prefixText, this.nCtx);
  }

  get classNames(): readonly string[] {
    return this.names;
  }

  /** The placeholder prompts' token ids [K, L] and each class name's BPE length. */
  get tokenizedPrompts(): { ids: Int32Array; shape: [number, number]; nameLens: number[] } {
    return { ids: this.buffers.tokenized, shape: [this.names.length, this.buffers.length], nameLens: this.buffers.nameLens };
  }

  trainableVariables(): tf.Variable[] {
    return [this.ctx];
  }

  setClassNames(names: readonly string[]): void {
    if (this.config.csc && names.length !== this.names.length) {
      throw new Error(`CoOp: class-specific context was learned for ${this.names.length} classes; it cannot serve ${names.length}`);
    }
    if (!this.tokenizer) throw new Error('CoOp: setClassNames needs a tokenizer');
    disposeBuffers(this.buffers);
    this.names = [...names];
    this.buffers = buildPromptBuffers(this.clip, this.tokenizer, names, this.prefixText, this.nCtx);
  }

  /** The spliced input embeddings [K, L, D]. */
  prompts(): tf.Tensor3D {
    return tf.tidy(() => {
      const { tokenPrefix: prefix, tokenSuffix: suffix, nameLens } = this.buffers;
      const [k, , d] = prefix.shape;
      const ctx = (this.ctx.rank === 2 ? tf.broadcastTo(this.ctx.expandDims(0), [k, this.nCtx, d]) : this.ctx) as tf.Tensor3D;
      if (this.config.classTokenPosition === 'end') return tf.concat([prefix, ctx, suffix], 1) as tf.Tensor3D;
      const rows: tf.Tensor[] = [];
      const half = Math.floor(this.nCtx / 2);
      const rest = suffix.shape[1];
      for (let i = 0; i < k; i++) {
        const n = nameLens[i];
        const pre = prefix.slice([i, 0, 0], [1, 1, d]);
        const c = ctx.slice([i, 0, 0], [1, this.nCtx, d]);
        const name = suffix.slice([i, 0, 0], [1, n, d]);
        const after = suffix.slice([i, n, 0], [1, rest - n, d]);
        rows.push(this.config.classTokenPosition === 'middle'
          ? tf.concat([pre, c.slice([0, 0, 0], [1, half, d]), name, c.slice([0, half, 0], [1, this.nCtx - half, d]), after], 1)
          : tf.concat([pre, name, c, after], 1));
      }
      return tf.concat(rows, 0) as tf.Tensor3D;
    });
  }

  /** Normalised text features of every class [K, E]. */
  textFeatures(): tf.Tensor2D {
    return tf.tidy(() => l2normalize(this.clip.encodeTokenEmbeddings(this.prompts(), this.buffers.eot)));
  }

  logits(input: ImageInput): tf.Tensor2D {
    return tf.tidy(() => {
      const f = input.features ?? l2normalize(this.clip.encodeImage(input.pixels as tf.Tensor4D));
      return tf.mul(tf.matMul(f, tf.transpose(this.textFeatures())), tf.exp(this.clip.logitScaleParam)) as tf.Tensor2D;
    });
  }

  dispose(): void {
    disposeBuffers(this.buffers);
    this.ctx.dispose();
  }
}
