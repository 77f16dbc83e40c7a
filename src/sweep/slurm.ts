// A sweep as a Slurm job array: DIR/sweep.sbatch, a script a person can read and run by hand, in
// which array task i runs grid.json's runs[i] (one `promptlab repro`) and writes its run record to
// DIR/runs/<id>/ on the shared file system; submitted with sbatch (only the unfinished runs' indices
// on a resubmission); --wait polls squeue until the array has ended, then reports as a local sweep does.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../io/files';
import { REPO_ROOT, shownPath } from '../repro/record';
import { MANIFEST_FILE, promptlabCommand, runCommand, sharedArgs, shellWord, sweepCommand, sweepLabel, type Manifest } from './grid';
import { LOG_FILE, sweepStates } from './status';
import type { SweepReport } from './local';

/** Slurm options passed through to the script's #SBATCH lines (only those given). */
export interface SlurmOptions {
  partition?: string;
  gpusPerTask?: string;
  time?: string;
  mem?: string;
  account?: string;
  cpusPerTask?: string;
}

export const SBATCH_FILE = 'sweep.sbatch';
const SLURM_FLAGS: [keyof SlurmOptions, string][] = [['partition', 'partition'], ['account', 'account'], ['time', 'time'], ['mem', 'mem'], ['cpusPerTask', 'cpus-per-task'], ['gpusPerTask', 'gpus-per-task']];

function checkSlurmValue(flag: string, v: string): void {
  if (!/^[A-Za-z0-9_.:,=+@%/-]+$/.test(v)) throw new Error(`--${flag} '${v}': Slurm takes letters, digits and _ . : , = + @ % / - here (e.g. --time 01:30:00, --mem 8G, --gpus-per-task 1)`);
}

/** A folder the #SBATCH lines can name: Slurm reads them without shell quoting. */
function checkSlurmPath(p: string): void {
  if (!/^[A-Za-z0-9_.,+@%/-]+$/.test(p)) throw new Error(`the sweep folder ${p} has characters #SBATCH lines cannot carry (spaces, quotes, ...); give an --out with letters, digits and _ . , + @ % / - only`);
}

/** The job-array script for a sweep in `dir`. */
export function sbatchScript(dir: string, m: Manifest, o: SlurmOptions = {}): string {
  const abs = path.resolve(dir);
  checkSlurmPath(abs);
  const n = m.runs.length;
  const shared = sharedArgs(m.options);
  const given = SLURM_FLAGS.filter(([key]) => o[key] !== undefined).map(([key, flag]) => `--${flag} ${o[key]}`);
  const sbatch = [`#SBATCH --job-name=promptlab-${m.experiment}`, `#SBATCH --array=0-${n - 1}`, '#SBATCH --ntasks=1', `#SBATCH --output=${abs}/slurm/%A_%a.out`];
  for (const [key, flag] of SLURM_FLAGS) {
    const v = o[key];
    if (v === undefined) continue;
    checkSlurmValue(flag, v);
    sbatch.push(`#SBATCH --${flag}=${v}`);
  }
  const cases = m.runs.map((r) => {
    const own = r.args.slice(2 + shared.length);
    return `  ${r.index}) id=${r.id}; args=(${own.map(shellWord).join(' ')}) ;;`;
  });
  const collect = `${promptlabCommand()} collect ${shellWord(shownPath(abs))} --out DIR2`;
  return `#!/bin/bash
# promptlab sweep: ${m.experiment} over the grid '${m.spec}' (${n} runs) as a Slurm job array.
# Written by \`${sweepCommand(dir, m, ['--slurm', ...given].join(' '))}\`
# from ${MANIFEST_FILE} beside it: array task i runs the manifest's runs[i], one \`promptlab repro\`, and
# writes its run record (results.json, record.json, log.txt) to ${abs}/runs/<id>/.
#
#   submit every run:        sbatch ${abs}/${SBATCH_FILE}
#   submit some runs:        sbatch --array=${n > 1 ? `0,${n - 1}` : '0'} ${abs}/${SBATCH_FILE}
#   one run here, by hand:   SLURM_ARRAY_TASK_ID=${n - 1} bash ${abs}/${SBATCH_FILE}
#   gather the records:      ${collect}
${sbatch.join('\n')}
set -euo pipefail

SWEEP_DIR=${shellWord(abs)}
PROMPTLAB=${shellWord(REPO_ROOT)}
NODE="\${PROMPTLAB_NODE:-$(command -v node || echo ${shellWord(process.execPath)})}"
i="\${SLURM_ARRAY_TASK_ID:?set SLURM_ARRAY_TASK_ID to a run index, 0-${n - 1} (sbatch sets it)}"

case "$i" in
${cases.join('\n')}
  *) echo "promptlab sweep: no run $i in this grid (0-${n - 1})" >&2; exit 2 ;;
esac

out="$SWEEP_DIR/runs/$id"
mkdir -p "$out"
cd "$PROMPTLAB"
echo "promptlab sweep: run $id (array task $i of ${n}) on $(hostname), job \${SLURM_ARRAY_JOB_ID:-none}" | tee "$out/${LOG_FILE}"
rc=0
"$NODE" bin/promptlab.js ${['repro', m.experiment, ...shared].map(shellWord).join(' ')} "\${args[@]}" --out "$out" 2>&1 | tee -a "$out/${LOG_FILE}" || rc=$?
echo "promptlab sweep: run $id exited with code $rc (array task $i on $(hostname))" | tee -a "$out/${LOG_FILE}"
exit "$rc"
`;
}

/** Writes DIR/sweep.sbatch (and the folder for Slurm's own logs); returns its path. */
export function writeSbatch(dir: string, m: Manifest, o: SlurmOptions = {}): string {
  const file = path.join(path.resolve(dir), SBATCH_FILE);
  const text = sbatchScript(dir, m, o);
  fs.mkdirSync(path.join(path.resolve(dir), 'slurm'), { recursive: true });
  writeFileAtomic(file, text);
  fs.chmodSync(file, 0o755);
  return file;
}

/** Whether a Slurm cluster answers here (sinfo), with why not. */
export function slurmAvailable(): { ok: boolean; reason: string } {
  const r = spawnSync('sinfo', ['-h', '-o', '%P %a %D %t'], { encoding: 'utf8', timeout: 15000 });
  if (r.error) return { ok: false, reason: `sinfo: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : r.error.message} (scripts/slurm-single-node.sh start brings up a one-node cluster)` };
  if (r.status !== 0) return { ok: false, reason: `sinfo exited with code ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').pop()} (no cluster answers; scripts/slurm-single-node.sh start brings one up)` };
  if (!r.stdout.trim()) return { ok: false, reason: 'sinfo lists no partition' };
  return { ok: true, reason: r.stdout.trim().split('\n').join('; ') };
}

/** Compresses indices for sbatch --array: 0-3,7,9-10. */
export function arrayRanges(indices: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < indices.length; ) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j] + 1) j++;
    out.push(i === j ? `${indices[i]}` : `${indices[i]}-${indices[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

export interface SubmitOptions extends SlurmOptions {
  wait: boolean;
  log: (line: string) => void;
  /** squeue polling interval while waiting (default 3 s). */
  pollMs?: number;
  signal?: AbortSignal;
}

export interface SubmitResult {
  jobId: string | null;
  /** The indices submitted. */
  indices: number[];
  /** With --wait: the runs' outcome, as a local sweep reports it. */
  report?: SweepReport;
}

function squeueStates(jobId: string): string[] | null {
  const r = spawnSync('squeue', ['-h', '-r', '-j', jobId, '-o', '%T'], { encoding: 'utf8', timeout: 30000 });
  if (r.error || r.status !== 0) {
    // a job that has left the controller's memory is reported as invalid: it has ended
    if (/invalid job id/i.test(r.stderr ?? '')) return [];
    return null;
  }
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
}

/** Waits ms, or less when signal aborts. */
const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const done = () => {
    clearTimeout(t);
    signal?.removeEventListener('abort', done);
    resolve();
  };
  const t = setTimeout(done, ms);
  signal?.addEventListener('abort', done, { once: true });
});

/**
 * Writes the script, and submits the grid's unfinished runs with sbatch (--array with their indices
 * when some are finished); with `wait`, polls squeue until the array has ended and reports each run.
 */
export async function submitSlurm(dir: string, m: Manifest, o: SubmitOptions): Promise<SubmitResult> {
  const started = Date.now();
  const log = o.log;
  const script = writeSbatch(dir, m, o);
  const states = sweepStates(dir, m);
  const skipped = states.filter((s) => s.state.state === 'done').map((s) => s.run.id);
  const todo = states.filter((s) => s.state.state !== 'done').map((s) => s.run);
  log(`sweep: ${sweepLabel(m)}, grid '${m.spec}': ${m.runs.length} runs; wrote ${shownPath(path.join(path.resolve(dir), MANIFEST_FILE))} and ${shownPath(script)}`);
  if (skipped.length) log(`sweep: ${skipped.length} of ${m.runs.length} runs finished earlier (valid run records): not submitted`);
  if (todo.length === 0) {
    log('sweep: nothing left to run');
    return { jobId: null, indices: [], report: { total: m.runs.length, skipped, done: [], failed: [], stopped: [], notRun: [], interrupted: false, seconds: 0 } };
  }
  const indices = todo.map((r) => r.index);
  const array = indices.length === m.runs.length ? null : arrayRanges(indices);
  const args = ['--parsable', ...(array ? [`--array=${array}`] : []), script];
  const sub = spawnSync('sbatch', args, { encoding: 'utf8', cwd: path.resolve(dir), timeout: 120000 });
  if (sub.error) {
    const missing = (sub.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(`${missing ? 'sbatch is not installed here' : `sbatch: ${sub.error.message}`}; the script is written: submit it where Slurm is, with \`sbatch ${array ? `--array=${array} ` : ''}${shownPath(script)}\` (scripts/slurm-single-node.sh start brings up a one-node cluster on this machine)`);
  }
  if (sub.status !== 0) throw new Error(`sbatch ${args.join(' ')} exited with code ${sub.status}: ${(sub.stderr || sub.stdout).trim()}`);
  const jobId = sub.stdout.trim().split(';')[0];
  log(`sweep: submitted job ${jobId}: array ${array ?? `0-${m.runs.length - 1}`} (${indices.length} run${indices.length === 1 ? '' : 's'}); Slurm's logs in ${shownPath(path.join(path.resolve(dir), 'slurm'))}/${jobId}_<index>.out`);
  if (!o.wait) {
    log(`sweep: watch it with \`squeue -j ${jobId}\`; when it has ended: ${promptlabCommand()} collect ${shownPath(path.resolve(dir))} --out DIR2`);
    return { jobId, indices };
  }
  let last = '';
  let interrupted = false;
  for (;;) {
    if (o.signal?.aborted) {
      interrupted = true;
      log(`sweep: stopped waiting; job ${jobId} goes on in Slurm (\`scancel ${jobId}\` cancels it)`);
      break;
    }
    const q = squeueStates(jobId);
    if (q !== null) {
      const count = (s: string) => q.filter((x) => x === s).length;
      const finished = sweepStates(dir, m).filter((s) => s.state.state === 'done').length;
      const line = `sweep: job ${jobId}: ${finished} of ${m.runs.length} runs finished, ${count('RUNNING')} running, ${count('PENDING')} pending`;
      if (line !== last) log(line);
      last = line;
      if (q.length === 0) break;
    }
    await sleep(o.pollMs ?? 3000, o.signal);
  }
  const after = sweepStates(dir, m);
  const submitted = new Set(todo.map((r) => r.id));
  const report: SweepReport = { total: m.runs.length, skipped, done: [], failed: [], stopped: [], notRun: [], interrupted, seconds: (Date.now() - started) / 1000 };
  for (const { run, state } of after) {
    if (!submitted.has(run.id)) continue;
    if (state.state === 'done') report.done.push(run.id);
    else if (interrupted) report.notRun.push(run.id);
    else report.failed.push({ id: run.id, reason: state.reason, log: state.log ?? path.join(path.resolve(dir), 'slurm', `${jobId}_${run.index}.out`), command: runCommand(dir, run) });
  }
  return { jobId, indices, report };
}

