// Hugging Face CLIP folders as named models: the four openai/clip-vit-* manifests (the files promptlab
// reads of such a folder, URLs at the Hub repository's revision, nothing unknown pretended to be known),
// the schema's checks of a Hugging Face model section, and `--model openai/clip-vit-base-patch32`
// resolved through its manifest and a fake user cache: what is missing is named with the fetch command,
// the tokenizer is the folder's own vocab.json + merges.txt (never CLIP's merges file from the cache),
// and the weights (pytorch_model.bin with Hugging Face key names) give the same model as the OpenAI
// layout; `repro --model openai/...` records the folder's files.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from '../../src/clip/config';
import { ClipModel } from '../../src/clip/model';
import { randomStateDict } from '../../src/clip/random';
import { isModelName, loadClip, modelNames, resolveModel } from '../../src/clip/resolve';
import { readSafetensors } from '../../src/clip/safetensors';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { loadWeights, type StateDict } from '../../src/clip/weights';
import { requireModel } from '../../src/cli/args';
import { checkDownloadManifest, listDownloadManifests } from '../../src/data/fetch';
import { runExperiment } from '../../src/repro/experiments';
import { writeCoopSplitDataset, TINY_VIT_224 } from '../helpers/coop-data';
import { writeHfFolder } from '../helpers/hf-export';
import { torchSaveStateDict } from '../helpers/torch-save';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'promptlab.js');
const HUB = ['openai/clip-vit-base-patch16', 'openai/clip-vit-base-patch32', 'openai/clip-vit-large-patch14', 'openai/clip-vit-large-patch14-336'];

/** Runs fn with PROMPTLAB_CACHE set to dir. */
async function withCache<T>(dir: string, fn: () => T | Promise<T>): Promise<T> {
  const before = process.env.PROMPTLAB_CACHE;
  process.env.PROMPTLAB_CACHE = dir;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.PROMPTLAB_CACHE;
    else process.env.PROMPTLAB_CACHE = before;
  }
}

describe('Hugging Face CLIP folders by name (manifests, schema, resolution through the user cache)', function () {
  this.timeout(300000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-hf-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const hf = listDownloadManifests().filter((m) => m.model?.format === 'huggingface');

  it('the four Hub folders: config.json, pytorch_model.bin, vocab.json and merges.txt at https://huggingface.co/<repo>/resolve/<revision>/<file>, sizes and checksums said to be unknown', () => {
    assert.deepStrictEqual(hf.map((m) => m.model!.name).sort(), HUB);
    for (const m of hf) {
      const mo = m.model!;
      assert.strictEqual(m.kind, 'model');
      assert.strictEqual(m.id, `hf-${mo.name.split('/')[1]}`);
      assert.deepStrictEqual(mo.hub, { repo: mo.name, revision: 'main' });
      assert.deepStrictEqual([mo.weights, mo.config, mo.tokenizerFiles, mo.tokenizer], ['pytorch_model.bin', 'config.json', ['vocab.json', 'merges.txt'], undefined]);
      assert.deepStrictEqual(m.files.map((f) => f.path).sort(), ['config.json', 'merges.txt', 'pytorch_model.bin', 'vocab.json'], `${m.id}: no file of CLIP's release (bpe_simple_vocab) stands in for the folder's tokenizer`);
      assert.strictEqual(mo.imageResolution, mo.name.endsWith('-336') ? 336 : 224);
      for (const f of m.files) {
        assert.strictEqual(f.url, `https://huggingface.co/${mo.name}/resolve/main/${f.path}`);
        assert.deepStrictEqual([f.size, f.sha256, f.verify], [null, null, 'none'], `${m.id}: ${f.path} is not pinned, so nothing about it is claimed`);
        assert.match(f.note!, /size and sha256 are not recorded: the Hugging Face Hub could not be reached/);
      }
      assert.ok(m.notes!.some((n) => /branch main, not a commit/.test(n)), `${m.id}: says its revision is not pinned`);
    }
    // the names users type, after OpenAI's nine
    assert.deepStrictEqual(modelNames().slice(9), HUB);
    assert.ok(isModelName('openai/clip-vit-large-patch14-336') && isModelName('clip-vit-base-patch16') && isModelName('HF-CLIP-VIT-BASE-PATCH32'));
  });

  it("the schema of a Hugging Face section: the folder's config.json and tokenizer files beside the weights, every URL at its repository and revision, no checksum on a branch", () => {
    const files = (rev: string, sha = false) => ['config.json', 'pytorch_model.bin', 'vocab.json', 'merges.txt'].map((p) => ({
      url: `https://huggingface.co/o/m/resolve/${rev}/${p}`, path: p, size: null, ...(sha ? { sha256: 'c'.repeat(64) } : { sha256: null, verify: 'none', note: 'unknown' }),
    }));
    const model = { name: 'o/m', format: 'huggingface', weights: 'pytorch_model.bin', config: 'config.json', tokenizerFiles: ['vocab.json', 'merges.txt'], hub: { repo: 'o/m', revision: 'main' } };
    const manifest = (mo: Record<string, unknown> = {}, fs_ = files('main')) => ({ id: 'hf-x', kind: 'model', description: 'd', license: 'l', model: { ...model, ...mo }, files: fs_ });
    checkDownloadManifest(manifest(), 'ok.json');
    const commit = 'ab'.repeat(20);
    checkDownloadManifest(manifest({ hub: { repo: 'o/m', revision: commit } }, files(commit, true)), 'pinned.json');
    const bad = (m: unknown, re: RegExp) => assert.throws(() => checkDownloadManifest(m, 'm.json'), re);
    bad(manifest({}, files('v2')), /files\[0\]\.url "https:\/\/huggingface\.co\/o\/m\/resolve\/v2\/config\.json" is not https:\/\/huggingface\.co\/o\/m\/resolve\/main\/config\.json/);
    bad(manifest({}, files('main', true)), /files\[0\] has a sha256, but model\.hub\.revision "main" is a branch, not a commit/);
    bad(manifest({ tokenizerFiles: ['vocab.json'] }), /model\.tokenizerFiles \["vocab\.json"\] must be \["vocab\.json","merges\.txt"\] or \["tokenizer\.json"\]/);
    bad(manifest({ tokenizerFiles: undefined }), /model\.tokenizerFiles is not a list/);
    bad(manifest({ tokenizer: 'merges.txt' }), /a Hugging Face folder lists its own tokenizer files in model\.tokenizerFiles/);
    bad(manifest({ weights: 'vocab.json' }), /model\.weights "vocab\.json": a Hugging Face folder's weights are model\.safetensors or pytorch_model\.bin/);
    bad(manifest({ config: undefined }), /model\.config undefined must be "config\.json"/);
    bad(manifest({ hub: undefined }), /model\.hub undefined is not \{"repo": "<owner>\/<name>"/);
    bad(manifest({ hub: { repo: 'o/m', revision: 'a/b' } }), /model\.hub .* is not \{"repo"/);
    bad(manifest({ format: 'onnx' }), /model\.format "onnx" is not openai or huggingface/);
    bad({ ...manifest(), model: { name: 'M', weights: 'pytorch_model.bin', hub: { repo: 'o/m', revision: 'main' } } }, /model\.hub belongs to a Hugging Face folder \("format": "huggingface"\)/);
  });

  describe('--model openai/clip-vit-base-patch32 through the user cache', () => {
    const cache = path.join(tmp, 'cache');
    const dir = path.join(cache, 'hf-clip-vit-base-patch32');
    const config: ClipConfig = TINY_VIT_224;
    const sd = randomStateDict(config, 5);
    before(() => {
      // CLIP's merges file in the cache, with one merge more than the folder's: were it used, its 516 tokens would not fit the model
      fs.mkdirSync(path.join(cache, 'clip-bpe'), { recursive: true });
      fs.writeFileSync(path.join(cache, 'clip-bpe', 'bpe_simple_vocab_16e6.txt.gz'), zlib.gzipSync('#version: 0.2\nh e\nl o\n'));
    });

    it('not fetched, then fetched in part: each error names what is missing and `npx promptlab fetch hf-clip-vit-base-patch32`; the cached CLIP merges file never stands in', async () => {
      await withCache(cache, () => {
        assert.throws(() => resolveModel('openai/clip-vit-base-patch32', 'unused'), (e: Error) => e.message.includes(path.join(dir, 'pytorch_model.bin')) && /--model openai\/clip-vit-base-patch32: openai\/clip-vit-base-patch32 is not downloaded yet \(.* is missing\); run `npx promptlab fetch hf-clip-vit-base-patch32` once/.test(e.message));
        // the weights and config are there (as an interrupted fetch leaves them), not the tokenizer
        const staging = path.join(tmp, 'staging');
        writeHfFolder(staging, sd, config);
        const hfDict: StateDict = new Map([...readSafetensors(path.join(staging, 'model.safetensors')).tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array }]));
        fs.mkdirSync(dir, { recursive: true });
        torchSaveStateDict(path.join(dir, 'pytorch_model.bin'), hfDict);
        fs.copyFileSync(path.join(staging, 'config.json'), path.join(dir, 'config.json'));
        assert.throws(() => resolveModel('clip-vit-base-patch32', 'unused'), (e: Error) => e.message.includes(`${path.join(dir, 'vocab.json')}, ${path.join(dir, 'merges.txt')} are missing`) && /its tokenizer file .* run `npx promptlab fetch hf-clip-vit-base-patch32` \(it skips the files already there\)/.test(e.message));
        fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\nh e\n');
        assert.throws(() => resolveModel('hf-clip-vit-base-patch32', 'unused'), /its tokenizer file .*vocab\.json is missing; run `npx promptlab fetch hf-clip-vit-base-patch32`/);
      });
    });

    it("the fetched folder loads: its config.json, its own tokenizer, and the same text and image features as the OpenAI layout", async () => {
      const base = ClipTokenizer.fromMerges('#version: 0.2\nh e\n');
      const vocab: Record<string, number> = {};
      for (let id = 0; id < base.vocabSize; id++) vocab[base.idToToken(id)!] = id;
      fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
      await withCache(cache, () => {
        const r = resolveModel('openai/clip-vit-base-patch32', 'unused');
        assert.deepStrictEqual([r.source, r.tokenizer, r.hfTokenizer, r.label, r.manifest!.id], [path.join(dir, 'pytorch_model.bin'), null, dir, 'openai/clip-vit-base-patch32', 'hf-clip-vit-base-patch32']);
        assert.deepStrictEqual(r.companions, ['config.json', 'vocab.json', 'merges.txt'].map((f) => path.join(dir, f)));
        // the weights file named by its path: the folder's tokenizer and config come with it just the same
        const byPath = resolveModel(path.join(dir, 'pytorch_model.bin'), 'unused');
        assert.deepStrictEqual([byPath.tokenizer, byPath.hfTokenizer, byPath.companions], [null, dir, r.companions]);
        // the folder named by its path (PyTorch weights only, no model.safetensors): the same
        const byFolder = resolveModel(dir, 'unused');
        assert.deepStrictEqual([byFolder.source, byFolder.hfTokenizer, byFolder.companions, byFolder.label], [path.join(dir, 'pytorch_model.bin'), dir, r.companions, dir]);
        assert.strictEqual(requireModel('repro', '--model', dir), dir);
        assert.strictEqual(loadWeights(dir).source, dir);
        const logs: string[] = [];
        const { model, tokenizer } = loadClip(r, (l) => logs.push(l));
        const reference = new ClipModel(config, sd);
        try {
          assert.deepStrictEqual([tokenizer.vocabSize, tokenizer.source, tokenizer.sotToken, tokenizer.eotToken], [515, dir, 513, 514]);
          assert.deepStrictEqual([model.config.imageResolution, model.config.visionPatchSize, model.config.vocabSize], [224, 32, 515]);
          assert.deepStrictEqual(logs, [], 'the release says 224 px, and so do the weights');
          const ids = tokenizer.tokenize(['hello there', 'the head']);
          const pixels = tf.randomNormal([2, 3, 224, 224], 0, 1, 'float32', 3) as tf.Tensor4D;
          const pairs = [[model.encodeText(ids), reference.encodeText(ids)], [model.encodeImage(pixels), reference.encodeImage(pixels)]];
          for (const [a, b] of pairs) {
            const diff = tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
            assert.ok(diff < 1e-5, `max difference ${diff}`);
          }
          tf.dispose([pixels, ...pairs.flat()]);
        } finally {
          model.dispose();
          reference.dispose();
        }
      });
    });

    it('repro zeroshot --model openai/clip-vit-base-patch32 --data ROOT runs on the folder and records its files; the command line takes a Hub name not fetched yet and says what to fetch', async () => {
      const data = path.join(tmp, 'data');
      writeCoopSplitDataset(data, { dir: 'caltech-101', images: '101_ObjectCategories', split: 'split_zhou_Caltech101.json', classes: ['airplane', 'face', 'joshua_tree'] });
      const res = await withCache(cache, () => runExperiment('zeroshot', { quick: true, model: 'openai/clip-vit-base-patch32', data, datasets: ['caltech101'], out: path.join(tmp, 'zs') }));
      assert.deepStrictEqual(res.rows.map((x) => [x.method, x.dataset]), [['zeroshot', 'caltech101'], ['zeroshot-ensemble', 'caltech101']]);
      assert.deepStrictEqual(Object.keys(res.model!.files).sort(), ['config.json', 'merges.txt', 'pytorch_model.bin', 'vocab.json']);
      const cli = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'repro', 'zeroshot', '--model', 'openai/clip-vit-large-patch14', '--data', data, '--datasets', 'caltech101', '--out', path.join(tmp, 'cli')], { cwd: ROOT, env: { ...process.env, PROMPTLAB_CACHE: cache } });
        let stderr = '';
        child.stderr.on('data', (d) => { stderr += d; });
        child.stdout.resume();
        child.on('close', (status) => resolve({ status, stderr }));
      });
      assert.strictEqual(cli.status, 1, cli.stderr.slice(-2000));
      assert.match(cli.stderr, /openai\/clip-vit-large-patch14 is not downloaded yet .*hf-clip-vit-large-patch14\/pytorch_model\.bin is missing\); run `npx promptlab fetch hf-clip-vit-large-patch14` once/);
    });
  });
});
