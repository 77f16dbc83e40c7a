// Both cores for the frozen towers. tfjs-wasm runs on one core per thread in Node, so a ClipModel can
// start worker threads, each holding its own copy of a frozen tower, and split the rows of a call
// between itself and them: the prompts of encodeTokenEmbeddings (with or without a gradient tape) and
// the images of encodeImage (without one). Rows are independent in both towers, so every row is
// computed exactly as it is on one thread (tested equal).
//
// A call is one request per worker through shared memory, so it stays synchronous, as tfjs ops must:
// the main thread posts the worker's rows, computes its own share, then waits (Atomics.wait) for the
// worker's features. Under a gradient tape the worker computes its rows inside tf.grad and, having
// published the features, waits inside that closure for their gradient dy; the main thread's custom
// gradient sends dy when the outer backward reaches it and takes back dx. So the worker keeps its
// activations and never recomputes a forward pass.
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { Worker } from 'worker_threads';
import { runWorkers, type WorkerContext } from '../train/workers';
import { backendInfo, initBackend, type BackendName } from '../backend';
import { isVit, type ClipConfig } from './config';
import type { StateDict } from './weights';

export type Tower = 'text' | 'image';

// request states (ctrl[0])
const BUSY = 0;
const VALUE = 1;   // the worker's features are in `output`
const DY = 2;      // the main thread put dy in `output`
const DX = 3;      // the worker put dx in `input`
const FAILED = 4;  // the worker's error message is in `error`

interface Request {
  type: Tower;
  grad: boolean;
  shape: number[];
  eot: number[];
  ctrl: Int32Array;
  input: Float32Array;
  output: Float32Array;
  error: Uint8Array;
}

/** The state-dict keys a worker needs for `towers`. */
export function towerKeys(towers: Tower[]): (key: string) => boolean {
  return (key) => (key.startsWith('visual.') ? towers.includes('image') : key !== 'logit_scale' && towers.includes('text'));
}

/** One worker's request in flight. */
class Pending {
  constructor(readonly req: Request, readonly rows: number, readonly outCols: number) {}

  private waitFor(state: number): void {
    const { ctrl } = this.req;
    for (;;) {
      const s = Atomics.load(ctrl, 0);
      if (s === state) return;
      if (s === FAILED) {
        const text = Buffer.from(this.req.error).toString('utf8').replace(/\0+$/, '');
        throw new Error(`tower worker: ${text}`);
      }
      Atomics.wait(ctrl, 0, s, 1000);
    }
  }

  /** The worker's features [rows, E]. */
  value(): tf.Tensor2D {
    this.waitFor(VALUE);
    return tf.tensor2d(this.req.output.slice(0, this.rows * this.outCols), [this.rows, this.outCols]);
  }

  /** Sends dy [rows, E] (null: a zero gradient, to release a worker whose features got none); does not wait. */
  sendDy(dy: Float32Array | null): void {
    this.waitFor(VALUE);
    if (dy) this.req.output.set(dy);
    else this.req.output.fill(0);
    Atomics.store(this.req.ctrl, 0, DY);
    Atomics.notify(this.req.ctrl, 0);
  }

  /** dx for the rows sent, once the worker has backpropagated dy. */
  takeDx(): Float32Array {
    this.waitFor(DX);
    return this.req.input.slice();
  }
}

/** Worker threads for one ClipModel's frozen towers (see ClipModel.startWorkers). */
export class TowerWorkers {
  private readonly pending: (Pending | null)[];
  private stopped = false;

  private constructor(private readonly workers: Worker[], readonly towers: Tower[], private readonly done: Promise<unknown>) {
    this.pending = workers.map(() => null);
  }

  /** Threads, the calling one included. */
  get size(): number {
    return this.workers.length + 1;
  }

  /**
   * Starts `threads - 1` workers holding `towers` of a frozen model (its config and state dict).
   * Resolves once each has built its towers.
   */
  static async start(config: ClipConfig, stateDict: StateDict, threads: number, towers: Tower[]): Promise<TowerWorkers> {
    if (!Number.isInteger(threads) || threads < 2) throw new Error(`TowerWorkers: threads must be an integer >= 2, got ${threads}`);
    const keep = towerKeys(towers);
    const shared: StateDict = new Map();
    for (const [key, t] of stateDict) {
      if (!keep(key)) continue;
      if (t.data.buffer instanceof SharedArrayBuffer) {
        shared.set(key, t);
        continue;
      }
      const data = new Float32Array(new SharedArrayBuffer(4 * t.data.length)); // shared, not copied to each worker
      data.set(t.data);
      shared.set(key, { shape: t.shape, data });
    }
    const backend = (await initBackend()).name;
    const workers: Worker[] = [];
    const n = threads - 1;
    let ready = 0;
    let onReady: () => void = () => undefined;
    const allReady = new Promise<void>((resolve) => { onReady = resolve; });
    const data: ServeData = { config, stateDict: shared, towers, backend };
    const done = runWorkers(path.join(__dirname, 'workers.ts'), 'serveTowers', n, data, {
      capacity: 1,
      onSpawn: (_rank, w) => workers.push(w),
      onMessage: (_rank, m) => { if ((m as { type?: string }).type === 'ready' && ++ready === n) onReady(); },
    });
    await Promise.race([allReady, done.then(() => { throw new Error('tower workers ended before they were ready'); })]);
    for (const w of workers) w.unref(); // a pool nobody stops does not keep the process alive
    const pool = new TowerWorkers(workers, towers, done);
    done.catch(() => { pool.stopped = true; });
    return pool;
  }

  /** Row counts per thread (this one first) for `k` rows: as equal as possible. */
  shares(k: number): number[] {
    const base = Math.floor(k / this.size);
    return Array.from({ length: this.size }, (_, i) => base + (i < k % this.size ? 1 : 0));
  }

  private live(): void {
    if (this.stopped) throw new Error('the tower workers have been stopped (or one failed)');
  }

  /** Posts `data` (rows of shape [rows, ...shape.slice(1)]) to worker i; returns its pending request. */
  submit(i: number, type: Tower, data: Float32Array, shape: number[], eot: number[], grad: boolean, outCols: number): Pending {
    this.live();
    this.release(i);
    const rows = shape[0];
    const req: Request = {
      type,
      grad,
      shape,
      eot,
      ctrl: new Int32Array(new SharedArrayBuffer(4)),
      input: new Float32Array(new SharedArrayBuffer(4 * data.length)),
      output: new Float32Array(new SharedArrayBuffer(4 * rows * outCols)),
      error: new Uint8Array(new SharedArrayBuffer(4096)),
    };
    req.input.set(data);
    Atomics.store(req.ctrl, 0, BUSY);
    this.workers[i].postMessage({ type: 'request', req });
    const p = new Pending(req, rows, outCols);
    if (grad) this.pending[i] = p;
    return p;
  }

  /** Lets worker i finish a gradient request whose features never received a gradient. */
  private release(i: number): void {
    const p = this.pending[i];
    if (!p) return;
    this.pending[i] = null;
    if (Atomics.load(p.req.ctrl, 0) === DY) { p.takeDx(); return; }
    p.sendDy(null);
    p.takeDx();
  }

  /** Marks worker i's gradient request as answered. */
  answered(i: number, p: Pending): void {
    if (this.pending[i] === p) this.pending[i] = null;
  }

  /** Stops the workers (their tower copies are freed). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.workers.forEach((_, i) => this.release(i));
    this.stopped = true;
    for (const w of this.workers) {
      w.ref(); // awaited below: an unref'd worker would let the process exit before it answers
      w.postMessage({ type: 'stop' });
    }
    await this.done.catch(() => undefined);
    await Promise.all(this.workers.map((w) => w.terminate())); // each has answered 'stop': nothing is lost
  }
}

/**
 * Rows of x split over the pool: worker i gets its share, this thread computes the first share with
 * `local`, and the features come back in row order [K, outCols]. Under a gradient tape (text only),
 * two custom ops bracket this thread's share so that the backward overlaps too: the later one sends
 * the workers their dy as soon as the outer backward reaches it, the earlier one, reached after this
 * thread's own backward, collects their dx.
 */
export function splitRows(
  pool: TowerWorkers,
  type: Tower,
  x: tf.Tensor,
  eot: number[] | null,
  outCols: number,
  grad: boolean,
  local: (part: tf.Tensor, eot: number[]) => tf.Tensor2D,
): tf.Tensor2D {
  const k = x.shape[0];
  const shares = pool.shares(k);
  const starts: number[] = [];
  shares.reduce((a, n) => (starts.push(a), a + n), 0);
  const part = (r: number) => tf.slice(x, [starts[r], ...x.shape.slice(1).map(() => 0)], [shares[r], ...x.shape.slice(1)]);
  const eotOf = (r: number) => (eot ? eot.slice(starts[r], starts[r] + shares[r]) : []);
  const remoteParts = shares.slice(1).map((_, i) => part(i + 1));
  const pending = remoteParts.map((p, i) => pool.submit(i, type, p.dataSync() as Float32Array, p.shape, eotOf(i + 1), grad, outCols));
  const tokens = grad ? remoteParts.map((p, i) => collectDx(pool, i, pending[i])(p)) : [];
  const mine = local(part(0), eotOf(0));
  const remote = pending.map((p, i) => (grad ? sendDy(pool, i, p)(tokens[i]) : p.value()) as tf.Tensor2D);
  return tf.concat([mine, ...remote], 0) as tf.Tensor2D;
}

/** x -> a scalar token whose gradient step returns the worker's dx for x. */
function collectDx(pool: TowerWorkers, i: number, p: Pending) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    return {
      value: tf.zeros([]),
      gradFunc: () => {
        const dx = p.takeDx();
        pool.answered(i, p);
        return tf.tensor(dx, x.shape);
      },
    };
  });
}

/** token -> the worker's features; its gradient step hands dy to the worker and does not wait. */
function sendDy(pool: TowerWorkers, i: number, p: Pending) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const token = args[0] as tf.Tensor;
    return {
      value: p.value(),
      gradFunc: (dy: tf.Tensor) => {
        p.sendDy(dy.dataSync() as Float32Array);
        return tf.zerosLike(token);
      },
    };
  });
}

/**
 * The threads a model uses by default for its frozen towers: PROMPTLAB_WORKERS if set (1 = this
 * thread only), else the cores (at most 4) on the CPU backend and on WASM's default single-threaded
 * build, and 1 on a threaded WASM (PROMPTLAB_WASM_THREADS > 1, src/backend/wasm-threads.ts) and on
 * the native backends, which spread each op over the cores themselves.
 */
export function defaultThreads(): number {
  const env = process.env.PROMPTLAB_WORKERS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`PROMPTLAB_WORKERS='${env}' must be a positive integer (1 = no worker threads)`);
    return n;
  }
  const info = backendInfo();
  const b = info?.name;
  if (b !== 'wasm' && b !== 'cpu') return 1;
  // a threaded WASM backend already spreads each matMul over the cores: one heap, no tower copies
  if (b === 'wasm' && (info?.threads ?? 1) > 1) return 1;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cores));
}

// ---- inside a worker ----

interface ServeData {
  config: ClipConfig;
  stateDict: StateDict;
  towers: Tower[];
  backend: BackendName;
}

/** A worker's loop: builds its towers, then answers requests until told to stop. */
export async function serveTowers(ctx: WorkerContext<ServeData>): Promise<void> {
  // required here, not imported above: text.ts imports this module
  const { parentPort } = require('worker_threads') as typeof import('worker_threads');
  if (!parentPort) throw new Error('serveTowers must run in a worker thread');
  await initBackend(ctx.data.backend);
  const { ParamReader } = require('./params') as typeof import('./params');
  const { TextTower } = require('./text') as typeof import('./text');
  const { VisionTransformer } = require('./vit') as typeof import('./vit');
  const { ModifiedResNet } = require('./resnet') as typeof import('./resnet');
  const { config, stateDict, towers } = ctx.data;
  const p = new ParamReader(stateDict, 'a tower worker\'s copy');
  const text = towers.includes('text') ? new TextTower(p, config) : null;
  const image = towers.includes('image') ? (isVit(config) ? new VisionTransformer(p, config) : new ModifiedResNet(p, config)) : null;
  stateDict.clear(); // the tensors are built: let the shared weights go
  warmUp(config, text, image);
  ctx.post({ type: 'ready' });
  await new Promise<void>((resolve) => {
    parentPort.on('message', (m: { type: string; req?: Request }) => {
      if (m.type === 'stop') {
        tf.dispose(p.created);
        parentPort.removeAllListeners('message');
        resolve();
        return;
      }
      const req = m.req as Request;
      try {
        answer(req, text, image);
      } catch (e) {
        const msg = Buffer.from(e instanceof Error ? e.message : String(e), 'utf8');
        req.error.set(msg.subarray(0, req.error.length - 1));
        Atomics.store(req.ctrl, 0, FAILED);
        Atomics.notify(req.ctrl, 0);
      }
    });
  });
}

/**
 * A few tiny calls through each tower (and the text tower's backward) before the first request: a
 * fresh thread's tfjs code runs cold, and its first four calls on 50 prompts of ViT-B's text tower
 * took 4.5 s against 2.8 s after (measured); the same calls on two prompts of four tokens cost
 * milliseconds and leave the real calls at full speed.
 */
function warmUp(config: ClipConfig, text: import('./text').TextTower | null, image: { encode(x: tf.Tensor4D): tf.Tensor2D } | null): void {
  for (let i = 0; i < 6; i++) {
    tf.tidy(() => {
      if (text) {
        const x = tf.zeros([2, 4, config.transformerWidth]) as tf.Tensor3D;
        text.encodeTokenEmbeddings(x, [3, 3]).dataSync();
        tf.grad((xx: tf.Tensor) => tf.sum(text.encodeTokenEmbeddings(xx as tf.Tensor3D, [3, 3])))(x).dataSync();
      }
      if (image && i < 4) image.encode(tf.zeros([1, 3, config.imageResolution, config.imageResolution]) as tf.Tensor4D).dataSync();
    });
  }
}

function publish(req: Request, state: number): void {
  Atomics.store(req.ctrl, 0, state);
  Atomics.notify(req.ctrl, 0);
}

function answer(
  req: Request,
  text: import('./text').TextTower | null,
  image: { encode(x: tf.Tensor4D): tf.Tensor2D } | null,
): void {
  if (req.type === 'image') {
    if (!image) throw new Error('this worker holds no image tower');
    const f = tf.tidy(() => image.encode(tf.tensor4d(req.input, req.shape as [number, number, number, number])));
    req.output.set(f.dataSync());
    f.dispose();
    publish(req, VALUE);
    return;
  }
  if (!text) throw new Error('this worker holds no text tower');
  if (!req.grad) {
    const f = tf.tidy(() => text.encodeTokenEmbeddings(tf.tensor3d(req.input, req.shape as [number, number, number]), req.eot, false));
    req.output.set(f.dataSync());
    f.dispose();
    publish(req, VALUE);
    return;
  }
  // Under the main thread's tape: the features, then (once the outer backward sends dy) dx = J^T dy.
  tf.tidy(() => {
    const x = tf.tensor3d(req.input, req.shape as [number, number, number]);
    const dx = tf.grad((xx: tf.Tensor) => {
      const f = text.encodeTokenEmbeddings(xx as tf.Tensor3D, req.eot, false); // already cut at the last EOT of all rows
      req.output.set(f.dataSync());
      publish(req, VALUE);
      while (Atomics.load(req.ctrl, 0) !== DY) Atomics.wait(req.ctrl, 0, VALUE, 1000);
      const dy = tf.tensor(req.output, f.shape);
      return tf.sum(tf.mul(f, dy));
    })(x);
    req.input.set(dx.dataSync());
  });
  publish(req, DX);
}
