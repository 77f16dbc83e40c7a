// Learns a byte-level BPE vocabulary in CLIP's format from a corpus of captions, so that a small
// model can use the same tokenizer code path (`ClipTokenizer.fromMerges`) as real CLIP.
//
// Pre-processing is the tokenizer's own: `cleanText`, CLIP's split regex, each piece's UTF-8 bytes
// mapped to the byte-to-unicode characters, "</w>" appended to the last symbol of the piece. The
// special pieces <|startoftext|> and <|endoftext|> are skipped (the tokenizer never splits them).
//
// Learning is standard BPE: count the words (pieces) of the corpus, then repeatedly merge the most
// frequent adjacent pair of symbols within words, every occurrence, left to right, as the tokenizer
// applies a merge. Ties go to the lexicographically smallest pair (first symbol, then second, by
// UTF-16 code units), so the result depends only on the multiset of words: the same corpus, in any
// order, gives byte-identical merges on every machine. A pair whose merged string is already a token
// (it can be made by another split of the same characters) is never merged, so every merge adds a
// new token and the vocabulary has no duplicates; with unique tokens, the tokenizer's rank-ordered
// merging segments each corpus word exactly as training left it.
//
// Learning stops when the vocabulary reaches `vocabSize` (512 byte tokens + merges + 2 specials) or
// when no pair occurs `minFrequency` times; the vocabulary is then smaller than asked for.
//
// Pair counts are kept incrementally: each merge only re-counts the words that contain the pair,
// and the next pair comes from a max-heap with lazily discarded stale entries.
import { cleanText, SPLIT_RE } from './text-clean';
import { BYTE_CHARS, CLIP_MAX_MERGES, EOT_TEXT, SOT_TEXT } from './tokenizer';

export interface BpeTrainOptions {
  /** Total vocabulary size, the 512 byte tokens and the 2 special tokens included; default 1024. */
  vocabSize?: number;
  /** Least number of occurrences (counted over the corpus) a pair needs to be merged; default 2. */
  minFrequency?: number;
}

export interface BpeTrainResult {
  /** The merges file text in OpenAI's format (for `ClipTokenizer.fromMerges`). */
  text: string;
  /** The merges in rank order. */
  merges: Array<[string, string]>;
  /** Vocabulary size of a tokenizer built from `text`: 512 + merges + 2. */
  vocabSize: number;
  /** Why learning stopped: the requested size was reached, or no pair had `minFrequency`. */
  stoppedBy: 'vocabSize' | 'minFrequency';
  /** Pieces (words) in the corpus, and distinct ones. */
  words: number;
  uniqueWords: number;
  /** Pairs never merged because their merged string was already a token. */
  skippedDuplicates: number;
}

/** The header line of OpenAI's merges format. */
export const MERGES_HEADER = '#version: 0.2';

const END_OF_WORD = '</w>';
const BASE_TOKENS = 512;
const SPECIAL_TOKENS = 2;
/** Largest vocabulary the tokenizer reads a merges file into. */
export const MAX_BPE_VOCAB_SIZE = BASE_TOKENS + CLIP_MAX_MERGES + SPECIAL_TOKENS;
// Symbol ids stay below this (at most 512 + 48894 distinct symbols), so a pair key fits in a double.
const SYMBOL_LIMIT = 65536;

/** Max-heap of (count, pair): higher count first, then the lexicographically smaller pair. */
class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  constructor(private readonly symbols: string[]) {}

  get size(): number {
    return this.keys.length;
  }

  /** Whether entry i should come out before entry j. */
  private before(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    if (ci !== cj) return ci > cj;
    const ki = this.keys[i];
    const kj = this.keys[j];
    const ai = this.symbols[Math.floor(ki / SYMBOL_LIMIT)];
    const aj = this.symbols[Math.floor(kj / SYMBOL_LIMIT)];
    if (ai !== aj) return ai < aj;
    return this.symbols[ki % SYMBOL_LIMIT] < this.symbols[kj % SYMBOL_LIMIT];
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top entry; returns its [count, key]. The heap must not be empty. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastCount = this.counts.pop() as number;
    const lastKey = this.keys.pop() as number;
    const n = this.keys.length;
    if (n > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < n && this.before(l, best)) best = l;
        if (r < n && this.before(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

function checkOptions(opts: BpeTrainOptions): { vocabSize: number; minFrequency: number } {
  const vocabSize = opts.vocabSize ?? 1024;
  const minFrequency = opts.minFrequency ?? 2;
  const least = BASE_TOKENS + SPECIAL_TOKENS + 1;
  if (!Number.isInteger(vocabSize) || vocabSize < least || vocabSize > MAX_BPE_VOCAB_SIZE) {
    throw new Error(
      `learnMerges: vocabSize should be an integer from ${least} (512 byte tokens, 2 special tokens ` +
        `and at least one merge) to ${MAX_BPE_VOCAB_SIZE} (CLIP's tokenizer reads at most ` +
        `${CLIP_MAX_MERGES} merges), got ${vocabSize}`,
    );
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new Error(`learnMerges: minFrequency should be a positive integer, got ${minFrequency}`);
  }
  return { vocabSize, minFrequency };
}

/** Counts the tokenizer's pieces over the corpus. */
function countPieces(corpus: Iterable<string>): { counts: Map<string, number>; total: number } {
  if (corpus === null || corpus === undefined || typeof (corpus as Iterable<string>)[Symbol.iterator] !== 'function') {
    throw new TypeError('learnMerges: the corpus should be an iterable of strings');
  }
  const counts = new Map<string, number>();
  let total = 0;
  let index = 0;
  for (const text of corpus) {
    if (typeof text !== 'string') {
      throw new TypeError(`learnMerges: corpus item ${index} is a ${typeof text}, not a string`);
    }
    index++;
    const pieces = cleanText(text).match(SPLIT_RE);
    if (pieces === null) continue;
    for (const piece of pieces) {
      if (piece === SOT_TEXT || piece === EOT_TEXT) continue;
      counts.set(piece, (counts.get(piece) ?? 0) + 1);
      total++;
    }
  }
  return { counts, total };
}

/**
 * Learns BPE merges from a corpus (see the file header); returns the merges file text with the
 * details of the run.
 */
export function trainBpe(corpus: Iterable<string>, opts: BpeTrainOptions = {}): BpeTrainResult {
  const { vocabSize, minFrequency } = checkOptions(opts);
  const maxMerges = vocabSize - BASE_TOKENS - SPECIAL_TOKENS;
  const { counts: pieceCounts, total } = countPieces(corpus);

  // Symbols as small integers; every symbol is a token of the vocabulary being built.
  const symbols: string[] = [];
  const symbolIds = new Map<string, number>();
  const intern = (s: string): number => {
    let id = symbolIds.get(s);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(s);
      symbolIds.set(s, id);
    }
    return id;
  };
  const tokens = new Set<string>([SOT_TEXT, EOT_TEXT]);
  for (const c of BYTE_CHARS) {
    tokens.add(c);
    tokens.add(c + END_OF_WORD);
  }

  // Distinct words in code-unit order (the result does not depend on it; this fixes the work order).
  const pieces = Array.from(pieceCounts.keys()).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const words: number[][] = [];
  const wordCounts: number[] = [];
  for (const piece of pieces) {
    const bytes = Buffer.from(piece, 'utf8');
    const word = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) {
      word[i] = intern(i === bytes.length - 1 ? BYTE_CHARS[bytes[i]] + END_OF_WORD : BYTE_CHARS[bytes[i]]);
    }
    words.push(word);
    wordCounts.push(pieceCounts.get(piece) as number);
  }

  // Pair counts (weighted by word counts) and the words each pair occurs in.
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1, changed: Set<number> | null) => {
    const word = words[w];
    const c = sign * wordCounts[w];
    for (let i = 0; i + 1 < word.length; i++) {
      const key = word[i] * SYMBOL_LIMIT + word[i + 1];
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + c);
      let set = pairWords.get(key);
      if (sign > 0) {
        if (set === undefined) pairWords.set(key, (set = new Set()));
        set.add(w);
      } else if (set !== undefined) {
        set.delete(w);
      }
      if (changed !== null) changed.add(key);
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1, null);

  const heap = new PairHeap(symbols);
  for (const [key, count] of pairCounts) if (count >= minFrequency) heap.push(count, key);

  const merges: Array<[string, string]> = [];
  const refused = new Set<number>();
  let skippedDuplicates = 0;
  let stoppedBy: BpeTrainResult['stoppedBy'] = 'vocabSize';
  while (merges.length < maxMerges) {
    if (heap.size === 0) {
      stoppedBy = 'minFrequency';
      break;
    }
    const [count, key] = heap.pop();
    if (pairCounts.get(key) !== count || refused.has(key)) continue; // stale entry
    const a = Math.floor(key / SYMBOL_LIMIT);
    const b = key % SYMBOL_LIMIT;
    const merged = symbols[a] + symbols[b];
    if (tokens.has(merged)) {
      refused.add(key);
      skippedDuplicates++;
      continue;
    }
    tokens.add(merged);
    merges.push([symbols[a], symbols[b]]);
    const m = intern(merged);
    if (symbols.length > SYMBOL_LIMIT) throw new Error('learnMerges: internal error: too many symbols');

    const changed = new Set<number>();
    const affected = Array.from(pairWords.get(key) as Set<number>);
    for (const w of affected) {
      addPairs(w, -1, changed);
      const word = words[w];
      const next: number[] = [];
      for (let i = 0; i < word.length; ) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          next.push(m);
          i += 2;
        } else {
          next.push(word[i]);
          i += 1;
        }
      }
      words[w] = next;
      addPairs(w, 1, changed);
    }
    for (const k of changed) {
      const c = pairCounts.get(k) as number;
      if (c === 0) {
        pairCounts.delete(k);
        pairWords.delete(k);
      } else if (c >= minFrequency) {
        heap.push(c, k);
      }
    }
  }

  const text = [MERGES_HEADER].concat(merges.map(([x, y]) => `${x} ${y}`)).join('\n');
  return {
    text,
    merges,
    vocabSize: BASE_TOKENS + merges.length + SPECIAL_TOKENS,
    stoppedBy,
    words: total,
    uniqueWords: pieces.length,
    skippedDuplicates,
  };
}

/**
 * Learns BPE merges from a corpus of captions and returns the merges file text in OpenAI's format
 * (a `#version: 0.2` line, then one merge "a b" per line in rank order, no trailing newline), ready
 * for `ClipTokenizer.fromMerges`. The vocabulary has `vocabSize` tokens (default 1024), or fewer when
 * no more pairs occur `minFrequency` times (default 2); SOT and EOT are its last two ids. Throws when
 * not a single pair can be merged (a merges file needs at least one merge).
 */
export function learnMerges(corpus: Iterable<string>, opts: BpeTrainOptions = {}): string {
  const result = trainBpe(corpus, opts);
  if (result.merges.length === 0) {
    throw new Error(
      `learnMerges: no adjacent pair of symbols occurs ${opts.minFrequency ?? 2} times in the corpus ` +
        `(${result.words} words, ${result.uniqueWords} distinct), so there is nothing to merge`,
    );
  }
  return result.text;
}
