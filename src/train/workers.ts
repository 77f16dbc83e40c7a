// Data-parallel workers on one machine: `size` worker threads, each loading its own TensorFlow.js
// (WASM runs on one core per thread in Node, so two threads use both cores of a 2-core machine),
// running one exported function of a module with its rank and a synchronous Collective
// (src/train/collective.ts). A failure in any worker aborts the others' exchanges and rejects.
import * as path from 'path';
import { Worker, type MessagePort } from 'worker_threads';
import { abortCollective, collectiveBuffer, SharedCollective, type Collective } from './collective';

export interface WorkerContext<D> {
  rank: number;
  size: number;
  data: D;
  collective: Collective;
  /** A message to the parent (runWorkers' onMessage). */
  post(message: unknown): void;
}

interface WorkerData {
  module: string;
  fn: string;
  data: unknown;
  rank: number;
  size: number;
  buffer: SharedArrayBuffer;
}

export interface RunWorkersOptions {
  /** Floats each rank may exchange at once (the largest array passed to the collective). */
  capacity: number;
  onMessage?: (rank: number, message: unknown) => void;
  /** Each worker once started (to post it messages, or unref it). */
  onSpawn?: (rank: number, worker: Worker) => void;
}

/**
 * Runs `fn(ctx)` of `module` (an absolute path to a TypeScript or JavaScript module) on `size` worker
 * threads; resolves with each rank's return value when all have finished.
 */
export function runWorkers<D, R>(module: string, fn: string, size: number, data: D, opts: RunWorkersOptions): Promise<R[]> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`runWorkers: the number of workers must be a positive integer, got ${size}`);
  const buffer = collectiveBuffer(size, opts.capacity);
  const workers: Worker[] = [];
  return new Promise<R[]>((resolve, reject) => {
    const results: R[] = new Array(size);
    const done: boolean[] = new Array(size).fill(false);
    let finished = 0;
    let failed = false;
    const fail = (rank: number, err: Error) => {
      if (failed) return;
      failed = true;
      abortCollective(buffer);
      for (const w of workers) void w.terminate();
      reject(new Error(`worker ${rank} of ${size}: ${err.message}`));
    };
    for (let rank = 0; rank < size; rank++) {
      const workerData: WorkerData = { module, fn, data, rank, size, buffer };
      const w = new Worker(path.join(__dirname, 'worker-entry.cjs'), { workerData });
      workers.push(w);
      opts.onSpawn?.(rank, w);
      w.on('message', (m: { type: string; value?: unknown; message?: string; stack?: string }) => {
        if (m.type === 'done') {
          results[rank] = m.value as R;
          done[rank] = true;
          if (++finished === size) resolve(results);
        } else if (m.type === 'aborted') {
          // stopped because another rank failed: that rank's own error is the one to report
        } else if (m.type === 'error') {
          const e = new Error(m.message);
          e.stack = m.stack;
          fail(rank, e);
        } else if (m.type === 'message') {
          opts.onMessage?.(rank, m.value);
        }
      });
      w.on('error', (e) => fail(rank, e));
      w.on('exit', (code) => {
        if (!failed && !done[rank]) fail(rank, new Error(code === 0 ? 'ended without a result (another worker failed?)' : `exited with code ${code}`));
      });
    }
  });
}

/** Runs inside the worker (from worker-entry.cjs). */
export function workerMain(port: MessagePort | null, d: WorkerData): void {
  if (!port) throw new Error('workerMain must run in a worker thread');
  const collective = new SharedCollective(d.buffer, d.rank, d.size);
  const ctx: WorkerContext<unknown> = { rank: d.rank, size: d.size, data: d.data, collective, post: (value) => port.postMessage({ type: 'message', value }) };
  Promise.resolve()
    .then(() => {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const mod = require(d.module) as Record<string, (c: WorkerContext<unknown>) => unknown>;
      if (typeof mod[d.fn] !== 'function') throw new Error(`${d.module} exports no function ${d.fn}`);
      return mod[d.fn](ctx);
    })
    .then((value) => port.postMessage({ type: 'done', value }))
    .catch((e: Error) => {
      if (e?.name === 'CollectiveAborted') {
        port.postMessage({ type: 'aborted' });
        return;
      }
      abortCollective(d.buffer);
      port.postMessage({ type: 'error', message: e?.message ?? String(e), stack: e?.stack });
    });
}
