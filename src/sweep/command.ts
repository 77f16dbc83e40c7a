// promptlab sweep <experiment> --grid SPEC [--workers N | --slurm [--wait]] --out DIR
// promptlab collect DIR --out DIR2 [--allow-missing]
import * as fs from 'fs';
import * as path from 'path';
import { parse, positiveInt, requireModel, UsageError } from '../cli/args';
import { checkProtocol, EXPERIMENTS, isExperiment } from '../repro/experiments';
import { shownPath } from '../repro/record';
import { makeManifest, saveManifest } from './grid';
import { reportLines, runLocal, type SweepReport } from './local';
import { submitSlurm, type SlurmOptions } from './slurm';

export const SWEEP_USAGE = 'sweep <experiment> --grid SPEC [--workers N | --slurm [--wait] [--partition P] [--gpus-per-task G] [--time T] [--mem M] [--account A] [--cpus-per-task C] [--no-submit]] --out DIR [--quick] [--model DIR|FILE|NAME] [--cached-features] [--variants a,b] [--protocol P]';
export const COLLECT_USAGE = 'collect DIR --out DIR2 [--allow-missing]';

const SLURM_ONLY: [string, keyof SlurmOptions][] = [['partition', 'partition'], ['gpus-per-task', 'gpusPerTask'], ['time', 'time'], ['mem', 'mem'], ['account', 'account'], ['cpus-per-task', 'cpusPerTask']];

/** SIGINT and SIGTERM abort `signal` while f runs (the second one of them ends the process at once). */
async function withInterrupts<T>(f: (signal: AbortSignal) => Promise<T>): Promise<{ value: T; by: NodeJS.Signals | null }> {
  const ctl = new AbortController();
  let by: NodeJS.Signals | null = null;
  const handler = (sig: NodeJS.Signals) => {
    if (by !== null) process.exit(sig === 'SIGINT' ? 130 : 143);
    by = sig;
    ctl.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    const value = await f(ctl.signal);
    return { value, by };
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  }
}

/**
 * --model: a path (one that exists, or that looks like one: absolute, relative to ./, a .safetensors
 * file, or in a folder that exists) is checked here; anything else is passed on as a released
 * model's name (ViT-B/16, RN50, ...), which each repro resolves.
 */
function modelOption(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const dir = path.dirname(v);
  const pathLike = fs.existsSync(v) || path.isAbsolute(v) || v.startsWith('.') || v.endsWith('.safetensors') || (dir !== '.' && fs.existsSync(dir));
  return pathLike ? requireModel('sweep', '--model', v) : v;
}

function exitCode(r: SweepReport | undefined, by: NodeJS.Signals | null): number {
  if (by !== null) return by === 'SIGINT' ? 130 : 143;
  return r && r.failed.length > 0 ? 1 : 0;
}

export async function sweepCommand(argv: string[], log: (s: string) => void): Promise<number> {
  const { values, positionals } = parse('sweep', argv, {
    grid: { type: 'string' }, out: { type: 'string' }, workers: { type: 'string' }, slurm: { type: 'boolean' }, wait: { type: 'boolean' }, 'no-submit': { type: 'boolean' },
    quick: { type: 'boolean' }, model: { type: 'string' }, 'cached-features': { type: 'boolean' }, variants: { type: 'string' }, protocol: { type: 'string' },
    partition: { type: 'string' }, 'gpus-per-task': { type: 'string' }, time: { type: 'string' }, mem: { type: 'string' }, account: { type: 'string' }, 'cpus-per-task': { type: 'string' },
  });
  const experiment = positionals[0];
  if (!experiment) throw new UsageError(`promptlab sweep: name an experiment (available: ${EXPERIMENTS.join(', ')}): promptlab ${SWEEP_USAGE}`);
  if (!isExperiment(experiment)) throw new UsageError(`promptlab sweep: unknown experiment '${experiment}' (available: ${EXPERIMENTS.join(', ')})`);
  if (positionals.length > 1) throw new UsageError(`promptlab sweep: one experiment at a time; '${positionals.slice(1).join(' ')}' is not an option (options start with --)`);
  if (typeof values.grid !== 'string' || values.grid.trim() === '') throw new UsageError(`promptlab sweep: --grid SPEC is required, e.g. --grid 'seeds=1,2,3;datasets=world-shapes,world-colors'${experiment === 'fewshot' ? " or 'seeds=1,2;shots=1,4,16'" : ''}`);
  if (typeof values.out !== 'string' || values.out === '') throw new UsageError('promptlab sweep: --out DIR is required (the sweep\'s folder: grid.json, runs/<id>/ with each run\'s record and log)');
  const slurm = values.slurm === true;
  if (slurm && values.workers !== undefined) throw new UsageError('promptlab sweep: --workers is for local runs and --slurm for a job array; give one of them');
  if (!slurm) {
    for (const flag of ['wait', 'no-submit', ...SLURM_ONLY.map(([f]) => f)]) if (values[flag] !== undefined) throw new UsageError(`promptlab sweep: --${flag} goes with --slurm`);
  }
  if (values.wait === true && values['no-submit'] === true) throw new UsageError('promptlab sweep: --wait waits for a submitted array; --no-submit submits none');
  const workers = positiveInt('sweep', 'workers', values.workers as string | undefined, 1);
  const protocol = values.protocol as string | undefined;
  if (protocol !== undefined) {
    try {
      checkProtocol(experiment, protocol);
    } catch (e) {
      throw new UsageError(`promptlab sweep: ${(e as Error).message}`);
    }
  }
  let manifest;
  try {
    manifest = makeManifest(experiment, values.grid, {
      quick: values.quick === true,
      model: modelOption(values.model as string | undefined),
      cachedFeatures: values['cached-features'] === true,
      variants: values.variants === undefined ? undefined : (values.variants as string).split(',').map((v) => v.trim()),
      protocol,
    });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`promptlab sweep: --grid '${values.grid}': ${(e as Error).message}`);
  }
  const out = values.out;
  fs.mkdirSync(out, { recursive: true });
  const m = saveManifest(out, manifest);
  if (slurm) {
    const o: SlurmOptions = {};
    for (const [flag, key] of SLURM_ONLY) if (typeof values[flag] === 'string') o[key] = values[flag] as string;
    if (values['no-submit'] === true) {
      const { writeSbatch } = require('./slurm') as typeof import('./slurm');
      const { sweepStates } = require('./status') as typeof import('./status');
      const { arrayRanges } = require('./slurm') as typeof import('./slurm');
      const file = writeSbatch(out, m, o);
      const todo = sweepStates(out, m).filter((s) => s.state.state !== 'done').map((s) => s.run.index);
      const submit = todo.length === 0 ? 'every run is finished' : `submit with: sbatch ${todo.length < m.runs.length ? `--array=${arrayRanges(todo)} ` : ''}${shownPath(file)}`;
      log(`sweep: ${m.runs.length} run${m.runs.length === 1 ? '' : 's'}; wrote ${shownPath(path.resolve(out, 'grid.json'))} and ${shownPath(file)}; ${submit}`);
      return 0;
    }
    const { value, by } = await withInterrupts((signal) => submitSlurm(out, m, { ...o, wait: values.wait === true, log, signal }));
    if (value.report && values.wait === true) for (const line of reportLines(out, m, value.report, '--slurm --wait')) log(line);
    return exitCode(value.report, by);
  }
  const { value, by } = await withInterrupts((signal) => runLocal(out, m, { workers, log, signal }));
  for (const line of reportLines(out, m, value, `--workers ${workers}`)) log(line);
  return exitCode(value, by);
}

export async function collectCommand(argv: string[], log: (s: string) => void): Promise<number> {
  const { values, positionals } = parse('collect', argv, { out: { type: 'string' }, 'allow-missing': { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(`promptlab collect: name one sweep folder (the --out of promptlab sweep, holding grid.json): promptlab ${COLLECT_USAGE}`);
  if (typeof values.out !== 'string' || values.out === '') throw new UsageError('promptlab collect: --out DIR2 is required (where the collected results.json, figures and tables go)');
  const dir = positionals[0];
  if (!fs.existsSync(path.join(dir, 'grid.json'))) throw new UsageError(`promptlab collect: ${dir} holds no grid.json; name the folder a \`promptlab sweep ... --out DIR\` wrote`);
  const { collectSweep, missingLines } = require('./collect') as typeof import('./collect');
  const { writeResultOutputs } = require('../repro/figures') as typeof import('../repro/figures');
  const r = collectSweep(dir, values.out, { allowMissing: values['allow-missing'] === true });
  if (r.missing.length) for (const line of missingLines(dir, r.manifest, r.missing)) log(`collect: ${line}`);
  const res = r.results!;
  const shots = res.experiment === 'fewshot' && Array.isArray(res.config.shots) ? `, shots ${(res.config.shots as number[]).join(',')}` : '';
  log(`collect: ${r.collected.length} of ${r.manifest.runs.length} runs of ${res.experiment}, ${(res.config.datasets as string[]).length} datasets, seeds ${(res.config.seeds as number[]).join(',')}${shots}, ${res.rows.length} rows -> ${shownPath(path.resolve(values.out, 'results.json'))}`);
  await writeResultOutputs(values.out, log);
  (require('../cli/repro') as typeof import('../cli/repro')).logAverages(res, log);
  return 0;
}
