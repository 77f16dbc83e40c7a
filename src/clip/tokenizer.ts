// CLIP's byte-level BPE tokenizer, giving the same ids as OpenAI's `clip/simple_tokenizer.py` and
// `clip.tokenize`.
//
// Pipeline (as the reference): clean the text (ftfy.fix_text, html.unescape twice, strip, collapse
// whitespace, lowercase), split it with CLIP's regex, map each piece's UTF-8 bytes to CLIP's
// byte-to-unicode characters, apply the BPE merges (the last symbol of a word carries the
// end-of-word suffix "</w>"), and look the symbols up in the vocabulary.
//
// The vocabulary comes from a merges file in OpenAI's format (`bpe_simple_vocab_16e6.txt.gz`: a
// version line, then one merge per line): 256 byte characters, the same with "</w>", one token per
// merge (at most the first 48894 merges, as the reference reads them), then <|startoftext|> and
// <|endoftext|>. Its size follows the file given: a smaller merges file gives a smaller vocabulary
// whose SOT and EOT are its last two ids. It can also come from Hugging Face tokenizer files
// (`tokenizer.json`, or `vocab.json` + `merges.txt`): the ids are then those of the files'
// vocabulary, and the text pipeline is still the reference one above.
//
// Text cleaning (ftfy, HTML entities, whitespace) lives in text-clean.ts.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { readFileLimited } from '../io/files';
import { cleanText, SPLIT_RE, STRIP_CLASS } from './text-clean';

export interface TokenizeOptions {
  /** Row length; 77 for CLIP. */
  contextLength?: number;
  /** Cut rows that are too long (keeping EOT as the last token) instead of throwing. */
  truncate?: boolean;
}

/** Token ids of a batch of texts, as `clip.tokenize` returns them. */
export interface TokenizedBatch {
  /** [n * contextLength] row-major: SOT, BPE ids, EOT, then zeros. */
  ids: Int32Array;
  shape: [number, number];
  /**
   * [n]: position of the first EOT in each row. CLIP's text tower reads its features there; it is
   * `ids.argmax(-1)` whenever EOT is the largest id, as in CLIP's vocabulary.
   */
  eotIndex: Int32Array;
}

/** How many merges the reference reads from the merges file: lines [1, 49152 - 256 - 2 + 1). */
export const CLIP_MAX_MERGES = 49152 - 256 - 2;
export const SOT_TEXT = '<|startoftext|>';
export const EOT_TEXT = '<|endoftext|>';
const END_OF_WORD = '</w>';

// ---------------------------------------------------------------------------------------------
// Byte <-> unicode table (GPT-2/CLIP): printable Latin-1 bytes map to themselves, the other bytes
// to U+0100 onwards, in byte order.

function buildByteChars(): string[] {
  const chars = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : next++);
  }
  return chars;
}

/** BYTE_CHARS[b]: the character standing for byte b. */
export const BYTE_CHARS: readonly string[] = buildByteChars();
const CHAR_BYTES = new Map<string, number>(BYTE_CHARS.map((c, b) => [c, b]));

/** The bytes that a string of byte symbols stands for; null if a character is not a byte symbol. */
export function symbolBytes(symbols: string): number[] | null {
  const out: number[] = [];
  for (const ch of symbols) {
    const b = CHAR_BYTES.get(ch);
    if (b === undefined) return null;
    out.push(b);
  }
  return out;
}

/** The reference's base vocabulary order: the printable bytes first, then the others. */
function baseVocabulary(): string[] {
  const printable: string[] = [];
  const rest: string[] = [];
  for (let b = 0; b < 256; b++) {
    (BYTE_CHARS[b].charCodeAt(0) === b ? printable : rest).push(BYTE_CHARS[b]);
  }
  const bytes = printable.concat(rest);
  return bytes.concat(bytes.map((c) => c + END_OF_WORD));
}

// ---------------------------------------------------------------------------------------------
// The tokenizer.

const PY_WHITESPACE_SPLIT = new RegExp(`[${STRIP_CLASS}]+`);
const MAX_CACHE = 200_000;

interface Merge {
  a: string;
  b: string;
  line: number;
}

/** Parses OpenAI's merges format: a version line, then "a b" per line, at most `limit` merges. */
function parseMerges(text: string, source: string, limit: number): Merge[] {
  const lines = text.split('\n');
  const header = lines[0].replace(/\r$/, '');
  if (!header.startsWith('#') && !header.includes('#version')) {
    throw new Error(
      `${source}: not a BPE merges file: its first line should be a version header such as ` +
        `"#version: 0.2" (CLIP's loader skips that line), got ${JSON.stringify(header.slice(0, 80))}`,
    );
  }
  // The reference keeps a trailing empty line of a short file as an empty token; blank lines after
  // the last merge are ignored here instead.
  let last = lines.length - 1;
  while (last >= 1 && lines[last].trim() === '') last--;
  const end = Math.min(last + 1, 1 + limit);
  const merges: Merge[] = [];
  for (let i = 1; i < end; i++) {
    const parts = lines[i].split(PY_WHITESPACE_SPLIT).filter((p) => p !== '');
    if (parts.length !== 2) {
      throw new Error(
        `${source}: not a BPE merges file: line ${i + 1} should hold two symbols separated by a ` +
          `space, got ${JSON.stringify(lines[i].slice(0, 80))}`,
      );
    }
    merges.push({ a: parts[0], b: parts[1], line: i + 1 });
  }
  if (merges.length === 0) throw new Error(`${source}: not a BPE merges file: it holds no merges`);
  return merges;
}

/** The largest tokenizer file read, and the most a gzipped one may expand to (CLIP's is 1.4 MB). */
export const TOKENIZER_MAX_BYTES = 64 * 1024 * 1024;
/** Ids are int32 row indices into an embedding table; a vocabulary this large is not a text model's. */
export const MAX_TOKEN_ID = 2 ** 24 - 1;
/** The longest context tokenize() makes (CLIP's is 77); beyond it a batch is gigabytes of ids. */
export const MAX_CONTEXT_LENGTH = 8192;

function readText(file: string, what: string): string {
  let data: Buffer;
  if (!fs.existsSync(file)) throw new Error(`${what} not found: ${file}`);
  data = readFileLimited(file, TOKENIZER_MAX_BYTES, what);
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    try {
      data = zlib.gunzipSync(data, { maxOutputLength: TOKENIZER_MAX_BYTES });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw new Error(`${what} ${file} decompresses to more than ${TOKENIZER_MAX_BYTES / 1024 / 1024} MiB: not a tokenizer file`);
      }
      throw new Error(`${what} is not a valid gzip file: ${file}: ${(e as Error).message}`);
    }
  }
  return data.toString('utf8');
}

function checkId(id: unknown, file: string, what: string): number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_TOKEN_ID) {
    throw new Error(`${file}: the id of ${what} is ${JSON.stringify(id)}; ids are whole numbers from 0 to ${MAX_TOKEN_ID}`);
  }
  return id;
}

function readJson(file: string, what: string): unknown {
  const text = readText(file, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${file}: ${(e as Error).message}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function shorten(text: string, max = 80): string {
  const chars = Array.from(text);
  if (chars.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(chars.slice(0, max).join(''))}... (${chars.length} characters)`;
}

export class ClipTokenizer {
  /** Number of embedding rows the ids index: the largest id + 1. */
  readonly vocabSize: number;
  readonly sotToken: number;
  readonly eotToken: number;
  /** Where the vocabulary came from (a path, or a description). */
  readonly source: string;

  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly ranks: Map<string, Map<string, number>>;
  private readonly suffix: string;
  private readonly cache = new Map<string, number[]>();

  private constructor(args: {
    encoder: Map<string, number>;
    decoder: Map<number, string>;
    merges: Merge[];
    suffix: string;
    source: string;
  }) {
    this.encoder = args.encoder;
    this.decoder = args.decoder;
    this.suffix = args.suffix;
    this.source = args.source;
    this.ranks = new Map();
    args.merges.forEach((m, rank) => {
      let inner = this.ranks.get(m.a);
      if (inner === undefined) this.ranks.set(m.a, (inner = new Map()));
      inner.set(m.b, rank); // a repeated merge keeps its last rank, as a Python dict does
    });
    const sot = this.encoder.get(SOT_TEXT);
    const eot = this.encoder.get(EOT_TEXT);
    if (sot === undefined || eot === undefined) {
      throw new Error(`${args.source}: the vocabulary has no ${sot === undefined ? SOT_TEXT : EOT_TEXT} token`);
    }
    this.sotToken = sot;
    this.eotToken = eot;
    let maxId = -1;
    for (const id of this.decoder.keys()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    for (const c of BYTE_CHARS) {
      if (!this.encoder.has(c) || !this.encoder.has(c + this.suffix)) {
        throw new Error(
          `${args.source}: not a byte-level BPE vocabulary like CLIP's: it lacks the byte symbol ` +
            `${JSON.stringify(this.encoder.has(c) ? c + this.suffix : c)}`,
        );
      }
    }
  }

  /** From a merges file in OpenAI's format, gzipped (`.txt.gz`) or plain. */
  static fromMergesFile(file: string): ClipTokenizer {
    const text = readText(file, 'BPE merges file');
    return ClipTokenizer.fromMerges(text, file);
  }

  /**
   * From the text of a merges file in OpenAI's format: the vocabulary is the 256 byte symbols, the
   * same with "</w>", one token per merge (the first 48894 at most), then SOT and EOT.
   */
  static fromMerges(mergesText: string, source = 'BPE merges text'): ClipTokenizer {
    const merges = parseMerges(mergesText, source, CLIP_MAX_MERGES);
    const vocab = baseVocabulary().concat(merges.map((m) => m.a + m.b), [SOT_TEXT, EOT_TEXT]);
    const encoder = new Map<string, number>();
    const decoder = new Map<number, string>();
    vocab.forEach((tok, id) => {
      encoder.set(tok, id); // a repeated token string maps to its last id, as in the reference
      decoder.set(id, tok);
    });
    return new ClipTokenizer({ encoder, decoder, merges, suffix: END_OF_WORD, source });
  }

  /**
   * From Hugging Face tokenizer files: a folder holding `tokenizer.json`, or `vocab.json` +
   * `merges.txt`; or the path of a `tokenizer.json`. The ids are the files' own; the text pipeline
   * (cleaning, splitting, special tokens) is CLIP's reference one.
   */
  static fromHuggingFace(dirOrTokenizerJson: string): ClipTokenizer {
    const p = dirOrTokenizerJson;
    if (!fs.existsSync(p)) throw new Error(`Hugging Face tokenizer files not found: ${p}`);
    if (fs.statSync(p).isFile()) return ClipTokenizer.fromTokenizerJson(p);
    const tj = path.join(p, 'tokenizer.json');
    if (fs.existsSync(tj)) return ClipTokenizer.fromTokenizerJson(tj);
    const vj = path.join(p, 'vocab.json');
    const mt = path.join(p, 'merges.txt');
    if (fs.existsSync(vj) && fs.existsSync(mt)) return ClipTokenizer.fromVocabAndMerges(vj, mt);
    throw new Error(`${p}: no Hugging Face tokenizer files: expected tokenizer.json, or vocab.json and merges.txt`);
  }

  private static fromTokenizerJson(file: string): ClipTokenizer {
    const json = readJson(file, 'tokenizer.json');
    const model = isRecord(json) ? json.model : undefined;
    if (!isRecord(model) || !isRecord(model.vocab) || !Array.isArray(model.merges)) {
      throw new Error(`${file}: not a tokenizer.json with a BPE model (model.vocab and model.merges)`);
    }
    if (model.type !== undefined && model.type !== 'BPE') {
      throw new Error(`${file}: the model is ${String(model.type)}, not BPE`);
    }
    if (typeof model.continuing_subword_prefix === 'string' && model.continuing_subword_prefix !== '') {
      throw new Error(`${file}: continuing_subword_prefix is not supported by CLIP's BPE`);
    }
    const suffix = typeof model.end_of_word_suffix === 'string' ? model.end_of_word_suffix : '';
    const { encoder, decoder } = ClipTokenizer.vocabMaps(model.vocab, file);
    const added = isRecord(json) && Array.isArray(json.added_tokens) ? json.added_tokens : [];
    for (const t of added) {
      if (isRecord(t) && typeof t.content === 'string') {
        const id = checkId(t.id, file, `added token ${JSON.stringify(t.content)}`);
        encoder.set(t.content, id);
        decoder.set(id, t.content);
      }
    }
    // All of the file's merges are used, as Hugging Face's BPE does (no 48894 cap here).
    const merges: Merge[] = model.merges.map((m: unknown, i: number) => {
      let parts: unknown[] | null = null;
      if (typeof m === 'string') parts = m.split(' ');
      else if (Array.isArray(m)) parts = m;
      if (parts === null || parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string') {
        throw new Error(`${file}: model.merges[${i}] should be "a b" or ["a", "b"], got ${JSON.stringify(m)}`);
      }
      return { a: parts[0], b: parts[1], line: i };
    });
    ClipTokenizer.checkMerges(merges, encoder, file, (m) => `model.merges[${m.line}]`);
    return new ClipTokenizer({ encoder, decoder, merges, suffix, source: file });
  }

  private static fromVocabAndMerges(vocabFile: string, mergesFile: string): ClipTokenizer {
    const vocab = readJson(vocabFile, 'vocab.json');
    if (!isRecord(vocab)) throw new Error(`${vocabFile}: vocab.json should map tokens to ids`);
    const { encoder, decoder } = ClipTokenizer.vocabMaps(vocab, vocabFile);
    const merges = parseMerges(readText(mergesFile, 'merges.txt'), mergesFile, CLIP_MAX_MERGES);
    ClipTokenizer.checkMerges(merges, encoder, mergesFile, (m) => `line ${m.line}`);
    return new ClipTokenizer({ encoder, decoder, merges, suffix: END_OF_WORD, source: path.dirname(vocabFile) });
  }

  private static vocabMaps(vocab: Record<string, unknown>, file: string) {
    const encoder = new Map<string, number>();
    const decoder = new Map<number, string>();
    for (const [tok, raw] of Object.entries(vocab)) {
      const id = checkId(raw, file, JSON.stringify(tok));
      encoder.set(tok, id);
      decoder.set(id, tok);
    }
    return { encoder, decoder };
  }

  private static checkMerges(merges: Merge[], encoder: Map<string, number>, file: string, where: (m: Merge) => string) {
    for (const m of merges) {
      if (!encoder.has(m.a + m.b)) {
        throw new Error(`${file}: ${where(m)}: the merge "${m.a} ${m.b}" makes ${JSON.stringify(m.a + m.b)}, which is not in the vocabulary`);
      }
    }
  }

  /** The id of a token string (byte symbols, "</w>" included), if it is in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.encoder.get(token);
  }

  /** The token string of an id, if the vocabulary has it. */
  idToToken(id: number): string | undefined {
    return this.decoder.get(id);
  }

  /** BPE ids of a text, without SOT/EOT (the reference's `SimpleTokenizer.encode`). */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TypeError(`encode: expected a string, got ${typeof text}`);
    const out: number[] = [];
    const clean = cleanText(text);
    const pieces = clean.match(SPLIT_RE);
    if (pieces === null) return out;
    for (const piece of pieces) {
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = this.encodePiece(piece);
        if (this.cache.size >= MAX_CACHE) this.cache.clear();
        this.cache.set(piece, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
    return out;
  }

  private encodePiece(piece: string): number[] {
    // The reference's BPE cache starts with the two special tokens: they are never split.
    if (piece === SOT_TEXT) return [this.sotToken];
    if (piece === EOT_TEXT) return [this.eotToken];
    const bytes = Buffer.from(piece, 'utf8');
    const word = new Array<string>(bytes.length);
    for (let i = 0; i < bytes.length; i++) word[i] = BYTE_CHARS[bytes[i]];
    word[word.length - 1] += this.suffix;
    const symbols = this.bpe(word);
    return symbols.map((s) => {
      const id = this.encoder.get(s);
      if (id === undefined) {
        throw new Error(`${this.source}: the BPE symbol ${JSON.stringify(s)} (from ${JSON.stringify(piece)}) is not in the vocabulary`);
      }
      return id;
    });
  }

  /**
   * The reference's merge loop: take the adjacent pair of lowest rank, merge every occurrence of it
   * from left to right, and repeat until no pair has a rank.
   */
  private bpe(initial: string[]): string[] {
    let word = initial;
    while (word.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(word[i])?.get(word[i + 1]);
        if (r !== undefined && r < best) {
          best = r;
          first = word[i];
          second = word[i + 1];
        }
      }
      if (best === Infinity) break;
      const next: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else {
          next.push(word[i]);
          i += 1;
        }
      }
      word = next;
    }
    return word;
  }

  /**
   * Text of ids, as the reference's `decode`: every id is decoded, SOT/EOT as their text and the
   * zero padding as "!" (id 0), the end-of-word suffix becomes a space, and invalid UTF-8 becomes
   * U+FFFD. Pass only the ids between SOT and EOT to get the text back.
   */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let k = 0; k < ids.length; k++) {
      const tok = this.decoder.get(ids[k]);
      if (tok === undefined) {
        throw new Error(`decode: id ${ids[k]} is not in the vocabulary (${this.vocabSize} ids, from ${this.source})`);
      }
      for (const ch of tok) {
        const b = CHAR_BYTES.get(ch);
        if (b !== undefined) bytes.push(b);
        else for (const x of Buffer.from(ch, 'utf8')) bytes.push(x);
      }
    }
    const text = Buffer.from(bytes).toString('utf8');
    return this.suffix === '' ? text : text.split(this.suffix).join(' ');
  }

  /**
   * `clip.tokenize`: each text becomes SOT, its BPE ids, EOT, padded with zeros to `contextLength`
   * (77). A text that does not fit throws, unless `truncate` is set: then the row is cut and its
   * last token set to EOT.
   */
  tokenize(texts: string | readonly string[], opts: TokenizeOptions = {}): TokenizedBatch {
    const list = typeof texts === 'string' ? [texts] : texts;
    const ctx = opts.contextLength ?? 77;
    if (!Number.isInteger(ctx) || ctx < 1 || ctx > MAX_CONTEXT_LENGTH) {
      throw new Error(`tokenize: contextLength should be a whole number from 1 to ${MAX_CONTEXT_LENGTH}, got ${ctx}`);
    }
    const n = list.length;
    const ids = new Int32Array(n * ctx);
    const eotIndex = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const text = list[i];
      if (typeof text !== 'string') throw new TypeError(`tokenize: texts[${i}] is not a string`);
      const body = this.encode(text);
      const total = body.length + 2;
      if (total > ctx && !opts.truncate) {
        throw new Error(
          `Input ${shorten(text)} is too long for context length ${ctx}: it has ${total} tokens ` +
            `with SOT and EOT. Pass { truncate: true } to cut it (EOT stays the last token).`,
        );
      }
      const row = i * ctx;
      ids[row] = this.sotToken;
      const m = Math.min(body.length, ctx - 1);
      for (let k = 0; k < m; k++) ids[row + 1 + k] = body[k];
      const last = Math.min(total, ctx) - 1;
      ids[row + last] = this.eotToken;
      let e = 0; // the first EOT (a text may hold one), as the reference's argmax finds it
      while (e < last && ids[row + e] !== this.eotToken) e++;
      eotIndex[i] = e;
    }
    return { ids, shape: [n, ctx], eotIndex };
  }

  /** Drops the cached BPE results (they are also dropped when the cache grows large). */
  clearCache(): void {
    this.cache.clear();
  }
}
