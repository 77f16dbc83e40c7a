// Where each run of a sweep stands, read from its folder DIR/runs/<id>: finished (a valid run record
// of exactly its configuration), failed (its log ends with a non-zero exit), interrupted (a log with
// no exit: killed, or still running), or not run. Local runs, Slurm submissions and collect share it.
import * as fs from 'fs';
import * as path from 'path';
import { MINICLIP_DIR } from '../miniclip';
import { variantMethod, type CoOpVariant } from '../repro/fewshot';
import { recordedProtocol } from '../repro/experiments';
import { readResults, recordedPath, trainedOnCachedFeatures, type Results } from '../repro/record';
import { runDir, sweepProtocol, type Manifest, type RunConfig } from './grid';

export type RunState =
  | { state: 'done'; results: Results }
  | { state: 'failed' | 'interrupted' | 'not run' | 'other results'; reason: string; log: string | null };

export const LOG_FILE = 'log.txt';

/** The line a sweep (local or Slurm task) appends to a run's log when the run's process ends. */
export function exitLine(id: string, code: number | null, detail: string): string {
  return `promptlab sweep: run ${id} ${code === null ? 'stopped' : `exited with code ${code}`}${detail ? ` ${detail}` : ''}`;
}

const EXIT_RE = /^promptlab sweep: run (\S+) (?:.*?)(exited with code (\d+)|stopped)(.*)$/;

/** The last `bytes` of a file as text (logs can be long). */
export function tailText(file: string, bytes = 16384): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const n = Math.min(size, bytes);
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, size - n);
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** The last line of a run's own output that says what went wrong (an error line if there is one). */
export function lastWords(lines: string[]): string {
  const own = lines.filter((l) => l.trim() !== '' && !l.startsWith('promptlab sweep: '));
  const error = [...own].reverse().find((l) => /error|promptlab \w+:|fail|cannot|not /i.test(l));
  return (error ?? own[own.length - 1] ?? '').trim().slice(0, 300);
}

/** Why results in a run's folder are not the run's: the first field that differs, or null when they are. */
function mismatch(m: Manifest, run: RunConfig, r: Results): string | null {
  const c = r.config;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (r.experiment !== m.experiment) return `experiment ${r.experiment}, not ${m.experiment}`;
  if (c.quick !== m.options.quick) return `a ${c.quick ? 'quick' : 'full'} run, not a ${m.options.quick ? 'quick' : 'full'} one`;
  if (!same(c.seeds, run.seeds)) return `seeds ${JSON.stringify(c.seeds)}, not ${JSON.stringify(run.seeds)}`;
  if (!same(c.datasets, run.datasets)) return `datasets ${JSON.stringify(c.datasets)}, not ${JSON.stringify(run.datasets)}`;
  if (run.shots !== undefined && !same(c.shots, run.shots)) return `shots ${JSON.stringify(c.shots)}, not ${JSON.stringify(run.shots)}`;
  // video's protocol: a results.json that records none followed the default (closed), as a sweep given none
  const protocol = recordedProtocol(r.experiment, c);
  if (protocol !== sweepProtocol(m)) return `protocol ${protocol ?? 'none'}, not ${sweepProtocol(m) ?? 'none'}`;
  // a model given by path is recorded by path; one given by name (repro resolves it) is checked by merge-results, which compares the model files
  const model = m.options.model === null ? MINICLIP_DIR : path.isAbsolute(m.options.model) ? m.options.model : null;
  if (model !== null && c.model !== recordedPath(model)) return `model ${String(c.model)}, not ${recordedPath(model)}`;
  if (m.experiment !== 'zeroshot' && trainedOnCachedFeatures(r) !== m.options.cachedFeatures) return `cachedFeatures ${!m.options.cachedFeatures}, not ${m.options.cachedFeatures}`;
  if (m.options.variants !== null) {
    const want = m.options.variants.map((v) => variantMethod(v as CoOpVariant)).sort();
    const got = Object.keys((c.variants as object | undefined) ?? {}).sort();
    if (!same(got, want)) return `variants ${got.join(',')}, not ${want.join(',')}`;
  }
  return null;
}

/** The state of one run of a sweep in `dir`. */
export function runState(dir: string, m: Manifest, run: RunConfig): RunState {
  const folder = runDir(dir, run);
  const logFile = path.join(folder, LOG_FILE);
  const log = fs.existsSync(logFile) ? logFile : null;
  if (fs.existsSync(path.join(folder, 'results.json'))) {
    let r: Results | null = null;
    let unreadable = '';
    try {
      r = readResults(folder);
    } catch (e) {
      unreadable = (e as Error).message;
    }
    if (r) {
      const why = mismatch(m, run, r);
      if (why === null) return { state: 'done', results: r };
      return { state: 'other results', reason: `its results.json is of another configuration (${why})`, log };
    }
    if (!log) return { state: 'failed', reason: `its results.json is unreadable (${unreadable})`, log };
  }
  if (!log) return { state: 'not run', reason: fs.existsSync(folder) ? 'no log and no results.json' : 'never started', log: null };
  const lines = tailText(log).split('\n');
  const exit = [...lines].reverse().map((l) => EXIT_RE.exec(l)).find((x) => x !== null);
  const words = lastWords(lines);
  if (exit && exit[3] !== undefined && exit[3] !== '0') return { state: 'failed', reason: `exit code ${exit[3]}${words ? `: ${words}` : ''}`, log };
  if (exit && exit[3] === '0') return { state: 'failed', reason: `exited with code 0 but left no valid results.json${words ? ` (last line: ${words})` : ''}`, log };
  if (exit) return { state: 'interrupted', reason: `stopped${exit[4] ? exit[4] : ''} before it finished`, log };
  return { state: 'interrupted', reason: 'its log ends without an exit (killed, or still running)', log };
}

/** Every run's state, in grid order. */
export function sweepStates(dir: string, m: Manifest): { run: RunConfig; state: RunState }[] {
  return m.runs.map((run) => ({ run, state: runState(dir, m, run) }));
}
