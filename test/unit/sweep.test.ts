// promptlab sweep and collect: grids parsed into runs with stable ids, run locally as processes
// (finished runs skipped, a failed run reported and the rest going on, a killed sweep resumed without
// redoing what finished), and collected into what one `repro` over the grid writes, row for row;
// few-shot's grid split by shots included.
import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EXPERIMENTS } from '../../src/repro/experiments';
import { runFewshot } from '../../src/repro/fewshot';
import { readResults, recordedPath, writeResults, environment, type Results } from '../../src/repro/record';
import { MINICLIP_DIR } from '../../src/miniclip';
import { loadMiniClip } from '../../src/miniclip';
import type { ProgressInfo } from '../../src/train/progress';
import { expandGrid, makeManifest, parseGridSpec, readManifest, runId, saveManifest, shellWord, sweepCommand } from '../../src/sweep/grid';
import { runLocal } from '../../src/sweep/local';
import { arrayRanges, sbatchScript } from '../../src/sweep/slurm';
import { runState } from '../../src/sweep/status';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'promptlab.js');

function cli(args: string[], timeout = 300000) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const rowsOf = (r: Results) => ({ rows: r.rows, summary: r.summary });
const mtime = (f: string) => fs.statSync(f).mtimeMs;

/** The pids of processes whose command line names `marker` (the test's own folders only). */
function processesNaming(marker: string): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  }).map(Number);
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('sweep: grids', () => {
  const quick = { quick: true, model: null, cachedFeatures: false, variants: null };

  it('parses SPEC: lists, ranges, spaces and a trailing ;', () => {
    assert.deepStrictEqual(parseGridSpec('zeroshot', ' seeds = 1..3 ; datasets=world-shapes, world-colors ;'), { seeds: [1, 2, 3], datasets: ['world-shapes', 'world-colors'] });
    assert.deepStrictEqual(parseGridSpec('fewshot', 'seeds=0,7'), { seeds: [0, 7] });
    assert.deepStrictEqual(parseGridSpec('czsl', 'datasets=world-czsl;seeds=1'), { datasets: ['world-czsl'], seeds: [1] });
  });

  it('bad SPECs: each error names the key and what is valid', () => {
    const bad = (experiment: string, spec: string, re: RegExp) => assert.throws(() => makeManifest(experiment, spec, quick), re, spec);
    bad('zeroshot', 'foo=1', /unknown grid key 'foo' \(keys for zeroshot: seeds, datasets\)/);
    bad('zeroshot', 'seeds=1;datasets=world-nope', /datasets: unknown dataset 'world-nope' for zeroshot \(valid: world-shapes, world-sketches, world-patterns, world-colors, world-positions\)/);
    bad('czsl', 'datasets=world-shapes', /unknown dataset 'world-shapes' for czsl \(valid: world-czsl\)/);
    bad('zeroshot', 'seeds=1,x', /seeds: 'x' is not a seed \(valid: whole numbers >= 0/);
    bad('zeroshot', 'seeds=3..1', /range 3\.\.1 runs backwards/);
    bad('zeroshot', 'seeds=1,1', /seeds lists 1 twice/);
    bad('zeroshot', 'seeds=1;seeds=2', /seeds is given twice/);
    bad('zeroshot', 'seeds=1,', /seeds: an empty value/);
    bad('zeroshot', 'seeds', /'seeds' is not KEY=V1,V2 \(keys for zeroshot: seeds, datasets\)/);
    bad('zeroshot', ' ; ', /the grid is empty/);
    bad('zeroshot', 'seed=1', /seed is not a grid key for zeroshot: the key is seeds/);
    // shots: fewshot's key only, each a shot count of the protocol the sweep runs
    bad('zeroshot', 'shots=1', /^Error: shots is not a grid key for zeroshot: zeroshot trains nothing, so it has no shot counts \(only fewshot's runs take --shots, one point each of its accuracy-against-shots curve\) \(keys: seeds, datasets\)$/);
    bad('base2new', 'seeds=1;shots=16', /^Error: shots is not a grid key for base2new: base-to-new always trains on CoCoOp's 16 shots per class \(only fewshot's runs take --shots, .*\) \(keys: seeds, datasets\)$/);
    bad('transfer', 'shots=16', /^Error: shots is not a grid key for transfer: transfer's runs have no --shots option \(only fewshot's .*\) \(keys: seeds\)$/);
    bad('fewshot', 'shots=2', /^Error: shots: 2 is not a shot count of fewshot's quick protocol \(valid: 1, 4, 16\)$/);
    assert.throws(() => makeManifest('fewshot', 'shots=2,3', { ...quick, quick: false }), /^Error: shots: 3 is not a shot count of fewshot's full protocol \(valid: 1, 2, 4, 8, 16\)$/);
    bad('fewshot', 'shots=1,x', /^Error: shots: 'x' is not a shot count \(valid for fewshot's quick protocol: 1, 4, 16\)$/);
    bad('fewshot', 'shots=4,4', /shots lists 4 twice/);
    bad('fewshot', 'shot=4', /shot is not a grid key for fewshot: the key is shots/);
    bad('fewshot', 'foo=1', /unknown grid key 'foo' \(keys for fewshot: seeds, datasets, shots\)/);
    bad('fewshot', 'variants=end,middle', /variants is not a grid key for fewshot: .*--variants a,b/);
    bad('transfer', 'datasets=world-shapes', /datasets is not a grid key for transfer: a transfer run takes its source and its targets together \(keys: seeds\)/);
    assert.throws(() => makeManifest('nope', 'seeds=1', quick), (e: Error) => e.message === `unknown experiment 'nope' (available: ${EXPERIMENTS.join(', ')})`);
    assert.throws(() => makeManifest('zeroshot', 'seeds=1', { ...quick, variants: ['end'] }), /--variants is a fewshot option/);
    assert.throws(() => makeManifest('fewshot', 'seeds=1', { ...quick, variants: ['sideways'] }), /unknown CoOp variant "sideways" \(valid: end, middle, end-csc, middle-csc\)/);
  });

  it('the CLI says so, with exit code 2', () => {
    const r = cli(['sweep', 'zeroshot', '--grid', 'datasets=world-nope', '--out', path.join(os.tmpdir(), 'promptlab-sweep-never')]);
    assert.strictEqual(r.status, 2);
    assert.match(r.out, /^promptlab sweep: --grid 'datasets=world-nope': datasets: unknown dataset 'world-nope' for zeroshot \(valid: world-shapes,/m);
    assert.ok(!fs.existsSync(path.join(os.tmpdir(), 'promptlab-sweep-never')), 'nothing written for a bad grid');
    const s = cli(['sweep', 'base2new', '--grid', 'shots=16', '--out', path.join(os.tmpdir(), 'promptlab-sweep-never')]);
    assert.strictEqual(s.status, 2);
    assert.match(s.out, /^promptlab sweep: --grid 'shots=16': shots is not a grid key for base2new: base-to-new always trains on CoCoOp's 16 shots per class/m);
    // what each run of a shots grid is given: repro fewshot --shots, checked the same way
    const k = cli(['repro', 'fewshot', '--quick', '--shots', '1,2', '--out', path.join(os.tmpdir(), 'promptlab-sweep-never')]);
    assert.strictEqual(k.status, 2);
    assert.strictEqual(k.out.trim(), "promptlab repro: --shots 1,2: 2 is not a shot count of fewshot's quick protocol (valid: 1, 4, 16)");
    const z = cli(['repro', 'zeroshot', '--shots', '1', '--out', path.join(os.tmpdir(), 'promptlab-sweep-never')]);
    assert.strictEqual(z.status, 2);
    assert.match(z.out, /^promptlab repro: --shots is a fewshot option \(the shot counts of its curve\); zeroshot has none to choose$/m);
    assert.ok(!fs.existsSync(path.join(os.tmpdir(), 'promptlab-sweep-never')), 'nothing written for bad --shots');
    const w = cli(['sweep', 'zeroshot', '--grid', 'seeds=1', '--wait', '--out', '/tmp/x']);
    assert.strictEqual(w.status, 2);
    assert.match(w.out, /--wait goes with --slurm/);
  });

  it('runs: ids made of the parameters only, in the order one repro measures them', () => {
    const zs = expandGrid('zeroshot', parseGridSpec('zeroshot', 'datasets=world-shapes,world-colors;seeds=1,2'), quick);
    // zeroshot measures seed by seed; the same grid written the other way round gives the same runs
    assert.deepStrictEqual(zs.map((r) => r.id), ['seed1_world-shapes', 'seed1_world-colors', 'seed2_world-shapes', 'seed2_world-colors']);
    assert.deepStrictEqual(expandGrid('zeroshot', parseGridSpec('zeroshot', 'seeds=1,2;datasets=world-shapes,world-colors'), quick), zs);
    assert.deepStrictEqual(zs[1].args, ['repro', 'zeroshot', '--quick', '--seeds', '1', '--datasets', 'world-colors']);
    assert.deepStrictEqual(zs.map((r) => r.index), [0, 1, 2, 3]);
    // the training experiments measure dataset by dataset
    const fs2 = expandGrid('fewshot', parseGridSpec('fewshot', 'seeds=1,2;datasets=world-shapes,world-colors'), { ...quick, quick: false });
    assert.deepStrictEqual(fs2.map((r) => r.id), ['seed1_world-shapes', 'seed2_world-shapes', 'seed1_world-colors', 'seed2_world-colors']);
    // a key the grid leaves out is the experiment's default, and not in the id
    const seedsOnly = expandGrid('base2new', parseGridSpec('base2new', 'seeds=4,5'), quick);
    assert.deepStrictEqual(seedsOnly.map((r) => r.id), ['seed4', 'seed5']);
    assert.deepStrictEqual(seedsOnly[0].datasets, ['world-shapes', 'world-sketches', 'world-patterns', 'world-positions']);
    assert.deepStrictEqual(seedsOnly[0].args, ['repro', 'base2new', '--quick', '--seeds', '4']);
    assert.strictEqual(runId({ datasets: ['world-shapes'] }, undefined, 'world-shapes'), 'world-shapes');
    const m = makeManifest('fewshot', 'seeds=1', { quick: false, model: 'models/miniclip', cachedFeatures: true, variants: ['end', 'middle'] });
    assert.deepStrictEqual(m.runs[0].args, ['repro', 'fewshot', '--model', path.join(ROOT, 'models', 'miniclip'), '--cached-features', '--variants', 'end,middle', '--seeds', '1']);
  });

  it('fewshot: shots is a grid key: one run per shot count, ids and --shots of each, in the order one repro measures them', () => {
    // written in any order, the shots run in the protocol's: dataset by dataset, seed by seed, then shot by shot
    const m = makeManifest('fewshot', 'shots=16,1;seeds=1,2;datasets=world-shapes', { ...quick, cachedFeatures: true });
    assert.deepStrictEqual(m.grid.shots, [1, 16]);
    assert.deepStrictEqual(m.runs.map((r) => r.id), ['seed1_world-shapes_shot1', 'seed1_world-shapes_shot16', 'seed2_world-shapes_shot1', 'seed2_world-shapes_shot16']);
    assert.deepStrictEqual(m.runs.map((r) => r.shots), [[1], [16], [1], [16]]);
    assert.deepStrictEqual(m.runs[1].args, ['repro', 'fewshot', '--quick', '--cached-features', '--seeds', '1', '--datasets', 'world-shapes', '--shots', '16']);
    // a grid of shots alone: each run over the default seeds and datasets
    const shotsOnly = expandGrid('fewshot', parseGridSpec('fewshot', 'shots=2,8'), { ...quick, quick: false });
    assert.deepStrictEqual(shotsOnly.map((r) => [r.id, r.args.slice(2)]), [['shot2', ['--shots', '2']], ['shot8', ['--shots', '8']]]);
    assert.deepStrictEqual(shotsOnly[0].seeds, [1, 2, 3]);
    // without shots in the grid, a fewshot run measures every shot count of its protocol, and says so
    const all = makeManifest('fewshot', 'seeds=3', quick);
    assert.deepStrictEqual(all.runs[0].shots, [1, 4, 16]);
    assert.ok(!all.runs[0].args.includes('--shots'));
    assert.strictEqual(makeManifest('zeroshot', 'seeds=3', quick).runs[0].shots, undefined, 'other experiments have none');
    // the Slurm script passes each run's --shots through
    const s = sbatchScript('/tmp/sweep-shots', m);
    assert.ok(s.includes('  1) id=seed1_world-shapes_shot16; args=(--seeds 1 --datasets world-shapes --shots 16) ;;'), s);
    assert.ok(s.includes('  2) id=seed2_world-shapes_shot1; args=(--seeds 2 --datasets world-shapes --shots 1) ;;'), s);
    assert.match(s, /bin\/promptlab\.js repro fewshot --quick --cached-features "\$\{args\[@\]\}" --out "\$out"/);
  });

  it('grid.json: kept when the same grid comes again (in any order), refused for another', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-grid-'));
    try {
      const a = saveManifest(dir, makeManifest('zeroshot', 'seeds=1,2;datasets=world-shapes', quick));
      assert.deepStrictEqual(readManifest(dir), a);
      assert.deepStrictEqual(saveManifest(dir, makeManifest('zeroshot', 'datasets=world-shapes;seeds=1,2', quick)), a);
      assert.throws(() => saveManifest(dir, makeManifest('zeroshot', 'seeds=1,2,3;datasets=world-shapes', quick)), /holds another sweep \(its grid.json: the grid 'seeds=1,2;datasets=world-shapes' \(2 runs\), not 'seeds=1,2,3;datasets=world-shapes' \(3 runs\)\); give another --out/);
      assert.throws(() => saveManifest(dir, makeManifest('zeroshot', 'seeds=1,2;datasets=world-shapes', { ...quick, quick: false })), /holds another sweep \(its grid.json: quick true, not false\)/);
      fs.writeFileSync(path.join(dir, 'grid.json'), '{"promptlab":"sweep","version":1,"experiment":"zeroshot","spec":"","options":{},"runs":[{"index":0,"id":"../x","args":["repro","zeroshot"],"seeds":[1],"datasets":["a"]}]}');
      assert.throws(() => readManifest(dir), /runs\[0\]\.id "\.\.\/x" is not a folder name/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('video: --protocol is passed to every run and recorded in grid.json; none given is the default (closed); another experiment refuses it', () => {
    const m = makeManifest('video', 'seeds=1,2', { ...quick, protocol: 'fewshot' });
    assert.strictEqual(m.options.protocol, 'fewshot');
    assert.deepStrictEqual(m.runs.map((r) => r.args), [1, 2].map((seed) => ['repro', 'video', '--quick', '--protocol', 'fewshot', '--seeds', String(seed)]));
    // the Slurm script and the resume command pass it too
    assert.match(sbatchScript('/tmp/sweep-video', m), /bin\/promptlab\.js repro video --quick --protocol fewshot "\$\{args\[@\]\}" --out "\$out"/);
    assert.match(sweepCommand('/tmp/sweep-video', m), / sweep video --grid seeds=1,2 --quick --protocol fewshot --workers 2 --out /);
    // none given: no --protocol, recorded as null
    const plain = makeManifest('video', 'seeds=1,2', quick);
    assert.strictEqual(plain.options.protocol, null);
    assert.ok(plain.runs.every((r) => !r.args.includes('--protocol')));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-grid-protocol-'));
    try {
      const saved = saveManifest(dir, m);
      assert.strictEqual(readManifest(dir).options.protocol, 'fewshot');
      assert.throws(() => saveManifest(dir, makeManifest('video', 'seeds=1,2', { ...quick, protocol: 'zeroshot' })), /holds another sweep \(its grid.json: protocol "fewshot", not "zeroshot"\)/);
      assert.throws(() => saveManifest(dir, plain), /holds another sweep \(its grid.json: protocol "fewshot", not "closed"\)/);
      assert.deepStrictEqual(saveManifest(dir, makeManifest('video', 'seeds=2,1', { ...quick, protocol: 'fewshot' })), saved);
      // a folder of a sweep given none is the same sweep as one given the default by name
      const other = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-grid-protocol-'));
      try {
        const first = saveManifest(other, plain);
        assert.deepStrictEqual(saveManifest(other, makeManifest('video', 'seeds=1,2', { ...quick, protocol: 'closed' })), first);
      } finally {
        fs.rmSync(other, { recursive: true, force: true });
      }
      // a run's folder holding results of another protocol is not that run's; none recorded is closed
      const results = (protocol?: string) => ({ model: recordedPath(MINICLIP_DIR), quick: true, seeds: [1], datasets: ['world-motion'], ...(protocol ? { protocol } : {}) });
      const folder = path.join(dir, 'runs', m.runs[0].id);
      const row = { method: 'videoprompt', dataset: 'world-motion', split: 'new', metric: 'accuracy', seed: 1, value: 25 };
      writeResults(folder, 'video', results('zeroshot'), [row], {}, environment());
      const state = runState(dir, m, m.runs[0]);
      assert.strictEqual(state.state, 'other results');
      assert.match((state as { reason: string }).reason, /another configuration \(protocol zeroshot, not fewshot\)/);
      writeResults(folder, 'video', results(), [row], {}, environment());
      assert.match((runState(dir, m, m.runs[0]) as { reason: string }).reason, /\(protocol closed, not fewshot\)/);
      assert.strictEqual(runState(dir, plain, plain.runs[0]).state, 'done');
      writeResults(folder, 'video', results('fewshot'), [row], {}, environment());
      assert.strictEqual(runState(dir, m, m.runs[0]).state, 'done');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => makeManifest('video', 'seeds=1', { ...quick, protocol: 'open' }), /^Error: video: unknown protocol "open" \(valid: closed, fewshot, zeroshot; closed is the default\)$/);
    assert.throws(() => makeManifest('zeroshot', 'seeds=1', { ...quick, protocol: 'fewshot' }), /^Error: zeroshot: --protocol is a video option \(its protocols: closed, fewshot, zeroshot\); zeroshot has one protocol$/);
    const r = cli(['sweep', 'czsl', '--grid', 'seeds=1', '--protocol', 'fewshot', '--out', path.join(os.tmpdir(), 'promptlab-sweep-never')]);
    assert.strictEqual(r.status, 2);
    assert.strictEqual(r.out.trim(), 'promptlab sweep: czsl: --protocol is a video option (its protocols: closed, fewshot, zeroshot); czsl has one protocol');
    assert.ok(!fs.existsSync(path.join(os.tmpdir(), 'promptlab-sweep-never')), 'nothing written for a bad --protocol');
  });

  it('the Slurm script: an array of n tasks, options passed through, one run per index', () => {
    const m = makeManifest('zeroshot', 'seeds=1..3;datasets=world-shapes,world-colors', quick);
    const s = sbatchScript('/tmp/sweep-x', m, { partition: 'gpu', gpusPerTask: '1', time: '01:00:00', mem: '8G', account: 'lab' });
    assert.match(s, /^#SBATCH --array=0-5$/m);
    for (const line of ['--partition=gpu', '--gpus-per-task=1', '--time=01:00:00', '--mem=8G', '--account=lab', '--output=/tmp/sweep-x/slurm/%A_%a.out']) assert.ok(s.includes(`#SBATCH ${line}\n`), line);
    assert.ok(!s.includes('--cpus-per-task'), 'only the options given');
    // every #SBATCH line comes before the first command (sbatch stops reading them there)
    const lines = s.split('\n');
    const firstCommand = lines.findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
    const lastSbatch = lines.map((l, i) => (l.startsWith('#SBATCH') ? i : -1)).reduce((a, b) => Math.max(a, b));
    assert.ok(lastSbatch > 0 && lastSbatch < firstCommand);
    m.runs.forEach((r) => assert.ok(s.includes(`  ${r.index}) id=${r.id}; args=(--seeds ${r.seeds[0]} --datasets ${r.datasets[0]}) ;;`), r.id));
    assert.match(s, /bin\/promptlab\.js repro zeroshot --quick "\$\{args\[@\]\}" --out "\$out"/);
    const file = path.join(os.tmpdir(), `promptlab-sbatch-${process.pid}.sh`);
    fs.writeFileSync(file, s);
    try {
      assert.strictEqual(spawnSync('bash', ['-n', file]).status, 0, 'bash syntax');
      const r = spawnSync('bash', [file], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '6' }, encoding: 'utf8' });
      assert.strictEqual(r.status, 2);
      assert.match(r.stderr, /no run 6 in this grid \(0-5\)/);
    } finally {
      fs.rmSync(file, { force: true });
    }
    assert.throws(() => sbatchScript('/tmp/sweep-x', m, { time: '1 hour' }), /--time '1 hour': Slurm takes letters, digits/);
    assert.throws(() => sbatchScript('/tmp/with space', m), /#SBATCH lines cannot carry/);
    assert.strictEqual(arrayRanges([0, 1, 2, 5, 7, 8]), '0-2,5,7-8');
    assert.strictEqual(shellWord("it's"), `'it'\\''s'`);
  });
});

describe('sweep: local runs and collect', function () {
  this.timeout(900000);
  let tmp = '';
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-sweep-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const grid = 'seeds=1,2;datasets=world-shapes,world-patterns';

  it('runs a grid, skips it all on a re-run, and collects what one repro over the grid writes, row for row', () => {
    const dir = path.join(tmp, 'grid');
    const first = cli(['sweep', 'zeroshot', '--grid', grid, '--quick', '--out', dir]);
    assert.strictEqual(first.status, 0, first.out);
    assert.match(first.out, /4 runs into .*, 1 worker/);
    for (const id of ['seed1_world-shapes', 'seed1_world-patterns', 'seed2_world-shapes', 'seed2_world-patterns']) {
      assert.match(first.out, new RegExp(`\\[\\d/4\\] ${id}: done in [\\d.]+ s`));
      assert.match(fs.readFileSync(path.join(dir, 'runs', id, 'log.txt'), 'utf8'), new RegExp(`zeroshot: wrote .*results.json[\\s\\S]*promptlab sweep: run ${id} exited with code 0`));
    }
    assert.match(first.out, /sweep: 4 of 4 runs finished \(4 now, 0 earlier\), 0 failed/);
    const results = path.join(dir, 'runs', 'seed2_world-patterns', 'results.json');
    const before = mtime(results);
    const again = cli(['sweep', 'zeroshot', '--grid', grid, '--quick', '--out', dir]);
    assert.strictEqual(again.status, 0, again.out);
    assert.match(again.out, /4 of 4 runs finished earlier \(valid run records\): skipped/);
    assert.match(again.out, /nothing left to run/);
    assert.strictEqual(mtime(results), before, 'a finished run is not redone');

    const collected = path.join(tmp, 'collected');
    const c = cli(['collect', dir, '--out', collected]);
    assert.strictEqual(c.status, 0, c.out);
    assert.match(c.out, /collect: 4 of 4 runs of zeroshot, 2 datasets, seeds 1,2, 8 rows/);
    const single = path.join(tmp, 'single');
    const s = cli(['repro', 'zeroshot', '--quick', '--seeds', '1,2', '--datasets', 'world-shapes,world-patterns', '--out', single]);
    assert.strictEqual(s.status, 0, s.out);
    const a = readResults(collected);
    const b = readResults(single);
    assert.deepStrictEqual(rowsOf(a), rowsOf(b));
    assert.deepStrictEqual(a.config.datasets, b.config.datasets);
    assert.deepStrictEqual(a.config.seeds, b.config.seeds);
    assert.strictEqual((a.config.parts as unknown[]).length, 4);
    // its tables too
    for (const f of ['zeroshot-accuracy.csv', 'zeroshot-accuracy.md']) assert.strictEqual(fs.readFileSync(path.join(collected, f), 'utf8'), fs.readFileSync(path.join(single, f), 'utf8'), f);
    assert.ok(fs.existsSync(path.join(collected, 'zeroshot-accuracy.html')));
  });

  it('fewshot split by shots: each run passes --shots, and collect gives what one run with --shots 1,4 writes', () => {
    // quick, one dataset, one seed, CoOp on cached features: the runs take seconds
    const dir = path.join(tmp, 'fewshot-shots');
    const r = cli(['sweep', 'fewshot', '--grid', 'seeds=1;datasets=world-shapes;shots=1,4', '--quick', '--cached-features', '--workers', '2', '--out', dir]);
    assert.strictEqual(r.status, 0, r.out);
    for (const [id, k] of [['seed1_world-shapes_shot1', 1], ['seed1_world-shapes_shot4', 4]] as const) {
      assert.match(r.out, new RegExp(`\\[\\d/2\\] ${id}: done in`));
      const log = fs.readFileSync(path.join(dir, 'runs', id, 'log.txt'), 'utf8');
      assert.ok(log.includes(`repro fewshot --quick --cached-features --seeds 1 --datasets world-shapes --shots ${k} --out `), log.split('\n')[0]);
      const part = readResults(path.join(dir, 'runs', id));
      assert.deepStrictEqual(part.config.shots, [k]);
      // each run measures its dataset and seed's zero-shot row: both have it, with one value
      assert.deepStrictEqual(part.rows.map((x) => `${x.method} ${x.metric}`), ['zeroshot accuracy@0', `linear-probe accuracy@${k}`, `coop accuracy@${k}`]);
    }
    // a run's folder holding another shot count's record is not that run's
    const m = readManifest(dir);
    const other = runState(dir, m, { ...m.runs[1], id: m.runs[0].id });
    assert.strictEqual(other.state, 'other results');
    assert.match((other as { reason: string }).reason, /another configuration \(shots \[1\], not \[4\]\)/);

    const collected = path.join(tmp, 'fewshot-shots-collected');
    const c = cli(['collect', dir, '--out', collected]);
    assert.strictEqual(c.status, 0, c.out);
    assert.match(c.out, /collect: 2 of 2 runs of fewshot, 1 datasets, seeds 1, shots 1,4, 5 rows/);
    const single = path.join(tmp, 'fewshot-shots-single');
    const s = cli(['repro', 'fewshot', '--quick', '--cached-features', '--seeds', '1', '--datasets', 'world-shapes', '--shots', '1,4', '--out', single]);
    assert.strictEqual(s.status, 0, s.out);
    const a = readResults(collected);
    const b = readResults(single);
    assert.deepStrictEqual(rowsOf(a), rowsOf(b));
    assert.deepStrictEqual(a.config.shots, [1, 4]);
    // the configuration too, less what says how it was run (time, parts)
    const setting = (x: Results) => Object.fromEntries(Object.entries(x.config).filter(([k]) => k !== 'seconds' && k !== 'parts'));
    assert.deepStrictEqual(setting(a), setting(b));
    assert.deepStrictEqual((a.config.parts as { shots: number[] }[]).map((p) => p.shots), [[1], [4]]);
    for (const f of ['fewshot-accuracy.csv', 'fewshot-accuracy.md']) assert.strictEqual(fs.readFileSync(path.join(collected, f), 'utf8'), fs.readFileSync(path.join(single, f), 'utf8'), f);
  });

  it('video: every run is started with the sweep\'s --protocol (runs made to fail at once: no such backend)', async function () {
    this.timeout(120000);
    const dir = path.join(tmp, 'video-protocol');
    const m = saveManifest(dir, makeManifest('video', 'seeds=1,2', { quick: true, protocol: 'zeroshot' }));
    const lines: string[] = [];
    const report = await runLocal(dir, m, { workers: 2, log: (l) => lines.push(l), env: { ...process.env, PROMPTLAB_BACKEND: 'no-such-backend' } });
    assert.match(lines[0], /^sweep: video --quick --protocol zeroshot, grid 'seeds=1,2': 2 runs into /);
    assert.deepStrictEqual(report.failed.map((f) => f.id).sort(), ['seed1', 'seed2'], lines.join('\n'));
    for (const f of report.failed) {
      const seed = f.id.slice('seed'.length);
      const log = fs.readFileSync(path.join(dir, 'runs', f.id, 'log.txt'), 'utf8');
      assert.ok(log.includes(`repro video --quick --protocol zeroshot --seeds ${seed} --out `), log.split('\n')[0]);
      assert.match(log, /PROMPTLAB_BACKEND='no-such-backend' is not a backend/);
      assert.ok(f.command.includes(`repro video --quick --protocol zeroshot --seeds ${seed} --out `), f.command);
    }
  });

  it('a failed run is reported with its log and rerun command, the others go on, and collect lists it', () => {
    const dir = path.join(tmp, 'failing');
    // a directory where the run's results.json goes: that run fails when it writes its results
    fs.mkdirSync(path.join(dir, 'runs', 'seed3_world-shapes', 'results.json'), { recursive: true });
    const r = cli(['sweep', 'zeroshot', '--grid', 'seeds=3;datasets=world-shapes,world-patterns', '--quick', '--out', dir]);
    assert.strictEqual(r.status, 1, r.out);
    const log = path.join(dir, 'runs', 'seed3_world-shapes', 'log.txt');
    assert.match(r.out, new RegExp(`\\[1/2\\] seed3_world-shapes: FAILED after [\\d.]+ s: exit code 1: promptlab repro: EISDIR.*; log ${log}`));
    assert.match(r.out, /\[2\/2\] seed3_world-patterns: done in/);
    assert.match(r.out, /1 of 2 runs finished \(1 now, 0 earlier\), 1 failed/);
    assert.ok(r.out.includes(`    rerun: node bin/promptlab.js repro zeroshot --quick --seeds 3 --datasets world-shapes --out ${path.join(dir, 'runs', 'seed3_world-shapes')}`), r.out);
    assert.match(fs.readFileSync(log, 'utf8'), /promptlab sweep: run seed3_world-shapes exited with code 1/);

    const out = path.join(tmp, 'failing-collected');
    const c = cli(['collect', dir, '--out', out]);
    assert.strictEqual(c.status, 1);
    assert.match(c.out, /promptlab collect: 1 of 2 runs of .* have no valid run record:\n  seed3_world-shapes: failed: exit code 1: .*; log .*log\.txt\n    rerun: node bin\/promptlab\.js repro zeroshot --quick --seeds 3 --datasets world-shapes --out /);
    assert.match(c.out, /nothing was written; --allow-missing collects the 1 finished runs/);
    assert.ok(!fs.existsSync(path.join(out, 'results.json')));
    const partial = cli(['collect', dir, '--out', out, '--allow-missing']);
    assert.strictEqual(partial.status, 0, partial.out);
    assert.deepStrictEqual(readResults(out).config.datasets, ['world-patterns']);
    // the cause removed, the same sweep reruns only the failed run
    fs.rmSync(path.join(dir, 'runs', 'seed3_world-shapes', 'results.json'), { recursive: true });
    // what a run killed while writing leaves in a finished run's folder (its figures, a seed record):
    // removed by the next sweep, unless the process that writes it still runs
    const finished = path.join(dir, 'runs', 'seed3_world-patterns');
    const dead = [path.join('seed3', 'record.json.tmp-999999999'), 'zeroshot-accuracy.svg.tmp-999999998'];
    for (const f of dead) fs.writeFileSync(path.join(finished, f), 'half');
    const live = path.join(finished, `results.json.tmp-${process.pid}`);
    fs.writeFileSync(live, 'mine');
    const fixed = cli(['sweep', 'zeroshot', '--grid', 'seeds=3;datasets=world-shapes,world-patterns', '--quick', '--out', dir]);
    assert.strictEqual(fixed.status, 0, fixed.out);
    assert.match(fixed.out, /sweep: removed 2 temporary files that killed runs left half-written \(seed3_world-patterns\/(seed3\/record\.json\.tmp-999999999, seed3_world-patterns\/zeroshot-accuracy\.svg\.tmp-999999998|zeroshot-accuracy\.svg\.tmp-999999998, seed3_world-patterns\/seed3\/record\.json\.tmp-999999999)\)/);
    for (const f of dead) assert.ok(!fs.existsSync(path.join(finished, f)), f);
    assert.ok(fs.existsSync(live), 'a live process\'s temporary is kept');
    fs.rmSync(live);
    assert.match(fixed.out, /1 of 2 runs finished earlier .*skipped \(seed3_world-patterns\)/);
    assert.match(fixed.out, /\[2\/2\] seed3_world-shapes: done/);
  });

  it('a sweep killed (SIGTERM, then SIGKILL) resumes without redoing finished runs', async () => {
    const dir = path.join(tmp, 'killed');
    const args = ['sweep', 'zeroshot', '--grid', 'seeds=4..6;datasets=world-shapes', '--quick', '--out', dir];
    const done = (id: string) => fs.existsSync(path.join(dir, 'runs', id, 'results.json'));
    const start = () => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out })));
      return { child, exited };
    };
    // 1. SIGTERM once the first run has finished: the sweep stops its running run and says how to resume
    const a = start();
    await until('the first run', () => done('seed4_world-shapes'), 240000);
    const first = mtime(path.join(dir, 'runs', 'seed4_world-shapes', 'results.json'));
    a.child.kill('SIGTERM');
    const ea = await a.exited;
    assert.strictEqual(ea.code, 143, ea.out);
    assert.match(ea.out, /sweep: interrupted: stopping \d running run/);
    assert.match(ea.out, /to run what is left \(finished runs are skipped\): node bin\/promptlab\.js sweep zeroshot --grid 'seeds=4\.\.6;datasets=world-shapes' --quick --workers 1 --out /);
    assert.deepStrictEqual(processesNaming(dir), [], 'no run of the sweep goes on after it');
    // 2. resumed, then killed outright once a second run has finished: its orphaned run ends too
    const b = start();
    await until('a second run', () => done('seed5_world-shapes'), 240000);
    b.child.kill('SIGKILL');
    const eb = await b.exited;
    assert.strictEqual(eb.signal, 'SIGKILL');
    assert.match(eb.out, /1 of 3 runs finished earlier \(valid run records\): skipped \(seed4_world-shapes\)/);
    await until('the orphaned runs to end', () => processesNaming(dir).length === 0, 60000);
    // 3. resumed again: only what was left runs
    const c = cli(args);
    assert.strictEqual(c.status, 0, c.out);
    const earlier = Number(/(\d) of 3 runs finished earlier/.exec(c.out)?.[1]);
    assert.ok(earlier >= 2, c.out);
    assert.match(c.out, /3 of 3 runs finished/);
    assert.strictEqual(mtime(path.join(dir, 'runs', 'seed4_world-shapes', 'results.json')), first, 'the first run was not redone');
    assert.ok(!fs.readdirSync(path.join(dir, 'runs'), { recursive: true }).some((f) => String(f).includes('.tmp-')), 'no temporary file left');
    const collected = path.join(tmp, 'killed-collected');
    const col = cli(['collect', dir, '--out', collected]);
    assert.strictEqual(col.status, 0, col.out);
    assert.deepStrictEqual(readResults(collected).config.seeds, [4, 5, 6]);
  });
});

describe('fewshot: a run of some shot counts measures what a run of all of them measures for those', function () {
  this.timeout(300000);

  it('the 4-shot rows and every training step\'s loss are the same alone and after the 1-shot cell (augmented views)', () => {
    const { model, tokenizer } = loadMiniClip();
    try {
      const run = (shots: number[]) => {
        const steps: string[] = [];
        const onProgress = (p: ProgressInfo) => { if (p.label?.includes('4 shots')) steps.push(`${p.epoch} ${p.step} ${p.loss}`); };
        const rows = runFewshot(model, tokenizer, { quick: true, seeds: [1], datasets: ['world-shapes'], shots, onProgress });
        return { rows: rows.filter((r) => r.metric === 'accuracy@0' || r.metric === 'accuracy@4'), steps };
      };
      const alone = run([4]);
      const after = run([1, 4]);
      assert.ok(alone.steps.length >= 5, `a loss for each step (${alone.steps.length})`);
      assert.deepStrictEqual(alone.steps, after.steps);
      assert.deepStrictEqual(alone.rows, after.rows);
      assert.deepStrictEqual(alone.rows.map((r) => `${r.method} ${r.metric}`), ['zeroshot accuracy@0', 'linear-probe accuracy@4', 'coop accuracy@4']);
    } finally {
      model.dispose();
    }
  });
});
