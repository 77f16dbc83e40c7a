// The text side shared by CoOp and CoCoOp (methods.md 1.1): "X X ... X name." prompts tokenized
// with CLIP's BPE, their frozen token embeddings split into the SOT prefix and the suffix after
// the context slots, and each class name's BPE length.
import * as tf from '@tensorflow/tfjs';
import { ClipModel, eotPositions } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import { fillTemplate, promptClassName } from '../data/dataset';
import { normalArray } from '../random';

export interface PromptBuffers {
  /** [K, L] token ids of the placeholder prompts (EOT at the argmax). */
  tokenized: Int32Array;
  length: number;
  /** EOT position of each prompt. */
  eot: Int32Array;
  /** [K, 1, D]: the SOT embedding. */
  tokenPrefix: tf.Tensor3D;
  /** [K, L - 1 - nCtx, D]: class-name tokens, '.', EOT and padding. */
  tokenSuffix: tf.Tensor3D;
  /** BPE tokens of each class name. */
  nameLens: number[];
}

/**
 * Builds the buffers for `prefixText + " " + name + "."` prompts (prefixText = "X X X X" or the
 * initialisation words; the name with '_' as spaces), of the model's context length: the prompt
 * text of fillTemplate(prefixText + " {}.", name), as zero-shot CLIP builds its own.
 */
export function buildPromptBuffers(clip: ClipModel, tokenizer: ClipTokenizer, classNames: readonly string[], prefixText: string, nCtx: number): PromptBuffers {
  const batch = tokenizer.tokenize(classNames.map((n) => fillTemplate(`${prefixText} {}.`, n)), { contextLength: clip.config.contextLength });
  return buffersFromIds(clip, batch, nCtx, classNames.map((n) => tokenizer.encode(promptClassName(n)).length));
}

/** The same buffers from already tokenized prompts [K, L] laid out [SOT, ctx slots, name, '.', EOT, 0...]. */
export function buffersFromIds(clip: ClipModel, batch: { ids: Int32Array; shape: [number, number] }, nCtx: number, nameLens: number[]): PromptBuffers {
  const [k, length] = batch.shape;
  const embeds = clip.tokenEmbeddings(batch);                      // [K, L, D]
  const tokenPrefix = embeds.slice([0, 0, 0], [k, 1, -1]);
  const tokenSuffix = embeds.slice([0, 1 + nCtx, 0], [k, length - 1 - nCtx, -1]);
  embeds.dispose();
  return { tokenized: batch.ids, length, eot: eotPositions(batch.ids, k, length), tokenPrefix, tokenSuffix, nameLens };
}

export function disposeBuffers(b: PromptBuffers): void {
  b.tokenPrefix.dispose();
  b.tokenSuffix.dispose();
}

/**
 * The initial context: the token embeddings of the initialisation words (n_ctx = their number of
 * words, as the official code sets it), or N(0, std) with the given seed.
 */
export function initialContext(clip: ClipModel, tokenizer: ClipTokenizer, opts: { ctxInit: string; nCtx: number; std: number; seed: number; shape: number[] }): { ctx: tf.Tensor; nCtx: number; prefixText: string } {
  const init = opts.ctxInit.trim().replace(/_/g, ' ');
  if (init) {
    const nCtx = init.split(' ').length;
    const ids = tokenizer.tokenize([init], { contextLength: clip.config.contextLength });
    const ctx = tf.tidy(() => clip.tokenEmbeddings(ids).slice([0, 1, 0], [1, nCtx, -1]).reshape([nCtx, -1]));
    return { ctx, nCtx, prefixText: init };
  }
  const ctx = tf.tensor(normalArray(opts.shape.reduce((a, b) => a * b, 1), opts.std, opts.seed, 'context-init'), opts.shape, 'float32');
  return { ctx, nCtx: opts.nCtx, prefixText: Array(opts.nCtx).fill('X').join(' ') };
}
