// The CSP paper's CoOp baseline for compositional zero-shot learning (BatsResearch/csp models/coop.py):
// the template "a photo of x x" with its attribute and object slots filled by the frozen vocabulary
// (each name's mean BPE-piece embedding, as CSP starts from) and the words before them learned:
//
//   T_p = [SOT, ctx_1 .. ctx_n, V[a_p], V[|A| + o_p], EOT]      ctx initialised from "a photo of "
//
// so it learns how to ask, not what the attributes and objects are; CSP learns the reverse.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import { CompositionalPrompt, type PairIndex, type TokenIds } from './csp';

export interface CompositionalCoOpConfig {
  /** The context's initial words (their number is n); default "a photo of ". */
  ctxInit: string;
  template: string;
  contextLength?: number;
}

export const COMPOSITIONAL_COOP_DEFAULTS: CompositionalCoOpConfig = { ctxInit: 'a photo of ', template: 'a photo of x x' };

export class CompositionalCoOp extends CompositionalPrompt {
  readonly name = 'coop';
  readonly config: CompositionalCoOpConfig;
  /** [n, D]: the learned words before the slots. */
  readonly ctx: tf.Variable;

  /** `ids` as CompositionalPrompt's, plus the context initialisation's ids [1, L]. */
  constructor(
    clip: ClipModel,
    tokenizer: ClipTokenizer | null,
    attrs: readonly string[],
    objs: readonly string[],
    pairs: readonly PairIndex[],
    config: Partial<CompositionalCoOpConfig> = {},
    ids?: { template: TokenIds; vocab: TokenIds; ctxInit: TokenIds },
  ) {
    const cfg = { ...COMPOSITIONAL_COOP_DEFAULTS, ...config };
    super(clip, tokenizer, attrs, objs, pairs, cfg.template, cfg.contextLength, ids);
    this.config = cfg;
    const n = cfg.ctxInit.trim().split(/\s+/).length;
    const init = ids?.ctxInit ?? (tokenizer as ClipTokenizer).tokenize([cfg.ctxInit], { contextLength: cfg.contextLength ?? clip.config.contextLength });
    const ctx = tf.tidy(() => clip.tokenEmbeddings(init).slice([0, 1, 0], [1, n, -1]).reshape([n, -1]));
    this.ctx = tf.variable(ctx, true);
    ctx.dispose();
  }

  trainableVariables(): tf.Variable[] {
    return [this.ctx];
  }

  protected vocabulary(): tf.Tensor2D {
    return this.initialVocab;
  }

  protected override context(): tf.Tensor2D {
    return this.ctx as tf.Tensor as tf.Tensor2D;
  }
}
