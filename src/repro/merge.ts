// One experiment run in parts (datasets, seeds or few-shot's shot counts on separate cores or
// machines) put back together: `promptlab merge-results --out DIR PART...`. The parts must be the same
// experiment with the same configuration (apart from datasets, seeds, shots and time; video's
// protocol included, a part that records none following the default, closed), model files and
// backend. A (method, dataset, split, metric, seed) that two parts both measured must have the
// same value in both, and is kept once: few-shot runs split by shots each measure the zero-shot row
// (accuracy@0) of their dataset and seed, by the same computation. Rows are kept as measured; the rows
// an experiment derives across datasets (base-to-new's average H) are recomputed over all of them.
import * as path from 'path';
import { WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { base2newAverageRows } from './base2new';
import { defaultProtocol, recordedProtocol } from './experiments';
import { readResults, summarise, writeResults, type DataRecord, type ResultRow, type Results } from './record';

/**
 * The configuration keys a part may differ in: its datasets and seeds; the maps keyed by dataset
 * (augmentation, chance), merged; and few-shot's CoOp variants (a part may train fewer of them,
 * e.g. the 80-class benchmark only the default one), merged and listed per part.
 */
const PART_KEYS = new Set(['datasets', 'seeds', 'seconds', 'parts', 'augmentation', 'chance', 'variants']);
const PER_DATASET_KEYS = ['augmentation', 'chance'] as const;
/** Few-shot's too: the shot counts a part measured, and CoOp's preset of each ({"16-shot": ...}), merged. */
const FEWSHOT_PART_KEYS = new Set([...PART_KEYS, 'shots', 'coop']);

const partKeys = (experiment: string) => (experiment === 'fewshot' ? FEWSHOT_PART_KEYS : PART_KEYS);

/** Compared on their own, before the rest of the configuration: the protocol, an absent one being the experiment's default. */
const OWN_CHECK_KEYS = new Set(['protocol']);

function sameConfig(experiment: string, a: Record<string, unknown>): string {
  const keys = partKeys(experiment);
  return JSON.stringify(Object.fromEntries(Object.entries(a).filter(([k]) => !keys.has(k) && !OWN_CHECK_KEYS.has(k))));
}

function firstDifference(experiment: string, a: Record<string, unknown>, b: Record<string, unknown>): string {
  const part = partKeys(experiment);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !part.has(k) && !OWN_CHECK_KEYS.has(k));
  const k = keys.find((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]));
  const show = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v));
  return k === undefined ? '' : `${k}: ${show(a[k])} there, ${show(b[k])} here`;
}

/**
 * The protocol a part followed as a mismatch shows it: the recorded value, or for a part that records
 * none 'missing' and the experiment's default it stands for (video's "closed").
 */
function shownProtocol(r: Results): string {
  if (r.config.protocol !== undefined) return JSON.stringify(r.config.protocol);
  const d = defaultProtocol(r.experiment);
  return d === undefined ? 'missing' : `missing (the default, ${JSON.stringify(d)})`;
}

/**
 * A part as its run wrote it (readResults has checked the structure: whole-number seeds, numeric
 * values): rows of seeds its config.seeds lists and of datasets its config.datasets lists, and a
 * summary that is the summary of its rows (a value edited by hand breaks that).
 */
function checkPart(dir: string, r: Results): void {
  const bad = (what: string) => new Error(`merge-results: ${dir}: ${what}`);
  const seeds = r.config.seeds;
  const datasets = r.config.datasets;
  if (!Array.isArray(seeds) || seeds.length === 0) throw bad('config.seeds lists no seeds');
  if (!Array.isArray(datasets) || datasets.length === 0) throw bad('config.datasets lists no datasets');
  for (const row of r.rows) {
    const name = `row ${row.method} / ${row.dataset} / ${row.split} / ${row.metric}`;
    if (!seeds.includes(row.seed)) throw bad(`${name} has seed ${row.seed}, which config.seeds (${seeds.join(', ')}) does not list`);
    if (row.dataset !== 'average' && !datasets.includes(row.dataset)) throw bad(`${name}: config.datasets (${datasets.join(', ')}) does not list ${row.dataset}`);
  }
  const shots = r.config.shots;
  if (r.experiment === 'fewshot' && Array.isArray(shots)) {
    for (const row of r.rows) {
      const k = /^accuracy@(\d+)$/.exec(row.metric);
      if (k && k[1] !== '0' && !shots.includes(Number(k[1]))) throw bad(`row ${row.method} / ${row.dataset} / ${row.split} / ${row.metric} / seed ${row.seed}: config.shots (${shots.join(', ')}) does not list ${k[1]}`);
    }
  }
  if (JSON.stringify(summarise(r.rows)) !== JSON.stringify(r.summary)) throw bad('its summary is not the summary of its rows (edited by hand?); rerun the part');
}

/** What config.parts lists of a part, besides its folder and commit: its datasets, seeds, time, and (few-shot) variants and shots. */
export function partFields(r: Results): Record<string, unknown> {
  return {
    datasets: r.config.datasets,
    seeds: r.config.seeds,
    ...(r.experiment === 'fewshot' && Array.isArray(r.config.shots) ? { shots: r.config.shots } : {}),
    seconds: r.config.seconds,
    ...(r.config.variants ? { variants: Object.keys(r.config.variants as object) } : {}),
  };
}

/**
 * Few-shot parts' shot counts, their sorted union, and CoOp's preset of each shot count: the union
 * of the parts' `coop` maps ({"1-shot": ..., "16-shot": ...}), refused where two parts say different
 * things of one shot count, in the order of the shots.
 */
function mergeShots(parts: { dir: string; results: Results }[]): { shots?: number[]; coop?: Record<string, unknown> } {
  const out: { shots?: number[]; coop?: Record<string, unknown> } = {};
  const lists = parts.map((p) => p.results.config.shots);
  if (lists.every((l) => Array.isArray(l))) out.shots = [...new Set((lists as number[][]).flat())].sort((a, b) => a - b);
  else {
    const show = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v));
    const other = lists.findIndex((l) => show(l) !== show(lists[0]));
    if (other > 0) throw new Error(`merge-results: ${parts[0].dir} and ${parts[other].dir} differ in configuration (shots: ${show(lists[0])} there, ${show(lists[other])} here)`);
  }
  const maps = parts.map((p) => ({ dir: p.dir, coop: p.results.config.coop }));
  if (maps.every((m) => typeof m.coop === 'object' && m.coop !== null)) {
    const coop = new Map<string, { dir: string; value: unknown }>();
    for (const m of maps) {
      for (const [k, v] of Object.entries(m.coop as Record<string, unknown>)) {
        const prior = coop.get(k);
        if (prior && JSON.stringify(prior.value) !== JSON.stringify(v)) throw new Error(`merge-results: ${prior.dir} and ${m.dir} differ in configuration (coop of ${k}: ${JSON.stringify(prior.value)} there, ${JSON.stringify(v)} here)`);
        coop.set(k, { dir: m.dir, value: v });
      }
    }
    out.coop = Object.fromEntries([...coop.entries()].sort(([a], [b]) => parseInt(a, 10) - parseInt(b, 10)).map(([k, v]) => [k, v.value]));
  } else {
    const show = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v));
    const other = maps.findIndex((m) => show(m.coop) !== show(maps[0].coop));
    if (other > 0) throw new Error(`merge-results: ${maps[0].dir} and ${maps[other].dir} differ in configuration (coop: ${show(maps[0].coop)} there, ${show(maps[other].coop)} here)`);
  }
  return out;
}

/** Merges the results in `dirs` and writes them to `out` (results.json and run records); returns them. */
export function mergeResults(dirs: readonly string[], out: string): Results {
  if (dirs.length < 2) throw new Error(`merge-results: give at least two results folders (got ${dirs.length})`);
  const parts = dirs.map((dir) => {
    try {
      return { dir, results: readResults(dir) };
    } catch (e) {
      throw new Error(`merge-results: ${dir} holds no readable results.json (${(e as Error).message})`);
    }
  });
  for (const { dir, results } of parts) checkPart(dir, results);
  const resolved = parts.map((p) => path.resolve(p.dir));
  const again = resolved.findIndex((d, i) => resolved.indexOf(d) !== i);
  if (again >= 0) throw new Error(`merge-results: ${dirs[resolved.indexOf(resolved[again])]} and ${dirs[again]} are the same folder; name each part once`);
  const [first] = parts;
  const f = first.results;
  for (const { dir, results: r } of parts.slice(1)) {
    const where = `${dir} and ${first.dir}`;
    if (r.experiment !== f.experiment) throw new Error(`merge-results: ${where} are different experiments (${r.experiment}, ${f.experiment})`);
    // video's protocols (closed, fewshot, zeroshot) measure different things; a part that records none followed the default
    if (recordedProtocol(r.experiment, r.config) !== recordedProtocol(f.experiment, f.config)) throw new Error(`merge-results: ${first.dir} and ${dir} differ in configuration (protocol: ${shownProtocol(f)} there, ${shownProtocol(r)} here)`);
    if (sameConfig(f.experiment, r.config) !== sameConfig(f.experiment, f.config)) throw new Error(`merge-results: ${where} differ in configuration (${firstDifference(f.experiment, f.config, r.config)})`);
    if (JSON.stringify(r.model?.files ?? null) !== JSON.stringify(f.model?.files ?? null)) throw new Error(`merge-results: ${where} used different model files (see their record.json)`);
    if (r.env.backend !== f.env.backend) throw new Error(`merge-results: ${where} ran on different backends (${r.env.backend}, ${f.env.backend})`);
    if ((r.env.frozen ?? 'tfjs') !== (f.env.frozen ?? 'tfjs')) throw new Error(`merge-results: ${where} ran the frozen towers on different runtimes (${r.env.frozen ?? 'tfjs'}, ${f.env.frozen ?? 'tfjs'})`);
  }
  const rows: ResultRow[] = [];
  const seen = new Map<string, { dir: string; value: number }>();
  for (const { dir, results: r } of parts) {
    for (const row of r.rows) {
      if (row.dataset === 'average') continue; // derived: recomputed below
      const key = JSON.stringify([row.method, row.dataset, row.split, row.metric, row.seed]);
      const prior = seen.get(key);
      if (prior) {
        // the same measurement in two parts (few-shot's zero-shot row in runs split by shots): one number, kept once
        if (prior.value === row.value) continue;
        throw new Error(`merge-results: ${row.method} / ${row.dataset} / ${row.split} / ${row.metric} / seed ${row.seed} is in both ${prior.dir} (value ${prior.value}) and ${dir} (value ${row.value}); a row two parts share must have the same value in both`);
      }
      seen.set(key, { dir, value: row.value });
      rows.push(row);
    }
  }
  if (f.experiment === 'base2new') rows.push(...base2newAverageRows(rows));
  const data = new Map<string, DataRecord>();
  for (const { dir, results: r } of parts) {
    for (const d of r.data ?? []) {
      const prior = data.get(d.id);
      if (prior && prior.contentSha256 !== d.contentSha256) throw new Error(`merge-results: ${d.id} has different content in ${dir}`);
      data.set(d.id, d);
    }
  }
  const order = (d: string) => (WORLD_CLASSIFICATION as readonly string[]).indexOf(d);
  const union = <T>(pick: (r: Results) => T[] | undefined) => [...new Set(parts.flatMap((p) => pick(p.results) ?? []))];
  // maps keyed by dataset: the union, refused where two parts say different things of one dataset
  const merged: Record<string, unknown> = {};
  for (const key of PER_DATASET_KEYS) {
    const maps = parts.map((p) => p.results.config[key]).filter((m) => m !== undefined);
    if (!maps.length) continue;
    if (maps.some((m) => typeof m !== 'object' || m === null)) {
      if (new Set(maps.map((m) => JSON.stringify(m))).size > 1) throw new Error(`merge-results: the parts differ in configuration (${key}: ${maps.map((m) => JSON.stringify(m)).join(' vs ')})`);
      merged[key] = maps[0];
      continue;
    }
    const out: Record<string, unknown> = {};
    for (const m of maps as Record<string, unknown>[]) {
      for (const [d, v] of Object.entries(m)) {
        if (d in out && JSON.stringify(out[d]) !== JSON.stringify(v)) throw new Error(`merge-results: the parts differ in configuration (${key} of ${d})`);
        out[d] = v;
      }
    }
    merged[key] = out;
  }
  const variants = parts.map((p) => p.results.config.variants as Record<string, unknown> | undefined);
  if (variants.some((v) => v !== undefined)) merged.variants = Object.assign({}, ...variants.filter((v) => v !== undefined));
  if (f.experiment === 'fewshot') Object.assign(merged, mergeShots(parts));
  const config = {
    ...f.config,
    ...merged,
    datasets: union((r) => r.config.datasets as string[]).sort((a, b) => order(a) - order(b)),
    seeds: union((r) => r.config.seeds as number[]).sort((a, b) => a - b),
    seconds: parts.reduce((s, p) => s + Number(p.results.config.seconds ?? 0), 0),
    parts: parts.map(({ dir, results: r }) => ({ dir: path.relative(path.resolve(out), path.resolve(dir)), ...partFields(r), commit: r.env.git.commit, dirty: r.env.git.dirty })),
  };
  // env: the first part's (where the runs computed); every part's commit is in config.parts
  return writeResults(out, f.experiment, config, rows, { data: [...data.values()], model: f.model }, f.env);
}
