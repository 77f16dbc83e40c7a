// CLIP tokenizer on a tiny merges file made here (no shared fixture needed).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { Tokenizer } from '@huggingface/tokenizers';
import { CLIP_MAX_MERGES, ClipTokenizer } from '../../src/clip/tokenizer';
import { cleanText, htmlUnescape } from '../../src/clip/text-clean';

// ids 512.. in this order; SOT = 520, EOT = 521, vocabulary 522.
const TINY_MERGES = ['#version: 0.2', 'h e', 'l l', 'he ll', 'hell o</w>', 'w o', 'wo r', 'wor l', 'worl d</w>', ''].join('\n');

// A merges file where "abc" can be made twice ("ab c" and "a bc") and "abc a" ranks between them.
const TWO_WAY_MERGES = ['#version: 0.2', 'b c', 'a b', 'ab c', 'abc a', 'a bc'].join('\n');

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-tokenizer-'));
}

function vocabOf(tok: ClipTokenizer): Record<string, number> {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocabSize; id++) {
    const t = tok.idToToken(id);
    if (t !== undefined) vocab[t] = id;
  }
  return vocab;
}

function mergeLines(text: string): string[] {
  return text.split('\n').slice(1).filter((l) => l.trim() !== '');
}

/** A tokenizer.json shaped like Hugging Face's openai/clip-vit-* one. */
function hfTokenizerJson(tok: ClipTokenizer, merges: string[] | string[][]): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: tok.sotToken, content: '<|startoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
      { id: tok.eotToken, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['<|endoftext|>', tok.eotToken],
      cls: ['<|startoftext|>', tok.sotToken],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|endoftext|>',
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab: vocabOf(tok),
      merges,
    },
  };
}

const SAMPLE_TEXTS = [
  'Hello World',
  'hello, world!!! hell',
  "don't say hello to the world's 2007 worlds",
  'héllo wörld 🐱',
  'HELLO\tworld\n hello',
];

describe('ClipTokenizer (unit)', () => {
  const tok = ClipTokenizer.fromMerges(TINY_MERGES);
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  const newDir = () => {
    const d = tmpDir();
    dirs.push(d);
    return d;
  };

  describe('vocabulary', () => {
    it('is derived from the merges given: 512 byte symbols + one token per merge + SOT, EOT', () => {
      assert.strictEqual(tok.vocabSize, 512 + 8 + 2);
      assert.strictEqual(tok.sotToken, 520);
      assert.strictEqual(tok.eotToken, 521);
      assert.strictEqual(tok.idToToken(512), 'he');
      assert.strictEqual(tok.idToToken(519), 'world</w>');
      assert.strictEqual(tok.tokenToId('<|startoftext|>'), 520);
    });

    it('lays out the byte symbols as the reference does', () => {
      assert.strictEqual(tok.idToToken(0), '!');
      assert.strictEqual(tok.idToToken(256), '!</w>');
      assert.deepStrictEqual(tok.encode('a'), [320]); // as in CLIP's full vocabulary
      assert.deepStrictEqual(tok.encode('.'), [269]);
      // bytes outside printable Latin-1 are U+0100 onwards, after the 188 printable ones
      assert.strictEqual(tok.idToToken(188), '\u0100');
      // "é" is two UTF-8 bytes: C3 (its own symbol) then A9 (its own symbol + "</w>")
      assert.deepStrictEqual(tok.encode('é'), [127, 358]);
    });

    it('reads at most 48894 merges, as the reference, and ignores trailing blank lines', () => {
      const symbols: string[] = [];
      for (let i = 0; i < 256; i++) symbols.push(tok.idToToken(i) as string);
      const lines = ['#version: 0.2'];
      for (let k = 0; lines.length <= CLIP_MAX_MERGES + 10; k++) {
        lines.push(`${symbols[Math.floor(k / 256)]} ${symbols[k % 256]}`);
      }
      const big = ClipTokenizer.fromMerges(lines.join('\n') + '\n\n\n');
      assert.strictEqual(CLIP_MAX_MERGES, 48894);
      assert.strictEqual(big.vocabSize, 49408);
      assert.strictEqual(big.sotToken, 49406);
      assert.strictEqual(big.eotToken, 49407);
      const small = ClipTokenizer.fromMerges('#version: 0.2\nh e\n\n\n');
      assert.strictEqual(small.vocabSize, 512 + 1 + 2);
    });
  });

  describe('encode', () => {
    it('applies the merges', () => {
      assert.deepStrictEqual(tok.encode('hello world'), [515, 519]);
      assert.deepStrictEqual(tok.encode('Hello World'), [515, 519]);
      // "hell": h e l l</w> -> he l l</w> ("l l" does not apply to "l l</w>")
      assert.deepStrictEqual(tok.encode('hell'), [512, tok.tokenToId('l'), tok.tokenToId('l</w>')]);
    });

    it('merges the lowest-ranked pair everywhere before looking at the next rank, as the reference loop', () => {
      const two = ClipTokenizer.fromMerges(TWO_WAY_MERGES);
      // a b c a b c x</w> -> a bc a bc x</w> -> abc abc x</w>; a merge-by-merge priority queue would
      // instead take "abc a" (rank 3) before the second "a bc" (rank 4) and give abca bc x</w>.
      const abc = two.tokenToId('abc'); // the later of its two ids, as the reference's dict keeps
      assert.strictEqual(abc, 516);
      assert.deepStrictEqual(two.encode('abcabcx'), [516, 516, two.tokenToId('x</w>')]);
      assert.strictEqual(two.decode(two.encode('abcabcx')), 'abcabcx ');
    });

    it('splits text as the reference regex does', () => {
      const split = (t: string) => tok.decode(tok.encode(t));
      assert.strictEqual(split("Don't say it's 2007!"), "don 't say it 's 2 0 0 7 ! ");
      assert.strictEqual(split('sliced apple; ripe-banana (old_bike)'), 'sliced apple ; ripe - banana ( old _ bike ) ');
      assert.strictEqual(split('x²³ ÅNGSTRÖM'), 'x ² ³ ångström ');
      assert.deepStrictEqual(tok.encode('   '), []);
      assert.deepStrictEqual(tok.encode(''), []);
    });

    it('reads <|startoftext|> and <|endoftext|> as one token only where the regex isolates them', () => {
      const b = tok.tokenToId('b</w>');
      assert.deepStrictEqual(tok.encode('a<|endoftext|>b'), [320, tok.eotToken, b]);
      assert.deepStrictEqual(tok.encode('a <|ENDOFTEXT|> b'), [320, tok.eotToken, b]);
      assert.deepStrictEqual(tok.encode('<|startoftext|>'), [tok.sotToken]);
      // "!<|" is one punctuation run, so the special token is not seen
      assert.ok(!tok.encode('!<|endoftext|>').includes(tok.eotToken));
    });
  });

  describe('text cleaning (ftfy, html.unescape twice, whitespace, lowercase)', () => {
    it('unescapes HTML entities as html.unescape does', () => {
      assert.strictEqual(htmlUnescape('tom &amp; jerry &lt;3'), 'tom & jerry <3');
      assert.strictEqual(htmlUnescape('&eacute;&Eacute; &#233;&#xE9;&#XE9; &#39;'), 'éÉ ééé \'');
      assert.strictEqual(htmlUnescape('&amp &ampx &notin; &notit; &copy2024'), '& &x ∉ ¬it; ©2024');
      assert.strictEqual(htmlUnescape('&#0; &#128; &#x85; &#x1F; &#xD800; &#x110000; &#65'), '\ufffd € …  \ufffd \ufffd A');
      assert.strictEqual(htmlUnescape('&unknown; & ; &#; &#x;'), '&unknown; & ; &#; &#x;');
      assert.strictEqual(htmlUnescape('&amp;amp;'), '&amp;');
    });

    it('cleans like the reference', () => {
      assert.strictEqual(cleanText('  A   PHOTO\tof\nthe CAT  '), 'a photo of the cat');
      assert.strictEqual(cleanText('tom &amp; jerry &lt;3'), 'tom & jerry <3');
      // ftfy unescapes until nothing changes, then html.unescape runs twice more
      assert.strictEqual(cleanText('&amp;amp;amp;amp;'), '&');
      // ...but not on a line with '<' (ftfy's "auto"): only the two html.unescape passes
      assert.strictEqual(cleanText('<b> &amp;amp;amp;amp;'), '<b> &amp;amp;');
      assert.strictEqual(cleanText('&EACUTE;t&EACUTE;'), 'été');
      assert.strictEqual(cleanText('it’s “quoted”'), 'it\'s "quoted"');
      assert.strictEqual(cleanText('ﬁne ＦＵＬＬ　ｗｉｄｔｈ'), 'fine full width');
      assert.strictEqual(cleanText('e\u0301te\u0301'), 'été');
      assert.strictEqual(cleanText('a\u0000b\u200bc\ufeffd\x1b[31me'), 'ab\u200bcde');
      assert.strictEqual(cleanText('\x93quoted\x94 \x85'), '"quoted" …');
      assert.strictEqual(cleanText('line\u2028break\r\nwindows\u00a0nbsp'), 'line break windows nbsp');
      assert.strictEqual(cleanText('ΟΔΟΣ'), 'οδος'); // final sigma, as Python's str.lower
    });

    it('encodes curly apostrophes as the straight ones', () => {
      assert.deepStrictEqual(tok.encode('it’s'), tok.encode("it's"));
      assert.strictEqual(tok.decode(tok.encode('IT’S')), "it 's ");
    });
  });

  describe('tokenize', () => {
    it('gives SOT, the ids, EOT and zero padding, row-major, with the EOT positions', () => {
      const b = tok.tokenize(['hello world', '', 'hello'], { contextLength: 6 });
      assert.deepStrictEqual(b.shape, [3, 6]);
      assert.ok(b.ids instanceof Int32Array);
      assert.deepStrictEqual(Array.from(b.ids), [520, 515, 519, 521, 0, 0, 520, 521, 0, 0, 0, 0, 520, 515, 521, 0, 0, 0]);
      assert.deepStrictEqual(Array.from(b.eotIndex), [3, 1, 2]);
    });

    it('defaults to 77 and takes a single string', () => {
      const b = tok.tokenize('hello world');
      assert.deepStrictEqual(b.shape, [1, 77]);
      assert.strictEqual(b.ids.length, 77);
      assert.deepStrictEqual(Array.from(b.ids.subarray(0, 5)), [520, 515, 519, 521, 0]);
      assert.deepStrictEqual(tok.tokenize([]).shape, [0, 77]);
    });

    it('keeps a text that fits exactly', () => {
      const b = tok.tokenize('hello world', { contextLength: 4 });
      assert.deepStrictEqual(Array.from(b.ids), [520, 515, 519, 521]);
      assert.deepStrictEqual(Array.from(b.eotIndex), [3]);
    });

    it('throws for a text that is too long, naming the text, its length, the context and truncate', () => {
      assert.throws(
        () => tok.tokenize(['hello', 'hello world hello'], { contextLength: 4 }),
        (e: Error) => {
          assert.match(e.message, /"hello world hello"/);
          assert.match(e.message, /context length 4/);
          assert.match(e.message, /5 tokens/);
          assert.match(e.message, /truncate: true/);
          return true;
        },
      );
    });

    it('shortens a long text in the error', () => {
      const long = 'hello '.repeat(100);
      assert.throws(
        () => tok.tokenize(long),
        (e: Error) => {
          assert.ok(e.message.length < 400, e.message);
          assert.match(e.message, /^Input "hello hello /);
          assert.match(e.message, /\.\.\. \(600 characters\)/);
          assert.match(e.message, /102 tokens/);
          assert.match(e.message, /context length 77/);
          return true;
        },
      );
    });

    it('cuts with truncate, keeping SOT first and EOT last', () => {
      const b = tok.tokenize(['hello world hello world', 'hello'], { contextLength: 4, truncate: true });
      assert.deepStrictEqual(Array.from(b.ids), [520, 515, 519, 521, 520, 515, 521, 0]);
      assert.deepStrictEqual(Array.from(b.eotIndex), [3, 2]);
      const long = tok.tokenize('hello '.repeat(100), { truncate: true });
      assert.strictEqual(long.ids[0], 520);
      assert.strictEqual(long.ids[76], 521);
      assert.ok(long.ids.subarray(1, 76).every((x) => x === 515));
      assert.strictEqual(long.eotIndex[0], 76);
      // as the reference with context_length=1: the only token left is EOT
      assert.deepStrictEqual(Array.from(tok.tokenize('hello', { contextLength: 1, truncate: true }).ids), [521]);
    });

    it('rejects a context length that is not a positive integer', () => {
      assert.throws(() => tok.tokenize('hello', { contextLength: 0 }), /contextLength/);
      assert.throws(() => tok.tokenize('hello', { contextLength: 7.5 }), /contextLength/);
    });
  });

  describe('decode', () => {
    it('inverts encode up to cleaning, "</w>" becoming a space', () => {
      assert.strictEqual(tok.decode(tok.encode('Hello World')), 'hello world ');
      assert.strictEqual(tok.decode(tok.encode('héllo wörld 🐱')), 'héllo wörld 🐱 ');
      assert.strictEqual(tok.decode(tok.encode('a.b')), 'a . b ');
      assert.strictEqual(tok.decode([]), '');
    });

    it('decodes every id as the reference does: SOT/EOT as text, zero padding as "!"', () => {
      const row = tok.tokenize('hello', { contextLength: 6 }).ids;
      assert.strictEqual(tok.decode(row), '<|startoftext|>hello <|endoftext|>!!!');
      assert.strictEqual(tok.decode(row.subarray(1, row.indexOf(tok.eotToken))), 'hello ');
    });

    it('replaces invalid UTF-8 with U+FFFD and rejects unknown ids', () => {
      const c3 = tok.encode('é')[0]; // the lead byte alone
      assert.strictEqual(tok.decode([c3, 515]), '\ufffdhello ');
      assert.throws(() => tok.decode([522]), /id 522 is not in the vocabulary/);
    });
  });

  describe('loading', () => {
    it('reads plain and gzipped merges files', () => {
      const d = newDir();
      const plain = path.join(d, 'merges.txt');
      const gz = path.join(d, 'merges.txt.gz');
      fs.writeFileSync(plain, TINY_MERGES);
      fs.writeFileSync(gz, zlib.gzipSync(Buffer.from(TINY_MERGES)));
      for (const f of [plain, gz]) {
        const t = ClipTokenizer.fromMergesFile(f);
        assert.strictEqual(t.vocabSize, 522);
        for (const s of SAMPLE_TEXTS) assert.deepStrictEqual(t.encode(s), tok.encode(s));
      }
      // CRLF line ends and OpenAI's header style
      const crlf = ClipTokenizer.fromMerges('"bpe_simple_vocab_16e6.txt#version: 0.2\r\n' + mergeLines(TINY_MERGES).join('\r\n'));
      assert.deepStrictEqual(crlf.encode('hello world'), [515, 519]);
    });

    it('names the path of a missing merges file', () => {
      const missing = path.join(newDir(), 'nope', 'bpe_simple_vocab_16e6.txt.gz');
      assert.throws(() => ClipTokenizer.fromMergesFile(missing), (e: Error) => e.message.includes(missing) && /not found/.test(e.message));
    });

    it('rejects a bad merges file, naming the path and the line', () => {
      const d = newDir();
      const bad = path.join(d, 'bad.txt');
      fs.writeFileSync(bad, '#version: 0.2\nh e\nl l x\n');
      assert.throws(() => ClipTokenizer.fromMergesFile(bad), (e: Error) => e.message.includes(bad) && /line 3/.test(e.message));
      const noHeader = path.join(d, 'noheader.txt');
      fs.writeFileSync(noHeader, 'h e\nl l\n');
      assert.throws(() => ClipTokenizer.fromMergesFile(noHeader), (e: Error) => e.message.includes(noHeader) && /version header/.test(e.message));
      const empty = path.join(d, 'empty.txt');
      fs.writeFileSync(empty, '#version: 0.2\n');
      assert.throws(() => ClipTokenizer.fromMergesFile(empty), (e: Error) => e.message.includes(empty) && /no merges/.test(e.message));
      const blank = path.join(d, 'blank.txt');
      fs.writeFileSync(blank, '#version: 0.2\nh e\n\nl l\n');
      assert.throws(() => ClipTokenizer.fromMergesFile(blank), (e: Error) => e.message.includes(blank) && /line 3/.test(e.message));
      const notGzip = path.join(d, 'broken.txt.gz');
      fs.writeFileSync(notGzip, Buffer.from([0x1f, 0x8b, 1, 2, 3]));
      assert.throws(() => ClipTokenizer.fromMergesFile(notGzip), (e: Error) => e.message.includes(notGzip));
    });

    it('loads a Hugging Face folder with vocab.json + merges.txt, with the same ids', () => {
      const d = newDir();
      fs.writeFileSync(path.join(d, 'vocab.json'), JSON.stringify(vocabOf(tok)));
      fs.writeFileSync(path.join(d, 'merges.txt'), TINY_MERGES);
      const hf = ClipTokenizer.fromHuggingFace(d);
      assert.strictEqual(hf.vocabSize, tok.vocabSize);
      assert.strictEqual(hf.sotToken, tok.sotToken);
      assert.strictEqual(hf.eotToken, tok.eotToken);
      for (const s of SAMPLE_TEXTS) {
        assert.deepStrictEqual(hf.encode(s), tok.encode(s), s);
        assert.deepStrictEqual(hf.tokenize(s, { contextLength: 16, truncate: true }), tok.tokenize(s, { contextLength: 16, truncate: true }));
        assert.strictEqual(hf.decode(hf.encode(s)), tok.decode(tok.encode(s)));
      }
    });

    it('refuses ids a tokenizer file cannot mean (beyond int32, fractional, negative), which hung or leaked before, naming the token', () => {
      const base = hfTokenizerJson(tok, mergeLines(TINY_MERGES)) as { added_tokens: { id: number; content: string }[]; model: { vocab: Record<string, number> } };
      const cases: [string, (j: typeof base) => void, RegExp][] = [
        ['eot 3e9', (j) => { j.added_tokens[1].id = 3e9; }, /the id of added token "<\|endoftext\|>" is 3000000000; ids are whole numbers from 0 to 16777215/],
        ['eot 2^53+2', (j) => { j.added_tokens[1].id = 2 ** 53 + 2; }, /added token "<\|endoftext\|>" is 9007199254740994/],
        ['fractional', (j) => { j.added_tokens[0].id = 520.5; }, /added token "<\|startoftext\|>" is 520\.5/],
        ['negative vocab id', (j) => { j.model.vocab.a = -3; }, /the id of "a" is -3/],
      ];
      for (const [name, edit, message] of cases) {
        const j = JSON.parse(JSON.stringify(base));
        edit(j);
        const file = path.join(newDir(), 'tokenizer.json');
        fs.writeFileSync(file, JSON.stringify(j));
        assert.throws(() => ClipTokenizer.fromHuggingFace(file), message, name);
      }
    });

    it('refuses a gzip bomb and a huge context length before allocating them', () => {
      const file = path.join(newDir(), 'bomb.txt.gz');
      fs.writeFileSync(file, zlib.gzipSync(Buffer.alloc(80 * 1024 * 1024))); // 80 MiB of zeros in about 80 KB
      assert.throws(() => ClipTokenizer.fromMergesFile(file), /bomb\.txt\.gz decompresses to more than 64 MiB: not a tokenizer file/);
      assert.throws(() => tok.tokenize('a photo', { contextLength: 1e8 }), /contextLength should be a whole number from 1 to 8192, got 100000000/);
      assert.throws(() => ClipTokenizer.fromMergesFile('/dev/zero'), /is not a regular file \(a device\)/);
    });

    it('loads a tokenizer.json (its folder or its path), with the same ids', () => {
      const d = newDir();
      const file = path.join(d, 'tokenizer.json');
      fs.writeFileSync(file, JSON.stringify(hfTokenizerJson(tok, mergeLines(TINY_MERGES))));
      // the newer format, merges as pairs
      const d2 = newDir();
      const pairs = mergeLines(TINY_MERGES).map((m) => m.split(' '));
      fs.writeFileSync(path.join(d2, 'tokenizer.json'), JSON.stringify(hfTokenizerJson(tok, pairs)));
      for (const hf of [ClipTokenizer.fromHuggingFace(d), ClipTokenizer.fromHuggingFace(file), ClipTokenizer.fromHuggingFace(d2)]) {
        assert.strictEqual(hf.vocabSize, 522);
        assert.strictEqual(hf.sotToken, 520);
        assert.strictEqual(hf.eotToken, 521);
        for (const s of SAMPLE_TEXTS) {
          assert.deepStrictEqual(hf.encode(s), tok.encode(s), s);
          assert.strictEqual(hf.decode(hf.encode(s)), tok.decode(tok.encode(s)));
        }
      }
    });

    it('writes a tokenizer.json that @huggingface/tokenizers reads to the same ids', () => {
      const json = hfTokenizerJson(tok, mergeLines(TINY_MERGES));
      const lib = new Tokenizer(json, {});
      for (const s of SAMPLE_TEXTS) {
        const ids = lib.encode(cleanText(s), { add_special_tokens: false }).ids;
        assert.deepStrictEqual(ids, tok.encode(s), s);
      }
    });

    it('names the path when Hugging Face files are missing or wrong', () => {
      const d = newDir();
      assert.throws(() => ClipTokenizer.fromHuggingFace(d), (e: Error) => e.message.includes(d) && /tokenizer\.json/.test(e.message));
      const missing = path.join(d, 'absent');
      assert.throws(() => ClipTokenizer.fromHuggingFace(missing), (e: Error) => e.message.includes(missing));
      const file = path.join(d, 'tokenizer.json');
      fs.writeFileSync(file, JSON.stringify({ model: { type: 'WordPiece', vocab: {} } }));
      assert.throws(() => ClipTokenizer.fromHuggingFace(file), (e: Error) => e.message.includes(file));
      fs.writeFileSync(file, '{ not json');
      assert.throws(() => ClipTokenizer.fromHuggingFace(d), (e: Error) => e.message.includes(file) && /JSON/.test(e.message));
      const d2 = newDir();
      fs.writeFileSync(path.join(d2, 'vocab.json'), JSON.stringify({ a: 0 }));
      fs.writeFileSync(path.join(d2, 'merges.txt'), TINY_MERGES);
      assert.throws(() => ClipTokenizer.fromHuggingFace(d2), (e: Error) => e.message.includes(path.join(d2, 'merges.txt')) && /not in the vocabulary/.test(e.message));
    });
  });
});
