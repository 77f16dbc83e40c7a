// Run records (issue 5): every repro run writes its config, seeds, metrics, environment and the
// checksums of the data and model it used; the same seed and backend give identical metrics.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { getWorldDataset } from '../../src/data/world-benchmarks';
import { contentSha256, loadManifest } from '../../src/data/manifest';
import { loadMiniClip, MINICLIP_DIR } from '../../src/miniclip';
import { chanceLevels, committedResults, committedResultsDir, defaultDatasets, defaultOut, reusable, runExperiment } from '../../src/repro/experiments';
import { runFewshot } from '../../src/repro/fewshot';
import { describeData, describeModel, environment, readResults, runProvenance, sha256File, type Results } from '../../src/repro/record';

describe('run records', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-records-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a repro run records config, seeds, environment, data and model checksums, and one record per seed', async function () {
    this.timeout(120000);
    const out = path.join(tmp, 'zs');
    const r = await runExperiment('zeroshot', { quick: true, seeds: [0, 1], datasets: ['world-patterns'], out });
    const pinned = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as Results;
    assert.deepStrictEqual(Object.keys(pinned), ['experiment', 'config', 'env', 'rows', 'summary'], 'results.json keeps the pinned format');
    const onDisk = readResults(out); // with the run record beside it
    assert.deepStrictEqual(onDisk.rows, r.rows);
    assert.deepStrictEqual(onDisk.data, r.data);
    assert.deepStrictEqual(onDisk.config.seeds, [0, 1]);
    assert.strictEqual(onDisk.env.backend, environment().backend);
    assert.match(onDisk.env.node, /^\d+\.\d+\.\d+$/);
    assert.ok('commit' in onDisk.env.git && 'dirty' in onDisk.env.git);
    assert.ok('gpu' in onDisk.env);
    // data: one record per generation seed, the content hashed from the items actually used
    assert.deepStrictEqual(onDisk.data!.map((d) => [d.dataset, d.variant, d.seed]), [['world-patterns', 'quick', 0], ['world-patterns', 'quick', 1]]);
    assert.strictEqual(onDisk.data![1].contentSha256, contentSha256(getWorldDataset('world-patterns', { quick: true, seed: 1 })));
    assert.notStrictEqual(onDisk.data![0].contentSha256, onDisk.data![1].contentSha256);
    assert.strictEqual(onDisk.model!.files['model.safetensors'], sha256File(path.join(MINICLIP_DIR, 'model.safetensors')));
    assert.ok(onDisk.model!.files['bpe.txt'] && onDisk.model!.files['config.json']);
    for (const seed of [0, 1]) {
      const rec = JSON.parse(fs.readFileSync(path.join(out, `seed${seed}`, 'record.json'), 'utf8'));
      assert.strictEqual(rec.seed, seed);
      assert.ok(rec.rows.length > 0 && rec.rows.every((row: { seed: number }) => row.seed === seed));
      assert.deepStrictEqual(rec.data, onDisk.data);
    }
    assert.match(runProvenance(onDisk), /^zeroshot: commit .*, [a-z-]+ backend.*, \d+ s; model bpe\.txt [0-9a-f]{12}, config\.json .*; data world-patterns \(quick, sha256 [0-9a-f]{12}\)/);
  });

  it("a merged run's provenance names every part's commit, not only the first part's", () => {
    const env = { ...environment(), git: { commit: 'a'.repeat(40), dirty: false } };
    const base = { experiment: 'fewshot', env, rows: [], summary: {} } as unknown as Results;
    const merged = { ...base, config: { seconds: 30, parts: [
      { dir: '../p1', commit: 'a'.repeat(40), dirty: false },
      { dir: '../p2', commit: 'b'.repeat(40), dirty: true },
      { dir: '../p3', commit: 'a'.repeat(40), dirty: false },
    ] } } as unknown as Results;
    assert.match(runProvenance(merged), /^fewshot: 3 runs merged, at commits a{10}, b{10} \(1 of them on a dirty tree\), [a-z-]+ backend/);
    assert.match(runProvenance({ ...base, config: { seconds: 30 } } as unknown as Results), /^fewshot: commit a{10}, /);
    const noGit = { ...merged, config: { parts: [{ dir: '../p1', commit: null, dirty: null }, { dir: '../p2', commit: null, dirty: null }] } } as unknown as Results;
    assert.match(runProvenance(noGit), /^fewshot: 2 runs merged, no git commit, /);
  });

  it('the full variant with seed 0 names its committed manifest and takes its checksum', () => {
    const d = describeData(getWorldDataset('world-shapes'), 'full');
    assert.strictEqual(d.manifest!.file, path.join('data-manifests', 'world', 'world-shapes.json'));
    assert.strictEqual(d.contentSha256, loadManifest('world-shapes').contentSha256);
    assert.strictEqual(d.manifest!.sha256.length, 64);
    assert.strictEqual(describeData(getWorldDataset('world-shapes', { seed: 3 }), 'full').manifest, null);
  });

  it('the same seed and backend give identical metrics (zero-shot and a training experiment)', async function () {
    this.timeout(180000);
    const a = await runExperiment('zeroshot', { quick: true, datasets: ['world-positions'], out: path.join(tmp, 'a') });
    const b = await runExperiment('zeroshot', { quick: true, datasets: ['world-positions'], out: path.join(tmp, 'b') });
    assert.deepStrictEqual(a.rows, b.rows);
    const { model, tokenizer } = loadMiniClip();
    try {
      const opts = { quick: true, seeds: [2], datasets: ['world-patterns'], shots: [2], variants: ['end', 'middle-csc'] as const };
      const first = runFewshot(model, tokenizer, opts);
      const second = runFewshot(model, tokenizer, opts);
      assert.deepStrictEqual(first.map((r) => `${r.method} ${r.metric}`), ['zeroshot accuracy@0', 'linear-probe accuracy@2', 'coop accuracy@2', 'coop-middle-csc accuracy@2']);
      assert.deepStrictEqual(first, second);
    } finally {
      model.dispose();
    }
  });

  it('results are reused only for the same configuration, model, data, backend and a clean commit', async function () {
    this.timeout(60000);
    const out = path.join(tmp, 'reuse');
    const r = await runExperiment('zeroshot', { quick: true, datasets: ['world-patterns'], out });
    const cfg = { quick: true, seeds: [0], datasets: ['world-patterns'], cachedFeatures: false };
    const model = describeModel(MINICLIP_DIR);
    const clean = { ...r.env, git: { commit: 'abc', dirty: false } };
    const { data, model: m, ...pinned } = r;
    fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify({ ...pinned, env: clean }));
    fs.writeFileSync(path.join(out, 'record.json'), JSON.stringify({ experiment: r.experiment, config: r.config, env: clean, data, model: m }));
    const file = out;
    assert.ok(reusable(file, 'zeroshot', cfg, r.data!, model, clean));
    assert.strictEqual(reusable(file, 'zeroshot', { ...cfg, seeds: [1] }, r.data!, model, clean), null);
    assert.strictEqual(reusable(file, 'fewshot', cfg, r.data!, model, clean), null);
    assert.strictEqual(reusable(file, 'zeroshot', cfg, r.data!, { ...model, files: { ...model.files, 'model.safetensors': '0' } }, clean), null);
    assert.strictEqual(reusable(file, 'zeroshot', cfg, r.data!, model, { ...clean, git: { commit: 'abd', dirty: false } }), null);
    assert.strictEqual(reusable(file, 'zeroshot', cfg, r.data!, model, { ...clean, git: { commit: 'abc', dirty: true } }), null);
    assert.strictEqual(reusable(file, 'zeroshot', cfg, r.data!, model, { ...clean, backend: 'cpu' }), null);
    assert.strictEqual(reusable(path.join(tmp, 'nothing'), 'zeroshot', cfg, r.data!, model, clean), null);
    // a training run on cached features is not the same run as one on augmented views
    const trained = { ...pinned, experiment: 'fewshot', config: { ...r.config, cachedFeatures: true, shots: [1, 4, 16] }, env: clean };
    fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(trained));
    fs.writeFileSync(path.join(out, 'record.json'), JSON.stringify({ experiment: 'fewshot', config: trained.config, env: clean, data, model: m }));
    assert.ok(reusable(file, 'fewshot', { ...cfg, cachedFeatures: true }, r.data!, model, clean));
    assert.strictEqual(reusable(file, 'fewshot', cfg, r.data!, model, clean), null);
    // a few-shot run with other CoOp variants is another run (a record without variants trained the default one)
    assert.ok(reusable(file, 'fewshot', { ...cfg, cachedFeatures: true, variants: ['end'] }, r.data!, model, clean));
    assert.strictEqual(reusable(file, 'fewshot', { ...cfg, cachedFeatures: true, variants: ['end', 'middle'] }, r.data!, model, clean), null);
    // and one of other shot counts (--shots) too
    assert.ok(reusable(file, 'fewshot', { ...cfg, cachedFeatures: true, shots: [1, 4, 16] }, r.data!, model, clean));
    assert.strictEqual(reusable(file, 'fewshot', { ...cfg, cachedFeatures: true, shots: [1, 4] }, r.data!, model, clean), null);
  });

  it('chance levels: 100 / classes on the test split and on CoCoOp\'s base and new halves; none for czsl', () => {
    assert.deepStrictEqual(chanceLevels('fewshot', ['world-patterns', 'world-positions'], true), {
      'world-patterns': { test: 20, base: 100 / 3, new: 50 },
      'world-positions': { test: 100 / 9, base: 20, new: 25 },
    });
    assert.strictEqual(chanceLevels('czsl', ['world-czsl'], true), undefined);
  });

  it('CoOp variants: an unknown one is refused before anything runs, naming the valid ones; only fewshot takes them', async () => {
    await assert.rejects(runExperiment('fewshot', { quick: true, variants: ['end', 'front'], out: path.join(tmp, 'v') }), /unknown CoOp variant "front" \(valid: end, middle, end-csc, middle-csc\)/);
    await assert.rejects(runExperiment('base2new', { quick: true, variants: ['end'], out: path.join(tmp, 'v') }), /--variants is a fewshot option/);
    // --shots likewise: some of the protocol's shot counts, fewshot only
    await assert.rejects(runExperiment('fewshot', { quick: true, shots: [1, 2], out: path.join(tmp, 'v') }), /^Error: fewshot: 2 is not a shot count of fewshot's quick protocol \(valid: 1, 4, 16\)$/);
    await assert.rejects(runExperiment('fewshot', { quick: true, shots: [], out: path.join(tmp, 'v') }), /fewshot: no shot counts given; name some of fewshot's quick protocol \(valid: 1, 4, 16\)/);
    await assert.rejects(runExperiment('base2new', { quick: true, shots: [16], out: path.join(tmp, 'v') }), /base2new: --shots is a fewshot option/);
    assert.ok(!fs.existsSync(path.join(tmp, 'v')));
  });

  it('the committed full results load by experiment name, wherever the process runs; an unknown name is refused', () => {
    const cwd = process.cwd();
    process.chdir(os.tmpdir());
    try {
      const r = committedResults('zeroshot');
      assert.strictEqual(r.experiment, 'zeroshot');
      assert.strictEqual(r.config.quick, false);
      assert.ok(r.summary.some((s) => s.dataset === 'average'));
    } finally {
      process.chdir(cwd);
    }
    assert.throws(() => committedResults('nosuch'), /unknown experiment "nosuch" \(available: zeroshot, fewshot, base2new, transfer, czsl, video, dense\)/);
    // video's other protocols in their own folders, as their runs are laid out; the closed one is the experiment's
    assert.strictEqual(path.relative(committedResultsDir('video'), committedResultsDir('video', 'closed')), '');
    assert.strictEqual(path.relative(committedResultsDir('video'), committedResultsDir('video', 'fewshot')), path.join('..', 'fewshot', 'full'));
    assert.strictEqual(path.relative(path.resolve('runs'), defaultOut('video', true, 'zeroshot')), path.join('video', 'zeroshot', 'quick'));
    assert.throws(() => committedResultsDir('video', 'openset'), /unknown protocol "openset"/);
  });

  it('quick training runs leave out the 80-class world-colors; quick zeroshot and full runs keep every benchmark', () => {
    assert.ok(!defaultDatasets('fewshot', true).includes('world-colors'));
    assert.ok(!defaultDatasets('base2new', true).includes('world-colors'));
    assert.ok(defaultDatasets('zeroshot', true).includes('world-colors'));
    assert.ok(defaultDatasets('base2new', false).includes('world-colors'));
  });
});
