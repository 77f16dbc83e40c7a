// promptlab merge-results: an experiment run in parts, put back together without changing a number.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { base2newAverageRows } from '../../src/repro/base2new';
import { writeResultOutputs } from '../../src/repro/figures';
import { mergeResults } from '../../src/repro/merge';
import { environment, readResults, summarise, writeResults, type ResultRow } from '../../src/repro/record';

const ROOT = path.resolve(__dirname, '..', '..');

describe('merge-results', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-merge-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const env = environment();
  const model = { dir: '/m', files: { 'model.safetensors': 'ab' } };
  const config = (datasets: string[], seeds: number[]) => ({ model: '/m', quick: false, seeds, datasets, shots: 16, seconds: 10 });
  const row = (method: string, dataset: string, split: string, seed: number, value: number): ResultRow => ({ method, dataset, split, metric: 'accuracy', seed, value });
  const part = (name: string, experiment: string, datasets: string[], seeds: number[], rows: ResultRow[], cfg: Record<string, unknown> = config(datasets, seeds)) => {
    const dir = path.join(tmp, name);
    writeResults(dir, experiment, cfg, rows, { data: [], model }, env);
    return dir;
  };

  it('base-to-new average H recomputed from the rows equals what the committed run wrote', () => {
    const r = readResults(path.join(ROOT, 'results', 'base2new', 'full-4-datasets'));
    const written = r.rows.filter((x) => x.dataset === 'average');
    assert.strictEqual(written.length, 9);
    const key = (x: ResultRow) => `${x.method} ${x.seed}`;
    const sorted = (rs: ResultRow[]) => [...rs].sort((p, q) => key(p).localeCompare(key(q)));
    assert.deepStrictEqual(sorted(base2newAverageRows(r.rows.filter((x) => x.dataset !== 'average'))), sorted(written));
  });

  it('keeps every row as measured, recomputes the cross-dataset rows, and lists its parts', () => {
    const a = part('a', 'base2new', ['world-shapes', 'world-patterns'], [1, 2], [1, 2].flatMap((s) => ['world-shapes', 'world-patterns'].flatMap((d, i) => [row('coop', d, 'base', s, 50 + i + s), row('coop', d, 'new', s, 60 - i)])));
    const b = part('b', 'base2new', ['world-colors'], [1], [row('coop', 'world-colors', 'base', 1, 70), row('coop', 'world-colors', 'new', 1, 40)]);
    const out = path.join(tmp, 'merged');
    const m = mergeResults([a, b], out);
    assert.deepStrictEqual(m.config.datasets, ['world-shapes', 'world-patterns', 'world-colors']);
    assert.deepStrictEqual(m.config.seeds, [1, 2]);
    assert.strictEqual(m.config.seconds, 20);
    assert.deepStrictEqual((m.config.parts as { dir: string }[]).map((p) => p.dir), ['../a', '../b']);
    const measured = m.rows.filter((x) => x.dataset !== 'average');
    assert.strictEqual(measured.length, 10);
    // seed 1 averages over three datasets: base (51 + 52 + 70) / 3, new (60 + 59 + 40) / 3
    const h1 = m.rows.find((x) => x.dataset === 'average' && x.seed === 1)!;
    const base = (51 + 52 + 70) / 3;
    const novel = (60 + 59 + 40) / 3;
    assert.ok(Math.abs(h1.value - (2 * base * novel) / (base + novel)) < 1e-9);
    assert.deepStrictEqual(m.summary, summarise(m.rows));
    assert.deepStrictEqual(readResults(out).rows, m.rows);
  });

  it('merges the per-dataset maps (augmentation, chance) and the CoOp variants of parts that trained fewer', () => {
    const cfg = (d: string, variants: string[], chance = 10) => ({ ...config([d], [1]), augmentation: { [d]: 'random_flip' }, chance: { [d]: { test: chance } }, variants: Object.fromEntries(variants.map((v) => [v, { csc: v.includes('csc') }])) });
    const a = part('va', 'fewshot', ['world-shapes'], [1], [row('coop', 'world-shapes', 'test', 1, 50), row('coop-end-csc', 'world-shapes', 'test', 1, 52)], cfg('world-shapes', ['coop', 'coop-end-csc']));
    const b = part('vb', 'fewshot', ['world-colors'], [1], [row('coop', 'world-colors', 'test', 1, 30)], cfg('world-colors', ['coop'], 1.25));
    const m = mergeResults([a, b], path.join(tmp, 'vmerged'));
    assert.deepStrictEqual(m.config.augmentation, { 'world-shapes': 'random_flip', 'world-colors': 'random_flip' });
    assert.deepStrictEqual(m.config.chance, { 'world-shapes': { test: 10 }, 'world-colors': { test: 1.25 } });
    assert.deepStrictEqual(Object.keys(m.config.variants as object), ['coop', 'coop-end-csc']);
    assert.deepStrictEqual((m.config.parts as { variants: string[] }[]).map((p) => p.variants), [['coop', 'coop-end-csc'], ['coop']]);
    const clash = part('vc', 'fewshot', ['world-shapes'], [2], [row('coop', 'world-shapes', 'test', 2, 50)], { ...cfg('world-shapes', ['coop'], 20), seeds: [2] });
    assert.throws(() => mergeResults([a, clash], path.join(tmp, 'vx')), /differ in configuration \(chance of world-shapes\)/);
  });

  it('writes the figures and tables of a results folder beside it', async function () {
    this.timeout(60000);
    const dir = part('plot', 'transfer', ['world-shapes', 'world-patterns'], [1], [row('coop', 'world-shapes', 'source', 1, 60), row('coop', 'world-patterns', 'xd', 1, 40)]);
    const files = (await writeResultOutputs(dir)).map((f) => path.basename(f));
    for (const f of ['transfer.html', 'transfer.csv', 'transfer.md']) assert.ok(files.includes(f) && fs.existsSync(path.join(dir, f)), f);
    assert.strictEqual(fs.readFileSync(path.join(dir, 'transfer.csv'), 'utf8'), 'benchmark,role,CoOp\nworld-shapes,source,60.0\nworld-patterns,xd,40.0\naverage,xd,40.0\n');
    // the same results write the same bytes: figures (SVG, HTML) and tables, every time
    const first = new Map(files.filter((f) => !f.endsWith('.png')).map((f) => [f, fs.readFileSync(path.join(dir, f))]));
    await writeResultOutputs(dir);
    for (const [f, bytes] of first) assert.ok(fs.readFileSync(path.join(dir, f)).equals(bytes), `${f} differs between two writes`);
  });

  it('few-shot parts split by shots: a row both measured with one value is kept once; shots and CoOp presets merged', () => {
    const preset = (k: number) => ({ preset: k === 1 ? 'world_ep50' : 'world_ep100', optim: { epochs: k === 1 ? 3 : 5 } });
    const cfg = (shots: number[]) => ({ ...config(['world-shapes'], [1]), shots, coop: Object.fromEntries(shots.map((k) => [`${k}-shot`, preset(k)])) });
    const zs = row('zeroshot', 'world-shapes', 'test', 1, 86.5);
    const at = (r: ResultRow, k: number): ResultRow => ({ ...r, metric: `accuracy@${k}` });
    const shot = (k: number, lp: number, coop: number, zero = zs) => [at(zero, 0), at(row('linear-probe', 'world-shapes', 'test', 1, lp), k), at(row('coop', 'world-shapes', 'test', 1, coop), k)];
    const one = part('s1', 'fewshot', ['world-shapes'], [1], shot(1, 48, 84.5), cfg([1]));
    const four = part('s4', 'fewshot', ['world-shapes'], [1], shot(4, 69.5, 85), cfg([4]));
    // given in either order: the union of shots sorted, CoOp's presets in the order of the shots
    const m = mergeResults([four, one], path.join(tmp, 'smerged'));
    assert.deepStrictEqual(m.rows.map((x) => `${x.method} ${x.metric} ${x.value}`), ['zeroshot accuracy@0 86.5', 'linear-probe accuracy@4 69.5', 'coop accuracy@4 85', 'linear-probe accuracy@1 48', 'coop accuracy@1 84.5']);
    assert.deepStrictEqual(m.config.shots, [1, 4]);
    assert.deepStrictEqual(m.config.coop, { '1-shot': preset(1), '4-shot': preset(4) });
    assert.deepStrictEqual((m.config.parts as { shots: number[] }[]).map((p) => p.shots), [[4], [1]]);
    assert.deepStrictEqual(m.summary, summarise(m.rows));
    // the same row with another value: refused, naming both folders, the row and both values
    const drift = part('s16', 'fewshot', ['world-shapes'], [1], shot(16, 76, 83.5, { ...zs, value: 86 }), cfg([16]));
    assert.throws(() => mergeResults([one, drift], path.join(tmp, 'sx')), (e: Error) => e.message === `merge-results: zeroshot / world-shapes / test / accuracy@0 / seed 1 is in both ${one} (value 86.5) and ${drift} (value 86); a row two parts share must have the same value in both`);
    // parts that say different things of one shot count's preset, a row of a shot count its config does not list, a part given twice
    const otherPreset = part('s1b', 'fewshot', ['world-shapes'], [2], shot(1, 48, 84.5).map((x) => ({ ...x, seed: 2 })), { ...cfg([1]), seeds: [2], coop: { '1-shot': preset(4) } });
    assert.throws(() => mergeResults([one, otherPreset], path.join(tmp, 'sx')), /s1 and .*s1b differ in configuration \(coop of 1-shot: .*world_ep50.* there, .*world_ep100.* here\)/);
    const unlisted = part('s4b', 'fewshot', ['world-shapes'], [1], shot(4, 69.5, 85), cfg([1]));
    assert.throws(() => mergeResults([four, unlisted], path.join(tmp, 'sx')), /s4b: row linear-probe \/ world-shapes \/ test \/ accuracy@4 \/ seed 1: config\.shots \(1\) does not list 4/);
    assert.throws(() => mergeResults([one, four, `${one}/`], path.join(tmp, 'sx')), (e: Error) => e.message === `merge-results: ${one} and ${one}/ are the same folder; name each part once`);
    assert.ok(!fs.existsSync(path.join(tmp, 'sx')), 'nothing written');
  });

  it('refuses parts that differ in experiment, configuration or model, or that repeat a row with another value', () => {
    const a = part('c', 'fewshot', ['world-shapes'], [1], [row('coop', 'world-shapes', 'test', 1, 50)]);
    const dup = part('d', 'fewshot', ['world-shapes'], [1], [row('coop', 'world-shapes', 'test', 1, 51)]);
    assert.throws(() => mergeResults([a, dup], path.join(tmp, 'x')), /coop \/ world-shapes \/ test \/ accuracy \/ seed 1 is in both .*c \(value 50\) and .*d \(value 51\)/);
    // base-to-new's shots (its one shot count) must agree; only few-shot's parts may differ in theirs
    const b1 = part('b1', 'base2new', ['world-shapes'], [1], [row('coop', 'world-shapes', 'base', 1, 50)]);
    const b2 = part('b2', 'base2new', ['world-colors'], [1], [row('coop', 'world-colors', 'base', 1, 50)], { ...config(['world-colors'], [1]), shots: 8 });
    assert.throws(() => mergeResults([b1, b2], path.join(tmp, 'x')), /differ in configuration \(shots: 16 there, 8 here\)/);
    const other = part('e', 'fewshot', ['world-colors'], [1], [row('coop', 'world-colors', 'test', 1, 50)], { ...config(['world-colors'], [1]), quick: true });
    assert.throws(() => mergeResults([a, other], path.join(tmp, 'x')), /differ in configuration \(quick: false there, true here\)/);
    const z = part('f', 'zeroshot', ['world-colors'], [1], [row('zeroshot', 'world-colors', 'test', 1, 50)]);
    assert.throws(() => mergeResults([a, z], path.join(tmp, 'x')), /different experiments \(zeroshot, fewshot\)/);
    // frozen towers on onnxruntime (PROMPTLAB_FROZEN=onnx) give features within 1e-5, not tfjs's bits
    const onnxDir = path.join(tmp, 'g');
    writeResults(onnxDir, 'fewshot', config(['world-colors'], [1]), [row('coop', 'world-colors', 'test', 1, 50)], { data: [], model }, { ...env, frozen: 'onnxruntime-node 1.30.0' });
    assert.throws(() => mergeResults([a, onnxDir], path.join(tmp, 'x')), /ran the frozen towers on different runtimes \(onnxruntime-node 1\.30\.0, tfjs\)/);
    assert.match(readResults(onnxDir).env.frozen ?? '', /onnxruntime-node 1\.30\.0/);
    assert.throws(() => mergeResults([a], path.join(tmp, 'x')), /at least two results folders/);
    assert.throws(() => mergeResults([a, path.join(tmp, 'nothing')], path.join(tmp, 'x')), /nothing holds no readable results\.json/);
    assert.ok(!fs.existsSync(path.join(tmp, 'x')), 'nothing written');
  });
  it('video: refuses parts of different protocols, naming both folders and values; a part that records none followed the default (closed)', () => {
    const video = (name: string, seed: number, protocol?: string) => part(name, 'video', ['world-motion'], [seed], [row('videoprompt', 'world-motion', 'test', seed, 30 + seed)], { ...config(['world-motion'], [seed]), ...(protocol === undefined ? {} : { protocol }) });
    const few = video('p-few', 1, 'fewshot');
    const held = video('p-held', 2, 'zeroshot');
    assert.throws(() => mergeResults([few, held], path.join(tmp, 'px')), (e: Error) => e.message === `merge-results: ${few} and ${held} differ in configuration (protocol: "fewshot" there, "zeroshot" here)`);
    // a part that records no protocol is a closed-set run: not one of fewshot's
    const closed = video('p-closed', 2);
    assert.throws(() => mergeResults([closed, few], path.join(tmp, 'px')), (e: Error) => e.message === `merge-results: ${closed} and ${few} differ in configuration (protocol: missing (the default, "closed") there, "fewshot" here)`);
    assert.ok(!fs.existsSync(path.join(tmp, 'px')), 'nothing written');
    // ... and is the same protocol as a part that records closed
    const named = video('p-named', 1, 'closed');
    const m = mergeResults([closed, named], path.join(tmp, 'pmerged'));
    assert.deepStrictEqual(m.config.seeds, [1, 2]);
    assert.deepStrictEqual(m.rows.map((x) => `${x.seed} ${x.value}`), ['2 32', '1 31']);
    // the same protocol on both sides merges as before
    assert.deepStrictEqual(mergeResults([few, video('p-few2', 2, 'fewshot')], path.join(tmp, 'pfew')).config.protocol, 'fewshot');
  });

  it('refuses a part whose rows name seeds or datasets its config does not list, hold no number, or disagree with its summary', () => {
    const a = part('g', 'fewshot', ['world-shapes'], [1], [row('coop', 'world-shapes', 'test', 1, 50)]);
    const tamper = (name: string, edit: (r: { config: Record<string, unknown>; rows: ResultRow[]; summary: unknown }) => void) => {
      const dir = part(name, 'fewshot', ['world-colors'], [2], [row('coop', 'world-colors', 'test', 2, 60)]);
      const file = path.join(dir, 'results.json');
      const r = JSON.parse(fs.readFileSync(file, 'utf8'));
      edit(r);
      fs.writeFileSync(file, JSON.stringify(r));
      return dir;
    };
    const out = path.join(tmp, 'y');
    assert.throws(() => mergeResults([a, tamper('h1', (r) => { r.rows[0].seed = 7; r.summary = summarise(r.rows); })], out), /h1: row coop \/ world-colors \/ test \/ accuracy has seed 7, which config\.seeds \(2\) does not list/);
    assert.throws(() => mergeResults([a, tamper('h2', (r) => { (r.rows[0] as unknown as { seed: string }).seed = '2/../../../x'; })], out), /h2\/results\.json: rows\[0\]\.seed is "2\/\.\.\/\.\.\/\.\.\/x", not a whole number/);
    assert.throws(() => mergeResults([a, tamper('h3', (r) => { r.rows[0].dataset = 'world-shapes'; r.summary = summarise(r.rows); })], out), /h3: .*config\.datasets \(world-colors\) does not list world-shapes/);
    assert.throws(() => mergeResults([a, tamper('h4', (r) => { delete r.config.datasets; })], out), /h4: config\.datasets lists no datasets/);
    assert.throws(() => mergeResults([a, tamper('h5', (r) => { r.rows[0].value = 99; })], out), /h5: its summary is not the summary of its rows/);
    assert.throws(() => mergeResults([a, tamper('h6', (r) => { (r.rows[0] as unknown as { value: null }).value = null; })], out), /h6\/results\.json: rows\[0\]\.value is null, not a number/);
    assert.ok(!fs.existsSync(out), 'nothing written');
    assert.ok(!fs.existsSync(path.join(tmp, 'x', 'record.json')) && !fs.existsSync(path.resolve(tmp, '..', 'x')), 'nothing written outside');
  });

  it('writeResults refuses a seed that is not a whole number (it names a folder), and leaves no temporary files', () => {
    const dir = path.join(tmp, 'w');
    assert.throws(() => writeResults(dir, 'fewshot', config(['world-shapes'], [1]), [{ ...row('coop', 'world-shapes', 'test', 1, 50), seed: '1/../../x' as unknown as number }], {}, env), /a row's seed is "1\/\.\.\/\.\.\/x"; seeds are whole numbers/);
    assert.ok(!fs.existsSync(dir));
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'results.json.tmp-999999999'), 'half'); // left by a killed process
    writeResults(dir, 'fewshot', config(['world-shapes'], [1]), [row('coop', 'world-shapes', 'test', 1, 50)], {}, env);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['record.json', 'results.json', 'seed1']);
  });
});
