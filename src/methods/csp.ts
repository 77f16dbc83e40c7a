// CSP, compositional soft prompting (Nayak, Yu and Bach, ICLR 2023): the attributes and objects are
// the learned vocabulary. Each has one vector, initialised as the mean token embedding of its name's
// BPE pieces; a class (attribute, object) is the prompt "a photo of [attr] [obj]" with the template's
// two X slots replaced by the vectors, through the frozen text encoder:
//
//   T_p = embed("a photo of X X")  with  T_p[eot - 2] = V[a_p],  T_p[eot - 1] = V[|A| + o_p]
//   logits = exp(logit_scale) * cos(image, TextEncoder(T_p))      over the candidate pairs
//
// trained by cross-entropy over the seen pairs. As the official code (BatsResearch/csp models/csp.py):
// names are cleaned with .replace(".", " ").lower() (underscores kept), the template's EOT is found as
// the argmax of its ids, and the "attribute dropout" is an element-wise nn.Dropout over the WHOLE
// vocabulary (objects too), one draw per forward shared by every pair, in training mode only.
import * as tf from '@tensorflow/tfjs';
import { eotPositions, type ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import { uniform } from '../random';
import { l2normalize, type ImageInput, type PromptMethod } from './method';

export interface CspConfig {
  /** nn.Dropout's p over the vocabulary in training mode (the official attr_dropout); default 0. */
  attrDropout: number;
  /** The template, its last two words the attribute and object slots; default "a photo of X X". */
  template: string;
  /** Context length the template and names are tokenized to (the official --context_length); default the model's. */
  contextLength?: number;
  /** Seeds the dropout draws. */
  seed: number;
}

export const CSP_DEFAULTS: CspConfig = { attrDropout: 0, template: 'a photo of X X', seed: 0 };

/** An attribute-object pair by index: [attribute, object]. */
export type PairIndex = readonly [number, number];

/** The official cleaning of attribute and object names before tokenizing: '.' -> ' ', lower case. */
export function cspName(name: string): string {
  return name.replace(/\./g, ' ').toLowerCase();
}

/** Token ids [rows, L] as the tokenizer returns them. */
export interface TokenIds {
  ids: Int32Array;
  shape: [number, number];
}

/**
 * What CSP and the CSP repo's CoOp baseline share: a template whose last two words are the attribute
 * and object slots, a vocabulary of attribute and object vectors, the candidate pairs, and the
 * prompts through the frozen text encoder. Subclasses say which part learns.
 */
export abstract class CompositionalPrompt implements PromptMethod {
  abstract readonly name: string;
  /** Training mode (CSP draws its vocabulary dropout then). */
  training = false;
  protected readonly templateEmbeds: tf.Tensor3D; // [1, L, D]
  protected readonly eot: number;
  /** The initial vocabulary [|A| + |O|, D] (mean BPE-piece embeddings of the cleaned names). */
  protected readonly initialVocab: tf.Tensor2D;
  private pairIdx: PairIndex[];

  /**
   * `ids` (tests, or text tokenized elsewhere): the template's ids [1, L] and each name's
   * [V, L] ([SOT, pieces, EOT, 0...]) instead of tokenizing here.
   */
  constructor(
    readonly clip: ClipModel,
    readonly tokenizer: ClipTokenizer | null,
    readonly attrs: readonly string[],
    readonly objs: readonly string[],
    pairs: readonly PairIndex[],
    template: string,
    contextLength: number | undefined,
    ids?: { template: TokenIds; vocab: TokenIds },
  ) {
    const length = contextLength ?? clip.config.contextLength;
    if (!ids && !tokenizer) throw new Error(`${new.target.name}: a tokenizer is needed to tokenize the template and the names`);
    const tok = (texts: string[]) => (tokenizer as ClipTokenizer).tokenize(texts, { contextLength: length });
    const t = ids?.template ?? tok([template]);
    const vocab = ids?.vocab ?? tok([...attrs, ...objs].map(cspName));
    if (vocab.shape[0] !== attrs.length + objs.length) throw new Error(`${new.target.name}: ${vocab.shape[0]} tokenized names for ${attrs.length} attributes and ${objs.length} objects`);
    this.eot = eotPositions(t.ids, 1, t.shape[1])[0];
    if (this.eot < 3) throw new Error(`${new.target.name}: the template "${template}" needs words before its two slots`);
    this.pairIdx = this.checkPairs(pairs);
    this.templateEmbeds = clip.tokenEmbeddings(t);
    this.initialVocab = initialVocabulary(clip, vocab);
  }

  private checkPairs(pairs: readonly PairIndex[]): PairIndex[] {
    for (const [a, o] of pairs) {
      if (!(Number.isInteger(a) && a >= 0 && a < this.attrs.length && Number.isInteger(o) && o >= 0 && o < this.objs.length)) {
        throw new Error(`${this.constructor.name}: pair [${a}, ${o}] is not an (attribute, object) index pair (${this.attrs.length} attributes, ${this.objs.length} objects)`);
      }
    }
    return pairs.map(([a, o]) => [a, o] as const);
  }

  /** The candidate pairs, as "attr obj". */
  get classNames(): readonly string[] {
    return this.pairIdx.map(([a, o]) => `${this.attrs[a]} ${this.objs[o]}`);
  }

  get pairs(): readonly PairIndex[] {
    return this.pairIdx;
  }

  /** Scores these pairs from now on (e.g. every closed- or open-world pair at evaluation). */
  setPairs(pairs: readonly PairIndex[]): void {
    this.pairIdx = this.checkPairs(pairs);
  }

  /** Class names "attr obj" (as classNames gives them) -> setPairs. */
  setClassNames(names: readonly string[]): void {
    const index = new Map<string, PairIndex>();
    this.attrs.forEach((a, i) => this.objs.forEach((o, j) => index.set(`${a} ${o}`, [i, j])));
    this.setPairs(names.map((n) => {
      const p = index.get(n);
      if (!p) throw new Error(`${this.constructor.name}: "${n}" is not "<attribute> <object>" of this vocabulary`);
      return p;
    }));
  }

  abstract trainableVariables(): tf.Variable[];

  /** The vocabulary this forward splices in. */
  protected abstract vocabulary(): tf.Tensor2D;

  /** Learned context vectors for rows 1..n of the template, if any. */
  protected context(): tf.Tensor2D | undefined {
    return undefined;
  }

  /** The spliced prompts [P, L, D] of `pairs` (default the candidates). */
  tokenTensors(pairs: readonly PairIndex[] = this.pairIdx): tf.Tensor3D {
    return tf.tidy(() => {
      const { prefix, rest } = splicePairs(this.templateEmbeds, this.eot, this.vocabulary(), this.attrs.length, pairs, this.context());
      return tf.concat([tf.broadcastTo(prefix, [pairs.length, prefix.shape[1], prefix.shape[2]]), rest], 1) as tf.Tensor3D;
    });
  }

  /**
   * Text features [P, E] of `pairs` (default the candidates), not normalised. The positions before the
   * attribute slot are the same for every pair and, under the causal mask, do not depend on what
   * follows: they go through the text tower once (encodeWithSharedPrefix), not once per pair.
   */
  textFeatures(pairs: readonly PairIndex[] = this.pairIdx): tf.Tensor2D {
    return tf.tidy(() => {
      const { prefix, rest } = splicePairs(this.templateEmbeds, this.eot, this.vocabulary(), this.attrs.length, pairs, this.context());
      return this.clip.encodeWithSharedPrefix(prefix, rest, new Int32Array(pairs.length).fill(this.eot));
    });
  }

  logits(input: ImageInput): tf.Tensor2D {
    return tf.tidy(() => {
      const f = input.features ?? l2normalize(this.clip.encodeImage(input.pixels as tf.Tensor4D));
      const t = l2normalize(this.textFeatures());
      return tf.mul(tf.matMul(f, tf.transpose(t)), tf.exp(this.clip.logitScaleParam)) as tf.Tensor2D;
    });
  }

  dispose(): void {
    this.templateEmbeds.dispose();
    this.initialVocab.dispose();
    tf.dispose(this.trainableVariables());
  }
}

export class CSP extends CompositionalPrompt {
  readonly name = 'csp';
  readonly config: CspConfig;
  /** [|A| + |O|, D]: attributes, then objects. */
  readonly softEmbeddings: tf.Variable;
  private dropoutDraws = 0;
  /** A dropout mask [V, D] (1 = kept) to use at the next training forward instead of a draw (tests). */
  nextDropoutMask: Float32Array | null = null;

  constructor(
    clip: ClipModel,
    tokenizer: ClipTokenizer | null,
    attrs: readonly string[],
    objs: readonly string[],
    pairs: readonly PairIndex[],
    config: Partial<CspConfig> = {},
    ids?: { template: TokenIds; vocab: TokenIds },
  ) {
    const cfg = { ...CSP_DEFAULTS, ...config };
    if (!(cfg.attrDropout >= 0 && cfg.attrDropout < 1)) throw new Error(`CSP: attrDropout must be in [0, 1), got ${cfg.attrDropout}`);
    super(clip, tokenizer, attrs, objs, pairs, cfg.template, cfg.contextLength, ids);
    this.config = cfg;
    this.softEmbeddings = tf.variable(this.initialVocab, true, undefined, 'float32');
  }

  trainableVariables(): tf.Variable[] {
    return [this.softEmbeddings];
  }

  /** The vocabulary as this forward sees it: dropped out in training mode (inverted dropout), else as is. */
  protected vocabulary(): tf.Tensor2D {
    const p = this.config.attrDropout;
    if (!this.training || p === 0) return this.softEmbeddings as tf.Tensor as tf.Tensor2D;
    const [v, d] = this.softEmbeddings.shape;
    let mask = this.nextDropoutMask;
    this.nextDropoutMask = null;
    if (!mask) {
      const r = uniform(this.config.seed, 'csp-dropout', this.dropoutDraws++);
      mask = Float32Array.from({ length: v * d }, () => (r() >= p ? 1 : 0));
    }
    if (mask.length !== v * d) throw new Error(`CSP: a dropout mask needs ${v * d} values, got ${mask.length}`);
    return tf.mul(this.softEmbeddings, tf.mul(tf.tensor2d(mask, [v, d]), 1 / (1 - p))) as tf.Tensor2D;
  }
}

/**
 * The template's embeddings [1, L, D] with, for each pair, the attribute's and the object's row of
 * `vocab` [|A| + |O|, D] at EOT-2 and EOT-1, and (the repo's CoOp baseline) `ctx` [n, D] at rows
 * 1..n, as two parts: the `prefix` [1, EOT-2, D] every pair shares, and each pair's `rest`
 * [P, L-EOT+2, D] from the attribute slot on. Rows are picked by one-hot matMul, since a gather's
 * gradient to its table is missing on WASM.
 */
export function splicePairs(templateEmbeds: tf.Tensor3D, eot: number, vocab: tf.Tensor2D, numAttrs: number, pairs: readonly PairIndex[], ctx?: tf.Tensor2D): { prefix: tf.Tensor3D; rest: tf.Tensor3D } {
  return tf.tidy(() => {
    const nv = vocab.shape[0];
    const pick = (idx: number[]) => tf.matMul(tf.oneHot(tf.tensor1d(idx, 'int32'), nv), vocab);
    const attr = pick(pairs.map(([a]) => a));              // [P, D]
    const obj = pick(pairs.map(([, o]) => numAttrs + o));  // [P, D]
    const n = pairs.length;
    const [, len, d] = templateEmbeds.shape;
    const k = ctx ? ctx.shape[0] : 0;
    if (k > eot - 3) throw new Error(`splicePairs: ${k} context vectors do not fit before the template's slots`);
    const rows = (from: number, to: number) => templateEmbeds.slice([0, from, 0], [1, to - from, d]);
    const head: tf.Tensor[] = [rows(0, 1)];
    if (ctx) head.push(ctx.expandDims(0));
    if (eot - 2 > 1 + k) head.push(rows(1 + k, eot - 2));
    const prefix = (head.length === 1 ? head[0] : tf.concat(head, 1)) as tf.Tensor3D;
    const rest = tf.concat([attr.expandDims(1), obj.expandDims(1), tf.broadcastTo(rows(eot, len), [n, len - eot, d])], 1) as tf.Tensor3D;
    return { prefix, rest };
  });
}

/** csp_init: each name's vector is the mean of its BPE pieces' token embeddings (positions 1 .. EOT-1). */
export function initialVocabulary(clip: ClipModel, vocab: TokenIds): tf.Tensor2D {
  const [v, len] = vocab.shape;
  const eots = eotPositions(vocab.ids, v, len);
  return tf.tidy(() => {
    const embeds = clip.tokenEmbeddings(vocab); // [V, L, D]
    const rows = Array.from({ length: v }, (_, i) => {
      if (eots[i] < 2) throw new Error(`CSP: name ${i} has no BPE piece between SOT and EOT`);
      return tf.mean(embeds.slice([i, 1, 0], [1, eots[i] - 1, -1]), 1);
    });
    return tf.concat(rows, 0) as tf.Tensor2D;
  });
}
