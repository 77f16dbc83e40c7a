// promptlab collect DIR --out DIR2: a sweep's run records gathered into one results.json in the pinned
// format, through merge-results (the same checks: one experiment and configuration, model files and
// backend; a measurement two runs share, such as few-shot's zero-shot row in runs split by shots, has
// one value), so DIR2 holds what one `promptlab repro` over the whole grid writes.
// Runs without a valid run record are listed with why, their log and the command that reruns each.
import * as path from 'path';
import { mergeResults, partFields } from '../repro/merge';
import { shownPath, writeResults, type Results } from '../repro/record';
import { readManifest, runCommand, runDir, sweepCommand, type Manifest, type RunConfig } from './grid';
import { sweepStates } from './status';

export interface MissingRun {
  run: RunConfig;
  state: string;
  reason: string;
  log: string | null;
  command: string;
}

export interface CollectResult {
  manifest: Manifest;
  /** Null when nothing was written (runs missing, without allowMissing). */
  results: Results | null;
  collected: string[];
  missing: MissingRun[];
}

/** The lines that say which runs are missing, why, and how to rerun each (and all). */
export function missingLines(dir: string, m: Manifest, missing: MissingRun[]): string[] {
  const lines = [`${missing.length} of ${m.runs.length} runs of ${shownPath(path.resolve(dir))} have no valid run record:`];
  for (const x of missing) {
    lines.push(`  ${x.run.id}: ${x.state}: ${x.reason}${x.log ? `; log ${shownPath(x.log)}` : ''}`);
    lines.push(`    rerun: ${x.command}`);
  }
  lines.push(`  or rerun every missing one (finished runs are skipped): ${sweepCommand(dir, m)}`);
  return lines;
}

/**
 * Collects the sweep in `dir` into `out`. With missing runs it writes nothing and throws the list,
 * unless `allowMissing` (then it collects those there are, and returns the list).
 */
export function collectSweep(dir: string, out: string, opts: { allowMissing?: boolean } = {}): CollectResult {
  const m = readManifest(dir);
  const runsRoot = path.join(path.resolve(dir), 'runs');
  const target = path.resolve(out);
  if (target === runsRoot || target.startsWith(runsRoot + path.sep)) throw new Error(`--out ${out} is inside the sweep's runs folder; give a folder outside ${shownPath(runsRoot)}`);
  const states = sweepStates(dir, m);
  const done = states.filter((s) => s.state.state === 'done');
  const missing: MissingRun[] = states
    .filter((s) => s.state.state !== 'done')
    .map(({ run, state }) => ({ run, state: state.state, reason: state.state === 'done' ? '' : state.reason, log: state.state === 'done' ? null : state.log, command: runCommand(dir, run) }));
  const collected = done.map((s) => s.run.id);
  if (missing.length && !opts.allowMissing) {
    throw new Error(`${missingLines(dir, m, missing).join('\n')}\nnothing was written${done.length ? `; --allow-missing collects the ${done.length} finished runs` : ''}`);
  }
  if (done.length === 0) throw new Error(`none of the ${m.runs.length} runs of ${shownPath(path.resolve(dir))} has a valid run record yet; nothing to collect`);
  const dirs = done.map((s) => runDir(dir, s.run));
  let results: Results;
  if (dirs.length === 1) {
    // one run: its results as they are, with the part it came from, as merge-results lists parts
    const r = (done[0].state as { results: Results }).results;
    const config = { ...r.config, parts: [{ dir: path.relative(target, dirs[0]), ...partFields(r), commit: r.env.git.commit, dirty: r.env.git.dirty }] };
    results = writeResults(target, r.experiment, config, r.rows, { data: r.data, model: r.model }, r.env);
  } else {
    try {
      results = mergeResults(dirs, target);
    } catch (e) {
      throw new Error(`the run records of ${shownPath(path.resolve(dir))} do not merge: ${(e as Error).message}`);
    }
  }
  return { manifest: m, results, collected, missing };
}
