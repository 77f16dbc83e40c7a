// Multi-threaded WASM in Node: one WASM heap, XNNPACK's thread pool inside each matMul and conv.
//
// @tensorflow/tfjs-backend-wasm ships a threaded SIMD build (emscripten pthreads over a shared
// WebAssembly.Memory) but never picks it in Node (tfjs issue 3830): its detection returns false
// there, its pthread worker is a Blob URL that Node's worker_threads cannot start, and the pool's
// size is fixed when the module starts, at emscripten_num_logical_cores() / 2 (one thread on a
// 2-core machine). This file starts that same build from the package's own files: the worker script
// the package exports as a string is written once to a file in the temp folder, and the pool's size
// is set through the one import that reports the cores. The backend keeps its name, 'wasm', its
// kernels and its results: XNNPACK splits a matMul over output tiles, each sum stays in one thread,
// so one thread and four give the same bits (test/unit/wasm-threads.test.ts).
//
// Opt-in (PROMPTLAB_WASM_THREADS=N): one heap holds one copy of the weights, so it needs far less
// memory than promptlab's tower workers (src/clip/workers.ts), each with its own WASM and tower
// copy; but only XNNPACK's ops (matMul, conv) run on the threads, so the workers, which split every
// op's rows, are faster on the benchmarks (src/bench/README.md has both).
import * as crypto from 'crypto';
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isMainThread } from 'worker_threads';
import * as tf from '@tensorflow/tfjs';

/** tfjs-backend-wasm caps its pool at 4 threads (backend.cc's max_num_threads). */
export const MAX_WASM_THREADS = 4;

/**
 * Threads for the WASM backend: PROMPTLAB_WASM_THREADS on the main thread (default 1: tfjs's own
 * single-threaded build, with promptlab's tower workers for the cores, see src/clip/workers.ts);
 * always 1 in a worker thread (each of promptlab's workers runs its own single-threaded WASM).
 */
export function wasmThreadCount(env: string | undefined = process.env.PROMPTLAB_WASM_THREADS, main = isMainThread): number {
  if (!main) return 1;
  if (env === undefined || env === '') return 1;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new Error(`PROMPTLAB_WASM_THREADS='${env}' must be an integer from 1 to ${MAX_WASM_THREADS} (1 = tfjs's single-threaded WASM build)`);
  }
  return n;
}

interface EmscriptenWorker { unref(): void; terminate(): Promise<number> }
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread: { unusedWorkers: EmscriptenWorker[]; runningWorkers: EmscriptenWorker[] };
  tfjs?: Record<string, (...a: number[]) => number>;
}

const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
const BUILD = 'tfjs-backend-wasm-threaded-simd';

/** The package's pthread worker script, written where Node's Worker can start it (content-named). */
function workerScript(dir: string): string {
  const exported = require(path.join(dir, `${BUILD}.worker.js`)) as { wasmWorkerContents: string };
  // the exported string holds "\n" escapes that a Blob keeps as two characters; a file must too
  const text = exported.wasmWorkerContents.replace(/\n/g, '\\n');
  const hash = crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
  const user = process.getuid?.() ?? 'user';
  const file = path.join(os.tmpdir(), `promptlab-${user}-${BUILD}-${hash}.worker.js`);
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  }
  return file;
}

/**
 * Stands in for the pthread workers the pool never uses: emscripten preloads 8 workers (a V8 isolate
 * and a WASM instance each, about 22 MB) while the pool takes threads - 1 of them. It answers the
 * one message emscripten waits for ('load' -> 'loaded') and is never given a thread.
 */
class IdleWorker extends EventEmitter {
  readonly idle = true;
  postMessage(msg: { cmd?: string }): void {
    if (msg?.cmd === 'load') setImmediate(() => this.emit('message', { cmd: 'loaded' }));
  }
  ref(): void {}
  unref(): void {}
  terminate(): Promise<number> {
    this.removeAllListeners();
    return Promise.resolve(0);
  }
}

/**
 * Calls emscripten's factory with `Worker` pointing, while it preloads its pool, at a constructor
 * that starts real workers for the first `real` and idle stand-ins for the rest.
 */
function withPoolOf<T>(real: number, start: () => T): T {
  const g = globalThis as { Worker?: unknown };
  const before = Object.getOwnPropertyDescriptor(g, 'Worker');
  let RealWorker: (new (file: string) => object) | undefined;
  let made = 0;
  function PoolWorker(file: string): object {
    made += 1;
    return made <= real ? new RealWorker!(file) : new IdleWorker();
  }
  Object.defineProperty(g, 'Worker', {
    configurable: true,
    get: () => (RealWorker ? PoolWorker : undefined),
    set: (w: new (file: string) => object) => { RealWorker = w; }, // emscripten's global.Worker = worker_threads.Worker
  });
  try {
    return start();
  } finally {
    delete g.Worker;
    if (before) Object.defineProperty(g, 'Worker', before);
    else if (RealWorker) g.Worker = RealWorker; // what emscripten set, for a pool that grows later
  }
}

/** Node's WebAssembly global, typed here: tslab compiles notebooks without the DOM's WebAssembly types. */
function wasmApi(): { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: unknown; module: unknown }> } {
  return (globalThis as unknown as { WebAssembly: ReturnType<typeof wasmApi> }).WebAssembly;
}

/** Starts the threaded build with a pool of `threads` (2..4). */
async function startThreadedModule(threads: number): Promise<ThreadedModule> {
  const dir = path.dirname(require.resolve(`${WASM_PACKAGE}/wasm-out/${BUILD}.js`));
  const script = path.join(dir, `${BUILD}.js`);
  const worker = workerScript(dir);
  const factory = require(script) as (config: object) => Promise<ThreadedModule>;
  const binary = fs.readFileSync(path.join(dir, `${BUILD}.wasm`));
  const module = await withPoolOf(threads - 1, () => factory({
    mainScriptUrlOrBlob: script, // what each pthread worker evaluates
    locateFile: (file: string) => (file.endsWith('.worker.js') ? worker : path.join(dir, file)),
    instantiateWasm(info: { env: Record<string, unknown> }, receive: (instance: unknown, module: unknown) => void) {
      // backend.cc sizes its pool from emscripten_num_logical_cores() / 2, read once when it starts
      info.env.emscripten_num_logical_cores = () => 2 * threads;
      wasmApi().instantiate(binary, info).then((r) => receive(r.instance, r.module));
      return {};
    },
  }));
  // the pool takes its threads from the end of this list: the real workers go last
  const pool = module.PThread.unusedWorkers;
  pool.sort((a, b) => Number(b instanceof IdleWorker) - Number(a instanceof IdleWorker));
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  return module;
}

/** After the backend has made its pool (BackendWasm's constructor): checks it and lets the process exit. */
function settlePool(module: ThreadedModule, threads: number): void {
  const got = module.tfjs!.getThreadsCount();
  if (got !== threads) throw new Error(`the threaded WASM build started ${got} threads, not ${threads}`);
  // The pool's threads run for the process's life: they must not keep it from exiting. The
  // preloaded workers left over are never used (the pool does not grow): end them.
  for (const w of module.PThread.runningWorkers) w.unref();
  for (const w of module.PThread.unusedWorkers.splice(0)) void w.terminate();
}

let threadsInUse = 1;

/** Threads the WASM backend runs on (1 before the threaded build was registered or when it was not). */
export function wasmThreadsInUse(): number {
  return threadsInUse;
}

/**
 * Makes tfjs's 'wasm' backend the threaded build with `threads` threads, when threads > 1 (with 1,
 * tfjs's own single-threaded SIMD build stays). Call after loading @tensorflow/tfjs-backend-wasm and
 * before the backend is first used; the module starts when the backend is activated.
 */
export function useThreadedWasm(threads: number): void {
  if (threads <= 1) return;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const wasm = require(WASM_PACKAGE) as { BackendWasm: new (module: unknown) => tf.KernelBackend };
  const original = tf.findBackendFactory('wasm') as (() => tf.KernelBackend | Promise<tf.KernelBackend>) | null | undefined;
  if (original) tf.removeBackend('wasm');
  tf.registerBackend('wasm', async () => {
    try {
      const module = await startThreadedModule(threads);
      const backend = new wasm.BackendWasm(module); // makes the pool: clamp(threads, 1, 4) threads
      settlePool(module, threads);
      threadsInUse = threads;
      return backend;
    } catch (e) {
      if (!original) throw e;
      process.stderr.write(`promptlab: PROMPTLAB_WASM_THREADS=${threads}: tfjs's threaded WASM build did not start (${e instanceof Error ? e.message : String(e)}); using its single-threaded build\n`);
      return original();
    }
  }, 2);
}
