// Prompt interpretation as CoOp's interpret_prompt.py: each learned context vector is read as the
// vocabulary tokens whose embeddings are nearest to it by Euclidean distance (torch.cdist against
// the token embedding table). methods.md 1.5. The table is scanned in chunks, so only
// [n_vectors, chunk] distances exist at a time, never [n_vectors, V].
import * as tf from '@tensorflow/tfjs';
import { symbolBytes } from '../clip/tokenizer';

/** What interpretation needs of a tokenizer (ClipTokenizer has both). */
export interface TokenDecoder {
  idToToken(id: number): string | undefined;
  decode(ids: ArrayLike<number>): string;
}

export interface NearestWord {
  id: number;
  /** The vocabulary entry as stored (byte symbols, with '</w>' at a word's end). */
  token: string;
  /** The token decoded to text, '</w>' stripped. */
  word: string;
  /** The token as a reader can take it in (readableToken). */
  readable: string;
  /** Euclidean distance between the context vector and the token's embedding. */
  distance: number;
}

export interface ContextWords {
  /** The class of a class-specific context ([K, n_ctx, D] input), null for a unified one. */
  classIndex: number | null;
  /** The context vector's position, 0-based. */
  position: number;
  /** The nearest tokens, nearest first (ties by id). */
  words: NearestWord[];
}

export interface InterpretOptions {
  /** Tokens per context vector (interpret_prompt.py's `topk`); default 3. */
  topk?: number;
  /** Vocabulary rows per distance chunk; default 4096. */
  chunkSize?: number;
}

/** How readableToken writes tokens, for a note under printed interpretations. */
export const READABLE_TOKEN_NOTE =
  "A token with a trailing '…' is the start or middle of a longer word (BPE splits rare words); " +
  "<e2> is one byte of a multi-byte character that the token holds only part of; ␣ is a space. " +
  'Small distances mean the vector sits near that token; a vector far from every token (compare ' +
  "its distance with the others') does not read as any word.";

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const hex = (b: number) => `<${b.toString(16).padStart(2, '0')}>`;

/**
 * A vocabulary token written for people: a whole word as itself ('photo'), the start or middle of
 * a longer word with a trailing '…' ('phot…'), a space as '␣', control bytes and bytes that are
 * only part of a multi-byte UTF-8 character in hex ('<e2>'); special tokens as they are.
 */
export function readableToken(token: string): string {
  if (/^<\|.*\|>$/.test(token)) return token;
  const end = token.endsWith('</w>');
  const bytes = symbolBytes(end ? token.slice(0, -4) : token);
  if (bytes === null) return token;
  let text: string;
  try {
    text = UTF8.decode(Uint8Array.from(bytes));
    text = [...text].map((c) => (c === ' ' ? '␣' : /[\u0000-\u001f\u007f]/.test(c) ? hex(c.charCodeAt(0)) : c)).join('');
  } catch {
    text = bytes.map(hex).join('');
  }
  return end ? text : `${text}…`;
}

function decodeWord(tokenizer: TokenDecoder, id: number, token: string): string {
  let word: string;
  try {
    word = tokenizer.decode([id]);
  } catch {
    word = token;
  }
  return word.replace(/<\/w>/g, '').trim();
}

/**
 * The nearest vocabulary tokens of each learned context vector. `ctx` is [n_ctx, D] (unified) or
 * [K, n_ctx, D] (class-specific); `tokenEmbedding` is the frozen table [V, D]
 * (`clip.text.tokenEmbedding`). Rows are in order: class by class, position by position.
 */
export function interpretPrompt(ctx: tf.Tensor, tokenEmbedding: tf.Tensor2D, tokenizer: TokenDecoder, opts: InterpretOptions = {}): ContextWords[] {
  const topk = opts.topk ?? 3;
  const chunkSize = opts.chunkSize ?? 4096;
  if (ctx.rank !== 2 && ctx.rank !== 3) throw new Error(`interpretPrompt: ctx should be [n_ctx, D] or [K, n_ctx, D], got shape [${ctx.shape.join(', ')}]`);
  if (tokenEmbedding.rank !== 2) throw new Error(`interpretPrompt: tokenEmbedding should be [V, D], got shape [${tokenEmbedding.shape.join(', ')}]`);
  const [vocab, d] = tokenEmbedding.shape;
  if (ctx.shape[ctx.rank - 1] !== d) {
    throw new Error(`interpretPrompt: ctx width ${ctx.shape[ctx.rank - 1]} does not match the token embedding width ${d}`);
  }
  if (!Number.isSafeInteger(topk) || topk < 1) throw new Error(`interpretPrompt: topk must be a positive integer, got ${topk}`);
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new Error(`interpretPrompt: chunkSize must be a positive integer, got ${chunkSize}`);
  const k = Math.min(topk, vocab);
  const nCtx = ctx.shape[ctx.rank - 2];
  const n = ctx.size / d;
  const rows = tf.tidy(() => tf.cast(ctx.reshape([n, d]), 'float32') as tf.Tensor2D);
  const x = rows.dataSync() as Float32Array;

  // Candidates by squared distance |x|^2 + |e|^2 - 2 x.e, chunk by chunk; best[i] sorted ascending.
  const best: { id: number; d2: number }[][] = Array.from({ length: n }, () => []);
  try {
    for (let start = 0; start < vocab; start += chunkSize) {
      const size = Math.min(chunkSize, vocab - start);
      const d2 = tf.tidy(() => {
        const e = tokenEmbedding.slice([start, 0], [size, d]);
        const xx = rows.square().sum(1, true);          // [n, 1]
        const ee = e.square().sum(1).reshape([1, size]); // [1, size]
        return xx.add(ee).sub(tf.matMul(rows, e, false, true).mul(2)); // [n, size]
      });
      const data = d2.dataSync();
      d2.dispose();
      for (let i = 0; i < n; i++) {
        const b = best[i];
        for (let j = 0; j < size; j++) {
          const v = data[i * size + j];
          if (b.length === k && v >= b[k - 1].d2) continue;
          let p = b.length;
          while (p > 0 && b[p - 1].d2 > v) p--;
          b.splice(p, 0, { id: start + j, d2: v });
          if (b.length > k) b.pop();
        }
      }
    }
  } finally {
    rows.dispose();
  }

  // Exact distances of the candidates in float64 (the expansion above loses digits near 0).
  const ids = [...new Set(best.flat().map((c) => c.id))].sort((a, b) => a - b);
  const at = new Map(ids.map((id, i) => [id, i]));
  const idTensor = tf.tensor1d(ids, 'int32');
  const gathered = tf.tidy(() => tf.cast(tf.gather(tokenEmbedding, idTensor), 'float32'));
  const emb = gathered.dataSync() as Float32Array;
  gathered.dispose();
  idTensor.dispose();

  const out: ContextWords[] = [];
  for (let i = 0; i < n; i++) {
    const words = best[i].map(({ id }) => {
      const r = (at.get(id) as number) * d;
      let s = 0;
      for (let c = 0; c < d; c++) {
        const diff = x[i * d + c] - emb[r + c];
        s += diff * diff;
      }
      const token = tokenizer.idToToken(id) ?? `<${id}>`;
      return { id, token, word: decodeWord(tokenizer, id, token), readable: readableToken(token), distance: Math.sqrt(s) };
    });
    words.sort((a, b) => a.distance - b.distance || a.id - b.id);
    out.push({ classIndex: ctx.rank === 3 ? Math.floor(i / nCtx) : null, position: i % nCtx, words });
  }
  return out;
}

/**
 * One line per context vector in interpret_prompt.py's manner, each token written by readableToken:
 * `1: ['a', 'an', 'phot…'] ['0.0000', '0.4213', '0.5120']`, prefixed by the class for
 * class-specific contexts.
 */
export function formatInterpretation(rows: readonly ContextWords[], classNames?: readonly string[]): string {
  return rows
    .map((r) => {
      const cls = r.classIndex === null ? '' : `${classNames?.[r.classIndex] ?? `class ${r.classIndex}`} `;
      const words = r.words.map((w) => `'${w.readable}'`).join(', ');
      const dist = r.words.map((w) => `'${w.distance.toFixed(4)}'`).join(', ');
      return `${cls}${r.position + 1}: [${words}] [${dist}]`;
    })
    .join('\n');
}
