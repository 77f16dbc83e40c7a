// BPE vocabulary learning (src/clip/bpe-train.ts): its merges file loads in ClipTokenizer and
// segments text as training did.
import * as assert from 'assert';
import { learnMerges, MAX_BPE_VOCAB_SIZE, MERGES_HEADER, trainBpe } from '../../src/clip/bpe-train';
import { uniform } from '../../src/random';
import { cleanText, SPLIT_RE } from '../../src/clip/text-clean';
import { BYTE_CHARS, ClipTokenizer } from '../../src/clip/tokenizer';

const SIZES = ['small', 'large', 'tiny', 'huge'];
const COLORS = ['red', 'blue', 'green', 'yellow', 'purple', 'orange', 'white', 'black'];
const SHAPES = ['star', 'heart', 'circle', 'square', 'triangle', 'hexagon', 'cross', 'moon'];
const PLACES = ['left', 'right', 'top', 'bottom', 'center'];
const GROUNDS = ['grass', 'sand', 'water', 'snow', 'stone'];

/** Captions of a procedural world, as MiniCLIP's corpus has them. */
function worldCaptions(n: number, seed = 1): string[] {
  const rand = uniform(seed);
  const pick = (a: string[]) => a[Math.floor(rand() * a.length)];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.5) out.push(`a ${pick(SIZES)} ${pick(COLORS)} ${pick(SHAPES)} on the ${pick(PLACES)}`);
    else if (r < 0.8) out.push(`two ${pick(COLORS)} ${pick(SHAPES)}s next to a ${pick(COLORS)} ${pick(SHAPES)}`);
    else out.push(`The ${pick(SHAPES)} is ${pick(COLORS)}, near the ${pick(PLACES)} of the ${pick(GROUNDS)}.`);
  }
  return out;
}

/** Captions made of random letter strings: many distinct words, enough pairs for large vocabularies. */
function randomWordCaptions(n: number, lexiconSize: number, seed = 2): string[] {
  const rand = uniform(seed);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const lexicon: string[] = [];
  for (let i = 0; i < lexiconSize; i++) {
    let w = '';
    const len = 2 + Math.floor(rand() * 7);
    for (let j = 0; j < len; j++) w += letters[Math.floor(rand() * letters.length)];
    lexicon.push(w);
  }
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const words: string[] = [];
    for (let k = 0; k < 6; k++) words.push(lexicon[Math.floor(rand() * rand() * lexicon.length)]);
    out.push(words.join(' '));
  }
  return out;
}

function shuffled<T>(items: T[], seed: number): T[] {
  const rand = uniform(seed);
  const a = items.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function pieces(text: string): string[] {
  return cleanText(text).match(SPLIT_RE) ?? [];
}

/** The piece as the tokenizer sees it before merging: byte symbols, "</w>" on the last. */
function byteSymbols(piece: string): string[] {
  const bytes = Buffer.from(piece, 'utf8');
  const syms = Array.from(bytes, (b) => BYTE_CHARS[b]);
  syms[syms.length - 1] += '</w>';
  return syms;
}

/**
 * Plain BPE learning, written independently of the module: every step recounts every pair of every
 * word. Same tie-break (count, then first symbol, then second) and the same rule for pairs whose
 * merged string is already a token. Returns the merges and each word's final segmentation.
 */
function naiveTrain(corpus: string[], vocabSize: number, minFrequency: number) {
  const counts = new Map<string, number>();
  for (const text of corpus) {
    for (const p of pieces(text)) {
      if (p === '<|startoftext|>' || p === '<|endoftext|>') continue;
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
  }
  const words = new Map<string, string[]>();
  for (const p of counts.keys()) words.set(p, byteSymbols(p));
  const tokens = new Set<string>(['<|startoftext|>', '<|endoftext|>']);
  for (const c of BYTE_CHARS) tokens.add(c).add(c + '</w>');
  const refused = new Set<string>();
  const merges: string[] = [];
  while (merges.length < vocabSize - 514) {
    const pairs = new Map<string, { a: string; b: string; n: number }>();
    for (const [p, syms] of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = JSON.stringify([syms[i], syms[i + 1]]);
        const e = pairs.get(k) ?? { a: syms[i], b: syms[i + 1], n: 0 };
        e.n += counts.get(p) as number;
        pairs.set(k, e);
      }
    }
    let best: { a: string; b: string; n: number } | null = null;
    for (const [k, e] of pairs) {
      if (refused.has(k) || e.n < minFrequency) continue;
      if (best === null || e.n > best.n || (e.n === best.n && (e.a < best.a || (e.a === best.a && e.b < best.b)))) best = e;
    }
    if (best === null) break;
    const { a, b } = best;
    if (tokens.has(a + b)) {
      refused.add(JSON.stringify([a, b]));
      continue;
    }
    tokens.add(a + b);
    merges.push(`${a} ${b}`);
    for (const [p, syms] of words) {
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          next.push(a + b);
          i++;
        } else {
          next.push(syms[i]);
        }
      }
      words.set(p, next);
    }
  }
  return { merges, words };
}

function mergeLines(text: string): string[] {
  return text.split('\n').slice(1);
}

function tokensOf(tok: ClipTokenizer, text: string): string[] {
  return tok.encode(text).map((id) => tok.idToToken(id) as string);
}

describe('BPE vocabulary learning (learnMerges)', function () {
  this.timeout(60000);

  const world = worldCaptions(3000);
  const random = randomWordCaptions(3000, 1500);

  describe('the merges file', () => {
    it('is in OpenAI format and loads with ClipTokenizer.fromMerges at the requested size', () => {
      for (const vocabSize of [515, 600, 1024, 2000]) {
        const text = learnMerges(random, { vocabSize });
        const lines = text.split('\n');
        assert.strictEqual(lines[0], MERGES_HEADER);
        assert.strictEqual(lines.length, 1 + vocabSize - 514, `${vocabSize}: one merge per line`);
        assert.ok(!text.endsWith('\n'), 'no trailing newline (the Python reference would read it as a merge)');
        for (const l of lines.slice(1)) assert.match(l, /^\S+ \S+$/);
        const tok = ClipTokenizer.fromMerges(text);
        assert.strictEqual(tok.vocabSize, vocabSize);
        assert.strictEqual(tok.sotToken, vocabSize - 2);
        assert.strictEqual(tok.eotToken, vocabSize - 1);
        assert.strictEqual(tok.idToToken(vocabSize - 2), '<|startoftext|>');
        assert.strictEqual(tok.idToToken(vocabSize - 1), '<|endoftext|>');
      }
    });

    it('defaults to a 1024-token vocabulary', () => {
      const tok = ClipTokenizer.fromMerges(learnMerges(random));
      assert.strictEqual(tok.vocabSize, 1024);
      assert.strictEqual(trainBpe(random).stoppedBy, 'vocabSize');
    });

    it('has no duplicate tokens: every id has its own string and maps back to itself', () => {
      for (const corpus of [world, random]) {
        const tok = ClipTokenizer.fromMerges(learnMerges(corpus, { vocabSize: 4000, minFrequency: 1 }));
        const seen = new Set<string>();
        for (let id = 0; id < tok.vocabSize; id++) {
          const s = tok.idToToken(id) as string;
          assert.ok(!seen.has(s), `token ${JSON.stringify(s)} twice`);
          seen.add(s);
          assert.strictEqual(tok.tokenToId(s), id);
        }
      }
    });

    it('is smaller than asked when no pair reaches minFrequency, and says so', () => {
      const res = trainBpe(world, { vocabSize: 4096 });
      assert.strictEqual(res.stoppedBy, 'minFrequency');
      assert.ok(res.vocabSize < 4096);
      assert.strictEqual(res.vocabSize, 512 + res.merges.length + 2);
      const tok = ClipTokenizer.fromMerges(res.text);
      assert.strictEqual(tok.vocabSize, res.vocabSize);
      assert.strictEqual(tok.eotToken, res.vocabSize - 1);
      assert.strictEqual(res.uniqueWords, new Set(world.flatMap(pieces)).size);
      assert.strictEqual(res.words, world.flatMap(pieces).length);
      assert.strictEqual(res.skippedDuplicates, 0);
    });
  });

  describe('segmentation', () => {
    const tok = ClipTokenizer.fromMerges(learnMerges(world, { vocabSize: 1024 }));

    it('makes the frequent words of the corpus single tokens', () => {
      const simple: string[] = [];
      for (let i = 0; i < 50; i++) simple.push('a red star', 'a blue heart', 'a green circle');
      const small = ClipTokenizer.fromMerges(learnMerges(simple, { vocabSize: 1024 }));
      for (const w of ['a', 'red', 'star', 'blue', 'heart', 'green', 'circle']) {
        assert.deepStrictEqual(tokensOf(small, w), [`${w}</w>`], w);
      }
      assert.deepStrictEqual(small.encode('a red star').length, 3);
      for (const w of [...SIZES, ...COLORS, ...SHAPES, ...PLACES, ...GROUNDS, 'two', 'next', 'the', 'of']) {
        assert.deepStrictEqual(tokensOf(tok, w), [`${w}</w>`], w);
      }
      assert.deepStrictEqual(tokensOf(tok, 'stars'), ['stars</w>']);
    });

    it('round-trips corpus captions through encode and decode', () => {
      for (const caption of world.slice(0, 300)) {
        const ids = tok.encode(caption);
        assert.ok(ids.every((id) => id >= 0 && id < tok.vocabSize - 2));
        const text = tok.decode(ids);
        assert.strictEqual(text, pieces(caption).join(' ') + ' ', caption);
        assert.deepStrictEqual(tok.encode(text), ids);
      }
      assert.strictEqual(tok.decode(tok.encode('The star is red, near the left of the sand.')), 'the star is red , near the left of the sand . ');
    });

    it('splits unseen words into smaller pieces, down to bytes', () => {
      const unseen = ['zebra', 'quokka', 'starfish', 'xylophone', 'héllo wörld', '東京 🙂', 'Ω≈ç√∫', '12345', 'a&amp;b'];
      for (const text of unseen) {
        const ids = tok.encode(text);
        assert.ok(ids.length > 0);
        assert.strictEqual(tok.decode(ids), pieces(text).join(' ') + ' ', text);
      }
      // 'z' and 'q' never occur in the corpus: byte tokens only, no merge applies.
      assert.deepStrictEqual(tokensOf(tok, 'zzz'), ['z', 'z', 'z</w>']);
      const emoji = tok.encode('🙂');
      assert.strictEqual(emoji.length, 4);
      assert.ok(emoji.every((id) => id < 512), 'four byte tokens');
    });

    it('tokenize() fits a corpus caption in a short context', () => {
      const batch = tok.tokenize(world.slice(0, 500), { contextLength: 16 });
      assert.deepStrictEqual(batch.shape, [500, 16]);
      for (let i = 0; i < 500; i++) {
        const row = batch.ids.subarray(i * 16, (i + 1) * 16);
        assert.strictEqual(row[0], tok.sotToken);
        assert.strictEqual(row[batch.eotIndex[i]], tok.eotToken);
        assert.ok(batch.eotIndex[i] <= pieces(world[i]).length + 1, 'one token per word');
      }
    });

    it('segments every corpus word as training left it (checked against a plain BPE learner)', () => {
      const corpora: Array<[string[], number, number]> = [
        [world.slice(0, 400), 700, 2],
        [random.slice(0, 300), 900, 1],
        [['aaaa aaa aa a', 'aaaaa b aab baab', 'abab ababab', 'ééé éa 🙂🙂 ...!! \'s'], 600, 1],
      ];
      const rand = uniform(5);
      for (let t = 0; t < 40; t++) {
        const corpus: string[] = [];
        const n = 1 + Math.floor(rand() * 6);
        for (let i = 0; i < n; i++) {
          let w = '';
          const len = 1 + Math.floor(rand() * 8);
          for (let j = 0; j < len; j++) w += 'aab c'[Math.floor(rand() * 5)];
          for (let r = Math.floor(rand() * 4); r >= 0; r--) corpus.push(w);
        }
        corpora.push([corpus, 560, 1]);
      }
      for (const [corpus, vocabSize, minFrequency] of corpora) {
        const res = trainBpe(corpus, { vocabSize, minFrequency });
        const ref = naiveTrain(corpus, vocabSize, minFrequency);
        assert.deepStrictEqual(mergeLines(res.text), ref.merges, JSON.stringify(corpus.slice(0, 4)));
        if (res.merges.length === 0) continue;
        const t = ClipTokenizer.fromMerges(res.text);
        for (const [piece, syms] of ref.words) assert.deepStrictEqual(tokensOf(t, piece), syms, piece);
      }
    });
  });

  describe('determinism', () => {
    it('gives identical text for the same corpus, in any order, from any iterable', () => {
      const a = learnMerges(random, { vocabSize: 1500 });
      assert.strictEqual(learnMerges(random, { vocabSize: 1500 }), a);
      assert.strictEqual(learnMerges(shuffled(random, 9), { vocabSize: 1500 }), a);
      function* gen() {
        yield* shuffled(random, 10);
      }
      assert.strictEqual(learnMerges(gen(), { vocabSize: 1500 }), a);
      // Case, spacing and HTML entities are cleaned as the tokenizer cleans them.
      const noisy = random.map((c, i) => (i % 2 ? c.toUpperCase() : `  ${c.replace(/ /g, ' \t ')} `));
      assert.strictEqual(learnMerges(noisy, { vocabSize: 1500 }), a);
    });

    it('breaks ties by the lexicographically smallest pair', () => {
      assert.strictEqual(learnMerges(['cd ab', 'ab cd'], { vocabSize: 515 }), `${MERGES_HEADER}\na b</w>`);
      assert.strictEqual(learnMerges(['cd ab', 'ab cd'], { vocabSize: 516 }), `${MERGES_HEADER}\na b</w>\nc d</w>`);
      // A higher count wins over order.
      assert.strictEqual(learnMerges(['ab cd cd'], { vocabSize: 515 }), `${MERGES_HEADER}\nc d</w>`);
    });
  });

  describe('corpus and options', () => {
    it('respects minFrequency', () => {
      assert.throws(() => learnMerges(['ab', 'cd']), /no adjacent pair of symbols occurs 2 times/);
      assert.strictEqual(learnMerges(['ab', 'cd'], { minFrequency: 1 }), `${MERGES_HEADER}\na b</w>\nc d</w>`);
      // "abc" twice, "ab" once: (a, b) and (b, c</w>) occur twice, (a, b</w>) once.
      assert.throws(() => learnMerges(['abc abc ab'], { minFrequency: 3 }), /occurs 3 times/);
      assert.strictEqual(learnMerges(['abc abc ab'], { minFrequency: 2 }), `${MERGES_HEADER}\na b\nab c</w>`);
      assert.strictEqual(learnMerges(['abc abc ab'], { minFrequency: 1 }), `${MERGES_HEADER}\na b\nab c</w>\na b</w>`);
    });

    it('skips the special pieces and learns nothing across words', () => {
      const res = trainBpe(['<|startoftext|> red <|endoftext|>', 'red <|endoftext|>'], { minFrequency: 1 });
      assert.deepStrictEqual(mergeLines(res.text), ['e d</w>', 'r ed</w>']);
      assert.strictEqual(res.words, 2);
    });

    it('returns no merges for an empty corpus (learnMerges throws)', () => {
      const res = trainBpe([], { vocabSize: 600 });
      assert.strictEqual(res.text, MERGES_HEADER);
      assert.strictEqual(res.vocabSize, 514);
      assert.throws(() => learnMerges(['', '   ', 'a b c']), /nothing to merge/);
    });

    it('rejects bad options and non-string captions', () => {
      for (const vocabSize of [514, MAX_BPE_VOCAB_SIZE + 1, 1000.5, NaN]) {
        assert.throws(() => learnMerges(world, { vocabSize }), /vocabSize should be an integer from 515/);
      }
      assert.throws(() => learnMerges(world, { minFrequency: 0 }), /minFrequency should be a positive integer/);
      assert.throws(() => learnMerges(['a', 3 as unknown as string]), /corpus item 1 is a number/);
      assert.throws(() => learnMerges(null as unknown as string[]), /iterable of strings/);
    });

    it('learns a large vocabulary from many distinct words quickly', () => {
      const corpus = randomWordCaptions(20000, 20000, 3);
      const start = Date.now();
      const res = trainBpe(corpus, { vocabSize: 8192 });
      const ms = Date.now() - start;
      assert.strictEqual(res.vocabSize, 8192);
      assert.ok(ms < 20000, `${ms} ms`);
      const tok = ClipTokenizer.fromMerges(res.text);
      for (const caption of corpus.slice(0, 200)) assert.strictEqual(tok.decode(tok.encode(caption)), caption + ' ');
    });
  });
});
