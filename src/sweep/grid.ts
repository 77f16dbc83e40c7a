// A sweep's grid: SPEC (`seeds=1,2,3;datasets=world-shapes,world-colors`, and for fewshot `shots=1,16`)
// expanded into run configs, one `promptlab repro` each (with the options every run shares: --quick,
// --model, --cached-features, --variants, and video's --protocol), with a stable id made of its parameters
// (`seed1_world-shapes`, `seed1_world-shapes_shot16`), and the manifest DIR/grid.json that local runs,
// Slurm array tasks and `promptlab collect` share.
import * as fs from 'fs';
import * as path from 'path';
import { readJsonFile, writeFileAtomic } from '../io/files';
import { checkProtocol, defaultDatasets, defaultProtocol, defaultSeeds, EXPERIMENTS, isExperiment, type ExperimentName } from '../repro/experiments';
import { checkShots, checkVariants, protocolShots } from '../repro/fewshot';
import { REPO_ROOT, shownPath } from '../repro/record';

/** The keys a grid may vary, in the order a run's id names them (shots: fewshot only). */
export const GRID_KEYS = ['seeds', 'datasets', 'shots'] as const;
export type GridKey = (typeof GRID_KEYS)[number];

/** The values of each key, as SPEC listed them (shots: in the protocol's order). */
export type Grid = Partial<{ seeds: number[]; datasets: string[]; shots: number[] }>;

/** What every run of a sweep shares: passed through to each `promptlab repro`. */
export interface SweepOptions {
  quick: boolean;
  /** A model folder or file (absolute), a released model's name as given (repro resolves it), or null for the shipped MiniCLIP. */
  model: string | null;
  cachedFeatures: boolean;
  /** fewshot: CoOp's variants every run trains (null: the experiment's default). */
  variants: string[] | null;
  /**
   * video: the protocol every run follows (--protocol: closed, fewshot, zeroshot), as given; null or
   * absent (manifests written before sweeps took it): none given, the experiment's default.
   */
  protocol?: string | null;
}

export interface RunConfig {
  /** Its place in the grid (the Slurm array index). */
  index: number;
  /** Stable: made of its parameters only (`seed3_world-colors`), the name of its folder DIR/runs/<id>. */
  id: string;
  /** The seeds and datasets this run is given (its one grid value, or the experiment's default for a key the grid leaves out). */
  seeds: number[];
  datasets: string[];
  /** fewshot: the shot counts this run measures (its one grid value, or all of the protocol's); absent for the other experiments. */
  shots?: number[];
  /** The arguments after `promptlab`, without --out. */
  args: string[];
}

export interface Manifest {
  promptlab: 'sweep';
  version: 1;
  experiment: ExperimentName;
  spec: string;
  grid: Grid;
  options: SweepOptions;
  runs: RunConfig[];
}

export const MANIFEST_FILE = 'grid.json';

/** The datasets a run of the experiment may be given: those of its full protocol. */
function datasetsFor(experiment: ExperimentName): readonly string[] {
  return defaultDatasets(experiment, false);
}

/** Keys that are not grid keys, with why. */
function notAKey(experiment: ExperimentName, key: string): string | null {
  switch (key) {
    case 'shots': {
      const only = "only fewshot's runs take --shots, one point each of its accuracy-against-shots curve";
      if (experiment === 'fewshot') return null;
      if (experiment === 'zeroshot') return `zeroshot trains nothing, so it has no shot counts (${only})`;
      if (experiment === 'base2new') return `base-to-new always trains on CoCoOp's 16 shots per class (${only})`;
      return `${experiment}'s runs have no --shots option (${only})`;
    }
    case 'shot':
      return 'the key is shots';
    case 'variants':
    case 'methods':
      return experiment === 'fewshot'
        ? "each fewshot run trains its CoOp variants together, beside the zero-shot and linear-probe baselines they share; give them to every run with --variants a,b"
        : `${experiment} runs all its methods in each run`;
    case 'seed':
    case 'dataset':
      return `the key is ${key}s`;
    default:
      return null;
  }
}

/** The grid keys of an experiment: seeds everywhere, datasets except for transfer, shots for fewshot. */
export function gridKeys(experiment: ExperimentName): GridKey[] {
  if (experiment === 'transfer') return ['seeds'];
  return experiment === 'fewshot' ? [...GRID_KEYS] : ['seeds', 'datasets'];
}

function validKeys(experiment: ExperimentName): string {
  return gridKeys(experiment).join(', ');
}

function parseSeeds(raw: string): number[] {
  const out: number[] = [];
  for (const part of raw.split(',').map((s) => s.trim())) {
    const range = /^(\d+)\s*\.\.\s*(\d+)$/.exec(part);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (b < a) throw new Error(`seeds: the range ${part} runs backwards (write ${b}..${a})`);
      if (b - a >= 10000) throw new Error(`seeds: the range ${part} is longer than 10000 seeds`);
      for (let s = a; s <= b; s++) out.push(s);
    } else if (/^\d+$/.test(part) && Number.isSafeInteger(Number(part))) {
      out.push(Number(part));
    } else {
      throw new Error(`seeds: '${part}' is not a seed (valid: whole numbers >= 0, comma-separated, or a range like 1..6)`);
    }
  }
  return out;
}

/** fewshot's shots: whole numbers, each a shot count of the protocol the sweep runs. */
function parseShots(raw: string, quick: boolean): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  const valid = protocolShots(quick);
  const bad = parts.find((p) => !/^\d+$/.test(p));
  if (bad !== undefined) throw new Error(`shots: '${bad}' is not a shot count (valid for fewshot's ${quick ? 'quick' : 'full'} protocol: ${valid.join(', ')})`);
  const shots = parts.map(Number);
  try {
    checkShots(shots, quick);
  } catch (e) {
    throw new Error(`shots: ${(e as Error).message.replace(/^fewshot: /, '')}`);
  }
  return shots;
}

/**
 * SPEC parsed and checked against the experiment: which values each key takes. Throws naming the key
 * and what is valid. `quick`: the protocol the runs follow (fewshot's shot counts depend on it).
 */
export function parseGridSpec(experiment: ExperimentName, spec: string, quick = false): Grid {
  const grid: Grid = {};
  const parts = spec.split(';').map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) throw new Error(`the grid is empty: give KEY=V1,V2 pairs separated by ';', e.g. 'seeds=1,2,3;datasets=world-shapes,world-colors' (keys for ${experiment}: ${validKeys(experiment)})`);
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new Error(`'${part}' is not KEY=V1,V2 (keys for ${experiment}: ${validKeys(experiment)})`);
    const key = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim();
    const why = notAKey(experiment, key);
    if (why !== null) throw new Error(`${key} is not a grid key for ${experiment}: ${why} (keys: ${validKeys(experiment)})`);
    if (!(GRID_KEYS as readonly string[]).includes(key)) throw new Error(`unknown grid key '${key}' (keys for ${experiment}: ${validKeys(experiment)})`);
    if (key in grid) throw new Error(`${key} is given twice; list all its values once: ${key}=V1,V2`);
    if (raw === '' || raw.split(',').some((v) => v.trim() === '')) throw new Error(`${key}: an empty value in '${raw}' (give ${key}=V1,V2 with no empty entries)`);
    if (key === 'seeds') {
      grid.seeds = parseSeeds(raw);
    } else if (key === 'shots') {
      grid.shots = parseShots(raw, quick);
    } else {
      if (experiment === 'transfer') throw new Error(`datasets is not a grid key for transfer: a transfer run takes its source and its targets together (keys: ${validKeys(experiment)})`);
      const valid = datasetsFor(experiment);
      grid.datasets = raw.split(',').map((v) => v.trim());
      for (const d of grid.datasets) if (!valid.includes(d)) throw new Error(`datasets: unknown dataset '${d}' for ${experiment} (valid: ${valid.join(', ')})`);
    }
    const values = (grid[key as GridKey] ?? []) as (string | number)[];
    const twice = values.find((v, i) => values.indexOf(v) !== i);
    if (twice !== undefined) throw new Error(`${key} lists ${twice} twice`);
  }
  // runs in the order one repro measures them: a run of all these shots goes 1, 4, 16
  if (grid.shots) grid.shots = checkShots(grid.shots, quick);
  return grid;
}

/** A run's id: its parameters in GRID_KEYS order (`seed2_world-shapes`, `seed2_world-shapes_shot16`); `all` when the grid varies nothing. */
export function runId(grid: Grid, seed: number | undefined, dataset: string | undefined, shots?: number): string {
  const parts: string[] = [];
  if (grid.seeds && seed !== undefined) parts.push(`seed${seed}`);
  if (grid.datasets && dataset !== undefined) parts.push(dataset);
  if (grid.shots && shots !== undefined) parts.push(`shot${shots}`);
  return parts.join('_') || 'all';
}

/** The `promptlab repro` arguments every run shares (after its experiment). */
export function sharedArgs(o: SweepOptions): string[] {
  return [
    ...(o.quick ? ['--quick'] : []),
    ...(o.model !== null ? ['--model', o.model] : []),
    ...(o.cachedFeatures ? ['--cached-features'] : []),
    ...(o.variants !== null ? ['--variants', o.variants.join(',')] : []),
    ...(o.protocol ? ['--protocol', o.protocol] : []),
  ];
}

/** The protocol a sweep's runs follow: the one it was given, else the experiment's default (undefined for the experiments with one). */
export function sweepProtocol(m: Pick<Manifest, 'experiment' | 'options'>): string | undefined {
  return m.options.protocol ?? defaultProtocol(m.experiment);
}

/** How log lines name a sweep: its experiment, and --quick and --protocol where given. */
export function sweepLabel(m: Manifest): string {
  return `${m.experiment}${m.options.quick ? ' --quick' : ''}${m.options.protocol ? ` --protocol ${m.options.protocol}` : ''}`;
}

/**
 * The run configs of a grid, in the order one `promptlab repro` over the whole grid measures them
 * (zeroshot: seed by seed, each over the datasets; the training experiments: dataset by dataset,
 * each over the seeds; fewshot then each over the shots), so that collected rows come in a single
 * run's order.
 */
export function expandGrid(experiment: ExperimentName, grid: Grid, options: SweepOptions): RunConfig[] {
  if (grid.shots && experiment !== 'fewshot') throw new Error(`shots is not a grid key for ${experiment} (keys: ${validKeys(experiment)})`);
  type Cell = [number | undefined, string | undefined, number | undefined];
  const seeds: (number | undefined)[] = grid.seeds ?? [undefined];
  const datasets: (string | undefined)[] = grid.datasets ?? [undefined];
  const shots: (number | undefined)[] = grid.shots ?? [undefined];
  const cells: Cell[] = experiment === 'zeroshot'
    ? seeds.flatMap((s) => datasets.map((d): Cell => [s, d, undefined]))
    : datasets.flatMap((d) => seeds.flatMap((s) => shots.map((k): Cell => [s, d, k])));
  return cells.map(([seed, dataset, k], index) => {
    const runSeeds = seed === undefined ? defaultSeeds(experiment, options.quick) : [seed];
    const runDatasets = dataset === undefined ? [...defaultDatasets(experiment, options.quick)] : [dataset];
    const args = [
      'repro', experiment, ...sharedArgs(options),
      ...(seed === undefined ? [] : ['--seeds', String(seed)]),
      ...(dataset === undefined ? [] : ['--datasets', dataset]),
      ...(k === undefined ? [] : ['--shots', String(k)]),
    ];
    const runShots = experiment === 'fewshot' ? { shots: k === undefined ? protocolShots(options.quick) : [k] } : {};
    return { index, id: runId(grid, seed, dataset, k), seeds: runSeeds, datasets: runDatasets, ...runShots, args };
  });
}

/** The manifest of a sweep: the experiment, its SPEC and options, and every run. */
export function makeManifest(experiment: string, spec: string, options: Partial<SweepOptions> = {}): Manifest {
  if (!isExperiment(experiment)) throw new Error(`unknown experiment '${experiment}' (available: ${EXPERIMENTS.join(', ')})`);
  const opts: SweepOptions = {
    quick: options.quick === true,
    model: options.model ? (fs.existsSync(options.model) ? path.resolve(options.model) : options.model) : null,
    cachedFeatures: options.cachedFeatures === true && experiment !== 'zeroshot',
    variants: options.variants ?? null,
    protocol: options.protocol ?? null,
  };
  if (opts.variants !== null) {
    if (experiment !== 'fewshot') throw new Error(`--variants is a fewshot option (CoOp's variants in its Figure 3), not one of ${experiment}`);
    checkVariants(opts.variants);
  }
  if (opts.protocol !== null && opts.protocol !== undefined) checkProtocol(experiment, opts.protocol);
  const grid = parseGridSpec(experiment, spec, opts.quick);
  return { promptlab: 'sweep', version: 1, experiment, spec, grid, options: opts, runs: expandGrid(experiment, grid, opts) };
}

/** A run's folder: DIR/runs/<id>. */
export function runDir(dir: string, run: Pick<RunConfig, 'id'>): string {
  return path.join(path.resolve(dir), 'runs', run.id);
}

/** The node binary and promptlab entry point, as a person types them here. */
export function promptlabCommand(): string {
  return `node ${shownPath(path.join(REPO_ROOT, 'bin', 'promptlab.js'))}`;
}

/** A word safe in a shell as it is, else single-quoted. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The exact command that (re)runs one run by hand. */
export function runCommand(dir: string, run: RunConfig): string {
  return [promptlabCommand(), ...run.args.map(shellWord), '--out', shellWord(shownPath(runDir(dir, run)))].join(' ');
}

/** The sweep command that runs what is missing of a grid (finished runs are skipped). */
export function sweepCommand(dir: string, m: Manifest, how = '--workers 2'): string {
  return [promptlabCommand(), 'sweep', m.experiment, '--grid', shellWord(m.spec), ...sharedArgs(m.options).map(shellWord), how, '--out', shellWord(shownPath(path.resolve(dir)))].join(' ');
}

function checkManifest(m: unknown, file: string): asserts m is Manifest {
  const bad = (what: string) => new Error(`sweep manifest ${file}: ${what}; not a grid.json written by promptlab sweep`);
  const o = m as Partial<Manifest> | null;
  if (typeof o !== 'object' || o === null || o.promptlab !== 'sweep') throw bad('"promptlab" is not "sweep"');
  if (o.version !== 1) throw bad(`version ${JSON.stringify(o.version)} (this promptlab reads version 1)`);
  if (typeof o.experiment !== 'string' || !isExperiment(o.experiment)) throw bad(`unknown experiment ${JSON.stringify(o.experiment)}`);
  if (typeof o.spec !== 'string') throw bad('"spec" is not a string');
  if (typeof o.options !== 'object' || o.options === null) throw bad('"options" is not an object');
  if (o.options.protocol !== undefined && o.options.protocol !== null && typeof o.options.protocol !== 'string') throw bad('"options.protocol" is not a string');
  if (!Array.isArray(o.runs) || o.runs.length === 0) throw bad('"runs" lists no run');
  o.runs.forEach((r, i) => {
    if (typeof r !== 'object' || r === null) throw bad(`runs[${i}] is not an object`);
    if (r.index !== i) throw bad(`runs[${i}].index is ${JSON.stringify(r.index)}`);
    if (typeof r.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(r.id)) throw bad(`runs[${i}].id ${JSON.stringify(r.id)} is not a folder name`);
    if (!Array.isArray(r.args) || r.args.some((a) => typeof a !== 'string') || r.args[0] !== 'repro' || r.args[1] !== o.experiment) throw bad(`runs[${i}].args is not a \`repro ${o.experiment}\` command`);
    if (!Array.isArray(r.seeds) || !Array.isArray(r.datasets)) throw bad(`runs[${i}] lists no seeds or datasets`);
    if (r.shots !== undefined && (!Array.isArray(r.shots) || r.shots.some((k) => !Number.isSafeInteger(k) || k < 1))) throw bad(`runs[${i}].shots ${JSON.stringify(r.shots)} is not a list of shot counts`);
  });
  const ids = o.runs.map((r) => r.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined) throw bad(`run id ${twice} is listed twice`);
}

export function readManifest(dir: string): Manifest {
  const file = path.join(path.resolve(dir), MANIFEST_FILE);
  const m = readJsonFile<unknown>(file, 'sweep manifest');
  checkManifest(m, file);
  return m;
}

/** What sets two sweeps apart (experiment, options, runs), or null when they are the same grid. */
function difference(a: Manifest, b: Manifest): string | null {
  if (a.experiment !== b.experiment) return `experiment ${a.experiment}, not ${b.experiment}`;
  for (const k of ['quick', 'model', 'cachedFeatures', 'variants'] as const) {
    if (JSON.stringify(a.options[k] ?? null) !== JSON.stringify(b.options[k] ?? null)) return `${k} ${JSON.stringify(a.options[k])}, not ${JSON.stringify(b.options[k])}`;
  }
  // the protocol as the runs follow it: none given is the default (video's closed)
  if (sweepProtocol(a) !== sweepProtocol(b)) return `protocol ${JSON.stringify(sweepProtocol(a) ?? null)}, not ${JSON.stringify(sweepProtocol(b) ?? null)}`;
  // each run's own arguments (the shared ones are the options, compared above)
  const runs = (m: Manifest) => JSON.stringify(m.runs.map((r) => [r.id, r.args.slice(2 + sharedArgs(m.options).length)]).sort());
  if (runs(a) !== runs(b)) return `the grid '${a.spec}' (${a.runs.length} runs), not '${b.spec}' (${b.runs.length} runs)`;
  return null;
}

/**
 * Writes DIR/grid.json, or keeps the one there when it describes the same sweep (the same runs, in
 * its order: Slurm array indices stay valid); refuses a folder holding another sweep. Returns the
 * manifest in force.
 */
export function saveManifest(dir: string, m: Manifest): Manifest {
  const file = path.join(path.resolve(dir), MANIFEST_FILE);
  let prior: Manifest | null = null;
  try {
    prior = readManifest(dir);
  } catch (e) {
    if (fs.existsSync(file)) throw new Error(`${shownPath(file)} is there but unreadable (${(e as Error).message}); remove it or give another --out`);
  }
  if (prior) {
    const diff = difference(prior, m);
    if (diff !== null) throw new Error(`${shownPath(path.resolve(dir))} holds another sweep (its grid.json: ${diff}); give another --out, or remove ${shownPath(file)} to start this one there`);
    return prior;
  }
  writeFileAtomic(file, JSON.stringify(m, null, 2) + '\n');
  return m;
}
