// CLIP tokenizer against the reference (OpenAI's simple_tokenizer + clip.tokenize) on the
// clip-parity `tokenizer/` cases, with CLIP's own BPE merges file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { clipVocabFile, coopDir, parityDir, FETCH_CLIP_BPE } from '../fixture-dirs';

const NO_VOCAB =
  "CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) is not redistributed in this repository: " +
  `run \`${FETCH_CLIP_BPE}\` once (it goes to the user cache, where these tests find it)`;

interface TokenizerCase {
  text: string;
  ids: number[];
  tokenized_77: number[];
  too_long_for_77: boolean;
  decoded: string;
}

interface TokenizerFixture {
  vocab: string;
  sot: number;
  eot: number;
  vocab_size: number;
  cases: TokenizerCase[];
}

// CoOp's class names, as in coop-official/cases.json (used when that file is not at hand), with the
// reference's decoded text.
const CLASSNAMES: Record<string, string> = {
  Abyssinian: 'abyssinian ',
  golden_retriever: 'golden _ retriever ',
  'Sea or Lake': 'sea or lake ',
  '2000 AM General Hummer SUV': '2 0 0 0 am general hummer suv ',
  Apply_Eye_Makeup: 'apply _ eye _ makeup ',
  'red star': 'red star ',
  'crème brûlée': 'crème brûlée ',
};

function loadFixture(): { fixture: TokenizerFixture | null; problem: string } {
  let file = '(parity folder unknown)';
  try {
    const { dir, source } = parityDir();
    file = path.join(dir, 'tokenizer', 'tokenizer.json');
    if (!fs.existsSync(file)) {
      return { fixture: null, problem: `tokenizer/tokenizer.json is missing under the parity fixtures ${dir} (${source}): expected ${file}` };
    }
    const fixture = JSON.parse(fs.readFileSync(file, 'utf8')) as TokenizerFixture;
    if (!Array.isArray(fixture.cases) || fixture.cases.length === 0) {
      return { fixture: null, problem: `${file} holds no tokenizer cases` };
    }
    return { fixture, problem: '' };
  } catch (e) {
    return { fixture: null, problem: `tokenizer parity cases could not be read (${file}): ${(e as Error).message}` };
  }
}

function title(text: string): string {
  const chars = Array.from(text);
  return JSON.stringify(chars.length > 48 ? chars.slice(0, 48).join('') + '…' : text);
}

function row(batch: { ids: Int32Array; shape: [number, number] }, i: number): number[] {
  const L = batch.shape[1];
  return Array.from(batch.ids.subarray(i * L, (i + 1) * L));
}

function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

describe('parity: tokenizer (clip-parity/tokenizer)', function () {
  const { fixture, problem } = loadFixture();
  if (fixture === null) {
    it('tokenizer: the parity cases tokenizer/tokenizer.json are present', () => {
      throw new Error(problem);
    });
    return;
  }
  const cases = fixture.cases;

  let vocabFile: string | null = null;
  let tok: ClipTokenizer | null = null;
  before(function () {
    vocabFile = clipVocabFile();
    if (vocabFile === null) {
      console.log(`      ${NO_VOCAB}`);
      return;
    }
    tok = ClipTokenizer.fromMergesFile(vocabFile);
  });
  /** The tokenizer, or skips the test (the only allowed skip: CLIP's merges file is not here). */
  function need(ctx: Mocha.Context): ClipTokenizer {
    if (tok === null) ctx.skip();
    return tok as ClipTokenizer;
  }

  it(`tokenizer: vocabulary from ${fixture.vocab}: size ${fixture.vocab_size}, SOT ${fixture.sot}, EOT ${fixture.eot}`, function () {
    const t = need(this);
    assert.strictEqual(path.basename(vocabFile as string), fixture.vocab);
    assert.strictEqual(t.vocabSize, fixture.vocab_size);
    assert.strictEqual(t.sotToken, fixture.sot);
    assert.strictEqual(t.eotToken, fixture.eot);
  });

  for (const c of cases) {
    const name = `tokenizer: ${title(c.text)}`;

    it(`${name}: BPE ids`, function () {
      const t = need(this);
      assert.deepStrictEqual(t.encode(c.text), c.ids);
    });

    if (c.too_long_for_77) {
      it(`${name}: too long for 77 without truncate`, function () {
        const t = need(this);
        assert.throws(
          () => t.tokenize(c.text),
          (e: Error) =>
            /too long for context length 77/.test(e.message) &&
            e.message.includes(JSON.stringify(Array.from(c.text).slice(0, 20).join('')).slice(0, -1)) &&
            e.message.includes(`${c.ids.length + 2} tokens`) &&
            /truncate/.test(e.message),
        );
      });
      it(`${name}: tokenized_77 with truncate`, function () {
        const t = need(this);
        const b = t.tokenize(c.text, { truncate: true });
        assert.deepStrictEqual(b.shape, [1, 77]);
        assert.deepStrictEqual(row(b, 0), c.tokenized_77);
        assert.strictEqual(b.ids[76], fixture.eot);
        assert.strictEqual(b.eotIndex[0], argmax(c.tokenized_77));
      });
    } else {
      it(`${name}: tokenized_77`, function () {
        const t = need(this);
        const b = t.tokenize(c.text);
        assert.deepStrictEqual(b.shape, [1, 77]);
        assert.deepStrictEqual(row(b, 0), c.tokenized_77);
        assert.strictEqual(b.eotIndex[0], argmax(c.tokenized_77));
        // truncate changes nothing for a text that fits
        assert.deepStrictEqual(row(t.tokenize(c.text, { truncate: true }), 0), c.tokenized_77);
      });
    }

    it(`${name}: decoded`, function () {
      const t = need(this);
      assert.strictEqual(t.decode(c.ids), c.decoded);
    });
  }

  it('tokenizer: all cases in one batch (truncate) give the reference rows', function () {
    const t = need(this);
    const b = t.tokenize(cases.map((c) => c.text), { truncate: true });
    assert.deepStrictEqual(b.shape, [cases.length, 77]);
    cases.forEach((c, i) => {
      assert.deepStrictEqual(row(b, i), c.tokenized_77, c.text);
      assert.strictEqual(b.eotIndex[i], argmax(c.tokenized_77), c.text);
    });
  });

  it('tokenizer: CoOp class names (coop-official/cases.json) tokenize to sensible ids', function () {
    const t = need(this);
    let names = Object.keys(CLASSNAMES);
    try {
      const file = path.join(coopDir().dir, 'cases.json');
      if (fs.existsSync(file)) names = (JSON.parse(fs.readFileSync(file, 'utf8')) as { classnames: string[] }).classnames;
    } catch {
      // the embedded copy of the names is used
    }
    for (const n of names) {
      const ids = t.encode(n);
      assert.ok(ids.length > 0 && ids.every((id) => Number.isInteger(id) && id >= 0 && id < t.sotToken), n);
      const expected = CLASSNAMES[n];
      if (expected !== undefined) assert.strictEqual(t.decode(ids), expected, n);
      // as CoOp builds its prompts: "X X X X {name}."
      const b = t.tokenize(`X X X X ${n.replace(/_/g, ' ')}.`);
      const r = row(b, 0);
      assert.strictEqual(r[0], t.sotToken);
      assert.deepStrictEqual(r.slice(1, 5), [t.encode('X')[0], t.encode('X')[0], t.encode('X')[0], t.encode('X')[0]]);
      assert.strictEqual(r[b.eotIndex[0]], t.eotToken);
      assert.strictEqual(r[b.eotIndex[0] - 1], t.encode('.')[0]);
    }
  });
});
