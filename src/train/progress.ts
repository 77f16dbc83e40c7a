// Training progress: the trainer reports every step as a ProgressInfo to an `onProgress` callback.
// `consoleProgress` turns those into text: on a TTY one line rewritten in place, otherwise (logs, CI)
// a line every 30 seconds and at the end of each run. A notebook passes its own callback (e.g. one that
// updates a tslab display) and needs nothing from here but the types and `formatProgress`.

export interface ProgressInfo {
  /** 1-based epoch, of `epochs`. */
  epoch: number;
  epochs: number;
  /** 1-based step within the epoch, of `steps` (batches per epoch). */
  step: number;
  steps: number;
  /** Mean training loss of the epoch so far. */
  loss: number;
  /** Training accuracy of the epoch so far, in [0, 1]. */
  accuracy: number;
  /** The epoch's learning rate. */
  lr: number;
  /** Steps per second since this run started (or resumed). */
  stepsPerSecond: number;
  /** Seconds until the last epoch ends, at that rate (Infinity when unknown). */
  etaSeconds: number;
  /** Whether this step ends its epoch. */
  epochDone: boolean;
  /** What is training (e.g. "world-shapes seed 1, 16 shots, coop"), when the caller says. */
  label?: string;
}

/** A callback that adds `label` to every report before passing it on (undefined stays undefined). */
export function labelled(cb: ProgressCallback | undefined, label: string): ProgressCallback | undefined {
  return cb && ((p) => cb({ ...p, label }));
}

export type ProgressCallback = (p: ProgressInfo) => void;

/** 75s -> "1m15s", 3700s -> "1h01m". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

/** One line: "epoch 3/50  step 12/16  loss 1.2345  acc 56.2%  lr 2.00e-3  4.10 steps/s  ETA 3m20s". */
export function formatProgress(p: ProgressInfo): string {
  const width = String(p.epochs).length;
  const sw = String(p.steps).length;
  return [
    ...(p.label ? [`${p.label}:`] : []),
    `epoch ${String(p.epoch).padStart(width)}/${p.epochs}`,
    `step ${String(p.step).padStart(sw)}/${p.steps}`,
    `loss ${p.loss.toFixed(4)}`,
    ...(Number.isFinite(p.accuracy) ? [`acc ${(100 * p.accuracy).toFixed(1)}%`] : []), // NaN: not measured by this trainer
    `lr ${p.lr.toExponential(2)}`,
    `${p.stepsPerSecond.toFixed(2)} steps/s`,
    `ETA ${formatDuration(p.etaSeconds)}`,
  ].join('  ');
}

/** Where console progress goes: process.stdout / process.stderr, or anything alike. */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface ConsoleProgressOptions {
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Without a TTY: a line every this many steps and at each epoch's end (default: by time, see intervalMs). */
  every?: number;
  /** Without a TTY and without `every`: a line at most this often, and at a run's last step; default 30 s. */
  intervalMs?: number;
  /** Force the in-place line (true) or plain lines (false); default: the stream's isTTY. */
  tty?: boolean;
}

/** A progress callback that writes to a terminal (in place) or a log (every N steps). */
export function consoleProgress(opts: ConsoleProgressOptions = {}): ProgressCallback {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? !!stream.isTTY;
  const every = opts.every === undefined ? null : Math.max(1, Math.floor(opts.every));
  const interval = opts.intervalMs ?? 30000;
  let global = 0;
  let lastWrite = -Infinity;
  return (p) => {
    global += 1;
    if (tty) {
      stream.write(`\r${formatProgress(p)}\x1b[K${p.epochDone ? '\n' : ''}`);
      return;
    }
    const runEnd = p.epochDone && p.epoch === p.epochs;
    const due = every !== null ? global % every === 0 || p.epochDone : Date.now() - lastWrite >= interval || runEnd;
    if (due) {
      stream.write(`${formatProgress(p)}\n`);
      lastWrite = Date.now();
    }
  };
}
