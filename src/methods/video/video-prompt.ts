// Video prompting: "Prompting Visual-Language Models for Efficient Video Understanding" (Ju, Han,
// Zheng, Zhang and Xie, ECCV 2022, https://arxiv.org/abs/2112.04478), as the official code
// (ju-chen/Efficient-Prompt src/model.py CLIPrompt, src/train.py train_CLIPrompt; methods.md 5):
//
//   t_k = TextEncoder([SOT, prefix vectors, name_k, postfix vectors, EOT])           (prompts.ts)
//   v_b = mean_T TemporalModelling(frames_b + temporalEmbedding)   or mean_T frames_b  (temporal.ts)
//   logits = cos(v, t) / 0.07          (featnorm 0: v . t)
//   loss = CE over the batch's classes plus random negatives, up to numContrast ("NCE")
//
// Everything that learns is one state dict with the official CLIPrompt names (`embedding.weight`,
// `temporalEmbedding.weight`, `temporalModelling.resblocks.{i}.*`), so official checkpoints load and
// ours save in the same layout. CLIP stays frozen; input videos are frozen per-frame features.
import * as tf from '@tensorflow/tfjs';
import { variableGradsFreeing } from '../../clip/backprop';
import { eotPositions, type ClipModel } from '../../clip/model';
import { ParamReader } from '../../clip/params';
import type { ClipTokenizer } from '../../clip/tokenizer';
import type { StateDict } from '../../clip/weights';
import { normalArray, streamFor } from '../../random';
import { AdamW, type AdamWConfig } from '../../train/adamw';
import { crossEntropy, l2normalize } from '../method';
import { layoutPrompt, PROMPT_LAYOUTS, splicePrompts, type ClassPrompt, type PromptLayout } from './prompts';
import { TemporalModelling, temporalInitialWeights } from './temporal';

export interface VideoPromptConfig {
  /** Learned vectors before the class name (--prefix; the README's 16, the code's default 0). */
  prefix: number;
  /** Learned vectors after the class name (--postfix; the README's 16). */
  postfix: number;
  /** 'official': the absolute-position table of the official code; 'paper': vectors shared by role. */
  layout: PromptLayout;
  /** --temporal 1: frames + learned positions through the temporal transformer, then the mean; 0: the mean of the raw frames. */
  temporal: boolean;
  /** --tfm_layers (the README's 1, the code's default 2). */
  tfmLayers: number;
  /** --tfm_heads (8). */
  tfmHeads: number;
  /** --numFrames T: the frames per video, and the learned temporal positions (16). */
  numFrames: number;
  /** --featnorm 1: cosine similarity / temperature; 0: the raw dot product. */
  featnorm: boolean;
  /** The fixed temperature (0.07), not CLIP's logit scale. */
  temperature: number;
  /** --numContrast: classes scored per training step, the batch's plus random negatives (400). */
  numContrast: number;
  /** N(0, initStd) for the prompt table and the temporal positions (0.01). */
  initStd: number;
  /** Seeds the initial weights and the negatives' draws. */
  seed: number;
}

export const VIDEO_PROMPT_DEFAULTS: VideoPromptConfig = {
  prefix: 16, postfix: 16, layout: 'official', temporal: true, tfmLayers: 1, tfmHeads: 8, numFrames: 16,
  featnorm: true, temperature: 0.07, numContrast: 400, initStd: 0.01, seed: 0,
};

/** Token ids [K, L] of the class names as `clip.tokenize` returns them: [SOT, name, EOT, 0...]. */
export interface TokenIds {
  ids: Int32Array;
  shape: [number, number];
}

/** The learned parameters' initial values (official names), drawn as the official code does. */
export function videoPromptInitialWeights(config: VideoPromptConfig, dims: { contextLength: number; textWidth: number; embedDim: number }): StateDict {
  const { contextLength: l, textWidth: d, embedDim: e } = dims;
  const { numFrames: t, initStd, seed } = config;
  const sd = config.temporal ? temporalInitialWeights('temporalModelling', e, config.tfmLayers, seed) : new Map() as StateDict;
  sd.set('embedding.weight', { shape: [l, d], data: normalArray(l * d, initStd, seed, 'video-prompt-embedding') });
  sd.set('temporalEmbedding.weight', { shape: [t, e], data: normalArray(t * e, initStd, seed, 'video-temporal-embedding') });
  return sd;
}

/** Python's sort order of strings (np.unique): by code point. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i].codePointAt(0) as number) - (y[i].codePointAt(0) as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

export class VideoPrompt {
  readonly name = 'videoprompt';
  readonly config: VideoPromptConfig;
  /** The prompt table [L, D] (`embedding.weight`). */
  readonly embedding: tf.Tensor2D;
  /** The learned frame positions [T, E] (`temporalEmbedding.weight`); null without the temporal transformer. */
  readonly temporalEmbedding: tf.Tensor2D | null;
  readonly temporalModelling: TemporalModelling | null;
  private readonly params: ParamReader;
  private names: string[] = [];
  private prompts: ClassPrompt[] = [];
  private negativeDraws = 0;

  /**
   * `opts.tokens`: the class names' token ids [K, L] (tests, or text tokenized elsewhere) instead of
   * tokenizing here; `opts.weights`: learned parameters in the official names (a checkpoint, or a
   * golden case), instead of the official random start.
   */
  constructor(
    readonly clip: ClipModel,
    readonly tokenizer: ClipTokenizer | null,
    classNames: readonly string[],
    config: Partial<VideoPromptConfig> = {},
    opts: { tokens?: TokenIds; weights?: StateDict; source?: string } = {},
  ) {
    const cfg = { ...VIDEO_PROMPT_DEFAULTS, ...config };
    const count = (what: string, v: number, min: number) => {
      if (!Number.isInteger(v) || v < min) throw new Error(`VideoPrompt: ${what} must be an integer >= ${min}, got ${v}`);
    };
    count('prefix', cfg.prefix, 0);
    count('postfix', cfg.postfix, 0);
    count('tfmLayers', cfg.tfmLayers, 0);
    count('numFrames', cfg.numFrames, 1);
    count('numContrast', cfg.numContrast, 1);
    if (!PROMPT_LAYOUTS.includes(cfg.layout)) throw new Error(`VideoPrompt: unknown layout "${cfg.layout}" (valid: ${PROMPT_LAYOUTS.join(', ')})`);
    if (!(cfg.temperature > 0)) throw new Error(`VideoPrompt: temperature must be positive, got ${cfg.temperature}`);
    this.config = cfg;
    const { contextLength, transformerWidth: d, embedDim: e } = clip.config;
    this.params = new ParamReader(opts.weights ?? videoPromptInitialWeights(cfg, { contextLength, textWidth: d, embedDim: e }), opts.source ?? 'video prompt weights', true);
    try {
      this.embedding = this.params.tensor('embedding.weight', [contextLength, d]) as tf.Tensor2D;
      this.temporalEmbedding = cfg.temporal ? (this.params.tensor('temporalEmbedding.weight', [cfg.numFrames, e]) as tf.Tensor2D) : null;
      this.temporalModelling = cfg.temporal ? new TemporalModelling(this.params, 'temporalModelling', e, cfg.tfmLayers, cfg.tfmHeads) : null;
      this.setClassNames(classNames, opts.tokens);
    } catch (err) {
      tf.dispose(this.params.created);
      throw err;
    }
  }

  get classNames(): readonly string[] {
    return this.names;
  }

  /** The class names scored from now on; `tokens` [K, L] as in the constructor. What was learned is kept. */
  setClassNames(names: readonly string[], tokens?: TokenIds): void {
    const length = this.clip.config.contextLength;
    if (names.length === 0) throw new Error('VideoPrompt: no class names');
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) throw new Error(`VideoPrompt: the class name "${n}" appears twice`);
      seen.add(n);
    }
    if (!tokens && !this.tokenizer) throw new Error('VideoPrompt: a tokenizer is needed to tokenize the class names (or pass their token ids)');
    // the names exactly as given: unlike CoOp, the official code does not turn '_' into ' '
    const t = tokens ?? (this.tokenizer as ClipTokenizer).tokenize(names, { contextLength: length });
    if (t.shape[0] !== names.length || t.shape[1] !== length || t.ids.length !== names.length * length) {
      throw new Error(`VideoPrompt: class-name token ids have shape [${t.shape}] (${t.ids.length} values), expected [${names.length}, ${length}] (one row per class, the text tower's context length)`);
    }
    const { prefix, postfix, layout } = this.config;
    this.prompts = names.map((n, i) => layoutPrompt(t.ids.slice(i * length, (i + 1) * length), prefix, postfix, layout, n));
    this.names = [...names];
  }

  /** Class names -> their indices, or an error naming the unknown one and the valid names. */
  classIndices(names: readonly string[]): number[] {
    return names.map((n) => {
      const i = this.names.indexOf(n);
      if (i < 0) throw new Error(`VideoPrompt: unknown class "${n}" (valid: ${this.names.join(', ')})`);
      return i;
    });
  }

  /** Only these train: the prompt table, and with the temporal transformer its positions and blocks. */
  trainableVariables(): tf.Variable[] {
    return this.params.created.filter((t): t is tf.Variable => t instanceof tf.Variable && t.trainable);
  }

  private checkClasses(classes: readonly number[] | undefined, what = 'classes'): number[] {
    if (classes === undefined) return this.names.map((_, i) => i);
    if (classes.length === 0) throw new Error(`VideoPrompt: ${what} is empty`);
    const seen = new Set<number>();
    classes.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c >= this.names.length) {
        throw new Error(`VideoPrompt: ${what}[${i}] = ${c} is not a class index (valid: 0..${this.names.length - 1}, for ${this.names.length} classes)`);
      }
      if (seen.has(c)) throw new Error(`VideoPrompt: ${what}[${i}] = ${c} ("${this.names[c]}") appears twice`);
      seen.add(c);
    });
    return [...classes];
  }

  /** The official `prompt_actiontoken` [K, L] of `classes` (default all) and each row's EOT (its argmax). */
  promptTokens(classes?: readonly number[]): { ids: Int32Array; shape: [number, number]; eot: Int32Array } {
    const ks = this.checkClasses(classes);
    const length = this.clip.config.contextLength;
    const ids = new Int32Array(ks.length * length);
    ks.forEach((c, i) => ids.set(this.prompts[c].ids, i * length));
    return { ids, shape: [ks.length, length], eot: eotPositions(ids, ks.length, length) };
  }

  /** The spliced input embeddings [K, L, D] of `classes` (default all), before the positional embedding. */
  promptEmbeddings(classes?: readonly number[]): tf.Tensor3D {
    const ks = this.checkClasses(classes);
    return splicePrompts(this.clip, this.embedding, ks.map((c) => this.prompts[c]));
  }

  /** Text features [K, E] of `classes` (default all), not normalised. */
  textFeatures(classes?: readonly number[]): tf.Tensor2D {
    const ks = this.checkClasses(classes);
    return tf.tidy(() => this.clip.encodeTokenEmbeddings(this.promptEmbeddings(ks), ks.map((c) => this.prompts[c].eot)));
  }

  /** Per-frame features [B, T, E] -> video features [B, E], not normalised. */
  videoFeatures(frames: tf.Tensor3D): tf.Tensor2D {
    this.checkFrames(frames);
    return tf.tidy(() => {
      if (!this.temporalModelling || !this.temporalEmbedding) return tf.mean(frames, 1) as tf.Tensor2D;  // --temporal 0
      const x = tf.add(frames, this.temporalEmbedding) as tf.Tensor3D;                                   // [B, T, E], row t to frame t
      return tf.mean(this.temporalModelling.forward(x), 1) as tf.Tensor2D;                               // [B, E]
    });
  }

  private checkFrames(frames: tf.Tensor): void {
    const e = this.clip.config.embedDim;
    if (!(frames instanceof tf.Tensor) || frames.rank !== 3) {
      const shape = frames instanceof tf.Tensor ? `[${frames.shape.join(', ')}]` : typeof frames;
      throw new Error(`VideoPrompt: frames must be per-frame features [B, T, ${e}], got ${shape}`);
    }
    const [b, t, d] = frames.shape;
    if (b < 1 || t < 1) throw new Error(`VideoPrompt: frames [${b}, ${t}, ${d}] hold no video or no frame`);
    if (d !== e) throw new Error(`VideoPrompt: frames have ${d} features per frame, the model's image features have ${e} ([B, T, ${e}])`);
    if (this.temporalEmbedding && t !== this.config.numFrames) {
      throw new Error(`VideoPrompt: frames have T = ${t} frames, the temporal positions were learned for numFrames = ${this.config.numFrames} (valid: [B, ${this.config.numFrames}, ${e}])`);
    }
  }

  /** Logits [B, K] over `classes` (default all): cos(v, t) / temperature, or v . t without featnorm. */
  logits(frames: tf.Tensor3D, classes?: readonly number[]): tf.Tensor2D {
    const ks = this.checkClasses(classes);
    this.checkFrames(frames);
    return tf.tidy(() => {
      let v = this.videoFeatures(frames);   // [B, E]
      let t = this.textFeatures(ks);        // [K, E]
      if (!this.config.featnorm) return tf.matMul(v, t, false, true) as tf.Tensor2D;
      v = l2normalize(v);
      t = l2normalize(t);
      return tf.div(tf.matMul(v, t, false, true), this.config.temperature) as tf.Tensor2D;
    });
  }

  private checkLabels(labels: ArrayLike<number>): number[] {
    const ls = Array.from(labels);
    ls.forEach((l, i) => {
      if (!Number.isInteger(l) || l < 0 || l >= this.names.length) {
        throw new Error(`VideoPrompt: labels[${i}] = ${l} is not a class index (valid: 0..${this.names.length - 1}: ${this.names.join(', ')})`);
      }
    });
    return ls;
  }

  /**
   * The classes one training step scores, as train_CLIPrompt picks them: the batch's distinct class
   * names sorted (np.unique), then negatives drawn without replacement from the other classes, up to
   * numContrast in all (never fewer than the batch's own); `targets` is each video's column.
   */
  sampleClasses(labels: ArrayLike<number>): { classes: number[]; targets: number[] } {
    const ls = this.checkLabels(labels);
    const positives = [...new Set(ls)].sort((a, b) => byCodePoint(this.names[a], this.names[b]));
    const inBatch = new Set(positives);
    const complement = this.names.map((_, i) => i).filter((i) => !inBatch.has(i));
    const numNeg = Math.min(Math.max(this.config.numContrast - positives.length, 0), complement.length);
    const rng = streamFor(this.config.seed, 'video-negatives', this.negativeDraws++);
    for (let i = 0; i < numNeg; i++) {  // the first numNeg of a partial Fisher-Yates shuffle
      const j = i + rng.int(complement.length - i);
      [complement[i], complement[j]] = [complement[j], complement[i]];
    }
    const classes = [...positives, ...complement.slice(0, numNeg)];
    return { classes, targets: ls.map((l) => classes.indexOf(l)) };
  }

  /**
   * Mean cross-entropy of the logits over `classes` (default: sampleClasses(labels)) against each
   * video's class; every label must be among `classes`.
   */
  loss(frames: tf.Tensor3D, labels: ArrayLike<number>, classes?: readonly number[]): tf.Scalar {
    this.checkFrames(frames);
    const ls = this.checkLabels(labels);
    if (ls.length !== frames.shape[0]) throw new Error(`VideoPrompt: ${ls.length} labels for ${frames.shape[0]} videos`);
    const ks = classes === undefined ? this.sampleClasses(ls).classes : this.checkClasses(classes);
    const targets = ls.map((l, i) => {
      const k = ks.indexOf(l);
      if (k < 0) throw new Error(`VideoPrompt: labels[${i}] = ${l} ("${this.names[l]}") is not among the scored classes [${ks.join(', ')}]`);
      return k;
    });
    return tf.tidy(() => crossEntropy(this.logits(frames, ks), targets));
  }

  /**
   * The learned parameters in the official names and PyTorch layouts: a CLIPrompt state dict less
   * CLIP (and, with temporal off, less `temporalEmbedding.weight`, which the official model keeps unused).
   */
  stateDict(): StateDict {
    return this.params.stateDict();
  }

  /** Gradients keyed by variable name (tf.variableGrads) laid out as stateDict(): official names and shapes. */
  gradientStateDict(grads: tf.NamedTensorMap): StateDict {
    const out: StateDict = new Map();
    for (const [key, shape] of this.params.shapes) out.set(key, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    for (const { key, tensor, layout } of this.params.entries) {
      const g = grads[(tensor as tf.Variable).name];
      if (!g) continue;                                   // no gradient: zeros
      const src = g.dataSync() as Float32Array;
      const dst = (out.get(key) as { data: Float32Array }).data;
      if (layout.kind === 'same') dst.set(src);
      else if (layout.kind === 'rows') dst.set(src, layout.from);
      else if (layout.kind === 'rowsT') {                 // src [cols, count] = rows [from, from + count) transposed
        for (let c = 0; c < layout.cols; c++) for (let r = 0; r < layout.count; r++) dst[(layout.from + r) * layout.cols + c] = src[c * layout.count + r];
      } else throw new Error(`gradientStateDict: ${key} has a ${layout.kind} layout, which video prompting does not use`);
    }
    return out;
  }

  dispose(): void {
    tf.dispose(this.params.created);
  }
}

/** torch.optim.AdamW's defaults with the official weight decay 0.01 (main.py), on every learned parameter. */
export const VIDEO_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** The official optimiser over the method's variables (in trainableVariables() order). */
export function videoOptimizer(m: VideoPrompt, config: AdamWConfig = VIDEO_ADAMW): AdamW {
  return new AdamW(m.trainableVariables().map((v, i) => ({ key: `${m.name}.${i}`, variable: v, decay: true })), config);
}

/**
 * The official learning rate at `iteration` (0-based): CosineAnnealingWarmRestarts(T_0, eta_min =
 * 0.01 lr) stepped with the iteration index after each update, so iteration i runs at f(i - 1).
 * With T_0 = 2e5 it stays within 0.01 % of lr over the README's 1100 iterations.
 */
export function videoLr(iteration: number, lr: number, t0 = 2e5, etaMinFactor = 0.01): number {
  const tCur = Math.max(0, iteration - 1) % t0;
  const etaMin = lr * etaMinFactor;
  return etaMin + ((lr - etaMin) * (1 + Math.cos((Math.PI * tCur) / t0))) / 2;
}

/** One training step as train_CLIPrompt: sample the classes, the loss, the gradients, one AdamW update. */
export function videoTrainStep(m: VideoPrompt, opt: AdamW, frames: tf.Tensor3D, labels: ArrayLike<number>, lr: number): { loss: number; classes: number[] } {
  const { classes } = m.sampleClasses(labels);
  const vars = m.trainableVariables();
  const { value, grads } = variableGradsFreeing(() => m.loss(frames, labels, classes), vars);
  try {
    opt.apply(vars.map((v) => grads[v.name]), lr);
    return { loss: value.dataSync()[0], classes };
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
  }
}
