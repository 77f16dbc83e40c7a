// A sweep on this machine: each unfinished run of the grid as its own process,
// `node bin/promptlab.js repro <experiment> ... --out DIR/runs/<id>`, N at a time, its output in
// DIR/runs/<id>/log.txt. Finished runs (a valid run record of the run's configuration) are skipped,
// a failed run is reported with its log and the others go on; an abort (the CLI wires SIGINT and
// SIGTERM to it) stops the running ones, and the same command resumes.
//
// The children write through pipes to this process, which copies to their logs: if this process is
// killed outright (SIGKILL), a child's next line of output fails (EPIPE) and it ends too, so a
// resumed sweep never races an orphan of the killed one for long.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { removeStaleTemporaries } from '../io/files';
import { REPO_ROOT, shownPath } from '../repro/record';
import { runCommand, runDir, sweepCommand, sweepLabel, type Manifest, type RunConfig } from './grid';
import { exitLine, LOG_FILE, runState, sweepStates } from './status';

export const PROMPTLAB_BIN = path.join(REPO_ROOT, 'bin', 'promptlab.js');

export interface LocalOptions {
  workers: number;
  log: (line: string) => void;
  /** Stops the sweep: running runs are killed (their process groups), none is started. */
  signal?: AbortSignal;
  /** The children's environment (default this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface FailedRun {
  id: string;
  reason: string;
  log: string;
  command: string;
}

export interface SweepReport {
  total: number;
  /** Finished before this sweep started. */
  skipped: string[];
  /** Finished by this sweep. */
  done: string[];
  failed: FailedRun[];
  /** Stopped by an abort. */
  stopped: string[];
  /** Never started (after an abort). */
  notRun: string[];
  interrupted: boolean;
  seconds: number;
}

const secs = (ms: number) => (ms / 1000).toFixed(1);

/** Runs the grid's unfinished runs, `workers` at a time; resolves when all ended (or the abort has stopped them). */
export async function runLocal(dir: string, m: Manifest, opts: LocalOptions): Promise<SweepReport> {
  const started = Date.now();
  const log = opts.log;
  const total = m.runs.length;
  // what runs killed with an earlier sweep left half-written (a run is killed between its results.json
  // and its figures, say): the temporaries of processes that are gone, in every run's folder
  const stale = m.runs.flatMap((run) => removeStaleTemporaries(runDir(dir, run), { recursive: true }).map((f) => path.join(run.id, f)));
  const states = sweepStates(dir, m);
  const skipped = states.filter((s) => s.state.state === 'done').map((s) => s.run.id);
  const todo = states.filter((s) => s.state.state !== 'done').map((s) => s.run);
  const report: SweepReport = { total, skipped, done: [], failed: [], stopped: [], notRun: [], interrupted: false, seconds: 0 };
  log(`sweep: ${sweepLabel(m)}, grid '${m.spec}': ${total} runs into ${shownPath(path.resolve(dir))}, ${opts.workers} worker${opts.workers === 1 ? '' : 's'}`);
  if (stale.length) log(`sweep: removed ${stale.length} temporary file${stale.length === 1 ? '' : 's'} that killed runs left half-written (${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', ...' : ''})`);
  if (skipped.length) log(`sweep: ${skipped.length} of ${total} runs finished earlier (valid run records): skipped${skipped.length <= 6 ? ` (${skipped.join(', ')})` : ''}`);
  if (todo.length === 0) {
    log('sweep: nothing left to run');
    report.seconds = (Date.now() - started) / 1000;
    return report;
  }
  log(`sweep: ${todo.length} to run`);
  let next = 0;
  let ended = skipped.length;
  const running = new Map<string, { pid: number | undefined; kill: () => void }>();

  return new Promise<SweepReport>((resolve) => {
    const finish = () => {
      report.notRun = todo.slice(next).map((r) => r.id);
      report.seconds = (Date.now() - started) / 1000;
      resolve(report);
    };
    const onAbort = () => {
      if (report.interrupted) return;
      report.interrupted = true;
      log(`sweep: interrupted: stopping ${running.size} running run${running.size === 1 ? '' : 's'}${running.size ? ` (${[...running.keys()].join(', ')})` : ''}; the same command resumes`);
      for (const r of running.values()) r.kill();
      if (running.size === 0) finish();
    };
    const launch = () => {
      while (!report.interrupted && running.size < opts.workers && next < todo.length) start(todo[next++]);
      if (running.size === 0) finish();
    };
    const start = (run: RunConfig) => {
      const folder = runDir(dir, run);
      fs.mkdirSync(folder, { recursive: true });
      const logFile = path.join(folder, LOG_FILE);
      const out = fs.createWriteStream(logFile, { flags: 'w' });
      out.write(`promptlab sweep: run ${run.id} (${run.index + 1} of ${total}): ${runCommand(dir, run)}\n`);
      const t0 = Date.now();
      const child = spawn(process.execPath, [PROMPTLAB_BIN, ...run.args, '--out', folder], {
        cwd: REPO_ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
      });
      let killed = false;
      const kill = () => {
        killed = true;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM'); // its process group: the run and what it started (Chromium)
        } catch {
          child.kill('SIGTERM');
        }
      };
      running.set(run.id, { pid: child.pid, kill });
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
      let spawnError: Error | null = null;
      child.on('error', (e) => { spawnError = e; });
      child.on('close', (code, sig) => {
        const took = secs(Date.now() - t0);
        const detail = spawnError ? `(${spawnError.message})` : sig ? `by ${sig} after ${took} s${killed ? ' (the sweep was interrupted)' : ''}` : `after ${took} s`;
        out.end(exitLine(run.id, sig || spawnError ? null : code, detail) + '\n', () => {
          running.delete(run.id);
          ended++;
          const at = `[${String(ended).padStart(String(total).length)}/${total}]`;
          const state = runState(dir, m, run);
          if (state.state === 'done') {
            report.done.push(run.id);
            log(`${at} ${run.id}: done in ${took} s`);
          } else if (killed) {
            ended--;
            report.stopped.push(run.id);
            log(`sweep: ${run.id}: stopped after ${took} s`);
          } else {
            report.failed.push({ id: run.id, reason: state.reason, log: logFile, command: runCommand(dir, run) });
            log(`${at} ${run.id}: FAILED after ${took} s: ${state.reason}; log ${shownPath(logFile)}`);
          }
          if (report.interrupted) {
            if (running.size === 0) finish();
          } else {
            launch();
          }
        });
      });
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    launch();
  });
}

/** The closing lines of a sweep: counts, each failure with its log and command, and what to run next. */
export function reportLines(dir: string, m: Manifest, r: SweepReport, how = '--workers 2'): string[] {
  const finished = r.skipped.length + r.done.length;
  const lines = [`sweep: ${finished} of ${r.total} runs finished (${r.done.length} now, ${r.skipped.length} earlier), ${r.failed.length} failed${r.interrupted ? `, ${r.stopped.length + r.notRun.length} left by the interruption` : ''}; ${r.seconds.toFixed(1)} s`];
  for (const f of r.failed) lines.push(`  failed: ${f.id}: ${f.reason}`, `    log: ${shownPath(f.log)}`, `    rerun: ${f.command}`);
  if (r.failed.length || r.interrupted) lines.push(`sweep: to run what is left (finished runs are skipped): ${sweepCommand(dir, m, how)}`);
  if (finished === r.total) lines.push(`sweep: collect with: node ${shownPath(PROMPTLAB_BIN)} collect ${shownPath(path.resolve(dir))} --out DIR2`);
  return lines;
}
