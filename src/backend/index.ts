// Backend selection: tfjs-node-gpu (CUDA) if it loads, else tfjs-node, else WASM, else the JS CPU
// backend. PROMPTLAB_BACKEND forces one and fails loudly when it is not available. WebGPU (Dawn over
// Vulkan, through the `webgpu` npm package) is never picked automatically: PROMPTLAB_BACKEND=webgpu,
// for the GPU check (scripts/gpu-check.sh); neither of its packages is a dependency of promptlab.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useThreadedWasm, wasmThreadCount, wasmThreadsInUse } from './wasm-threads';
import { loadWebgpu } from './webgpu-node';

export { wasmThreadCount, wasmThreadsInUse, MAX_WASM_THREADS } from './wasm-threads';

export type BackendName = 'node-gpu' | 'node' | 'wasm' | 'cpu' | 'webgpu';
export const BACKEND_ORDER: readonly BackendName[] = ['node-gpu', 'node', 'wasm', 'cpu'];
/** Backends only PROMPTLAB_BACKEND selects. */
export const FORCED_ONLY: readonly BackendName[] = ['webgpu'];

export interface BackendInfo {
  name: BackendName;      // promptlab's name for it
  tfBackend: string;      // tf.getBackend()
  tfjsVersion: string;
  package: string;        // the npm package that provides it
  forced: boolean;        // chosen by PROMPTLAB_BACKEND
  tried: { name: BackendName; error: string }[]; // what failed before it
  threads: number | null; // WASM's threads (src/backend/wasm-threads.ts); null on the other backends
}

const PACKAGES: Record<BackendName, string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
};

const HINTS: Record<BackendName, string> = {
  'node-gpu': 'npm install @tensorflow/tfjs-node-gpu@4.22.0 (needs an NVIDIA driver > 450, CUDA 11.2 and cuDNN 8.1; see environment.md)',
  node: 'npm install with network access to storage.googleapis.com, from where the install script of @tensorflow/tfjs-node 4.22.0 (an optional dependency) downloads libtensorflow; npm rebuild @tensorflow/tfjs-node when the package is there without its native addon',
  wasm: 'npm ci (the WASM backend is a regular dependency)',
  cpu: 'npm ci',
  webgpu: 'on a machine with a GPU and a Vulkan driver: npm install --no-save webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0 deasync@0.1.32 (see scripts/gpu-check.sh)',
};

/** The name each backend registers with TensorFlow.js (both native packages register 'tensorflow'). */
const TF_NAMES: Record<BackendName, string> = { 'node-gpu': 'tensorflow', node: 'tensorflow', wasm: 'wasm', cpu: 'cpu', webgpu: 'webgpu' };

/** What the picker needs from outside: tests pass a fake one (test/unit/backend.test.ts). */
export interface BackendLoader {
  /** Loads the package that provides `name` (require), throwing with the reason when it cannot. */
  load(name: BackendName): void;
  /** Makes TensorFlow.js backend `tfName` the active one; false when it does not initialise. */
  activate(tfName: string): Promise<boolean>;
  /** Undoes what a failed attempt at `name` left registered, so that the next one starts clean. */
  reset(name: BackendName): void;
}

export interface PickResult {
  name: BackendName | null; // null when nothing in `order` loaded
  tried: { name: BackendName; error: string }[];
}

/** Tries the backends of `order` in turn; the first that loads and initialises wins. */
export async function pickBackend(order: readonly BackendName[], loader: BackendLoader): Promise<PickResult> {
  const tried: PickResult['tried'] = [];
  for (const name of order) {
    try {
      loader.load(name);
      if (!(await loader.activate(TF_NAMES[name]))) throw new Error(`backend '${TF_NAMES[name]}' failed to initialise`);
      return { name, tried };
    } catch (e) {
      tried.push({ name, error: errorText(e) });
      try {
        loader.reset(name);
      } catch {
        // best effort: a failed clean-up must not hide the reason above
      }
    }
  }
  return { name: null, tried };
}

/**
 * Why the native package `pkg` cannot be loaded without requiring it, or null when it looks usable:
 * not installed (npm skips an optional dependency whose install script fails), an npm alias of
 * another package, or installed without its native addon (install script skipped or interrupted;
 * requiring such a package would fail after it has registered its kernels). `paths` is for tests.
 */
export function nativePackageProblem(pkg: string, paths?: string[]): string | null {
  let manifestPath: string;
  try {
    manifestPath = require.resolve(`${pkg}/package.json`, paths ? { paths } : undefined);
  } catch {
    return `${pkg} is not installed (optional: npm skips it where libtensorflow cannot be downloaded)`;
  }
  let manifest: { name?: string; version?: string; binary?: { module_name?: string; module_path?: string; napi_versions?: number[] } };
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    return `${manifestPath} is unreadable: ${errorText(e)}`;
  }
  if (manifest.name !== pkg) {
    return `${pkg} here is ${manifest.name}@${manifest.version} under another name (an npm alias, as an older package.json's overrides made for danfojs-node), not the native binding`;
  }
  const bin = manifest.binary;
  if (bin?.module_name && bin.module_path) {
    const dir = path.dirname(manifestPath);
    const versions = bin.module_path.includes('{napi_build_version}') ? [...(bin.napi_versions ?? [])].sort((a, b) => b - a) : [0];
    const candidates = versions.map((v) => path.join(dir, bin.module_path!.replace('{napi_build_version}', String(v)), `${bin.module_name}.node`));
    if (candidates.length > 0 && !candidates.some((f) => fs.existsSync(f))) {
      return `${pkg} is installed without its native addon (${path.relative(dir, candidates[0])} is missing: its install script, which downloads libtensorflow, did not run or did not finish)`;
    }
  }
  return null;
}

/** Loads backends from this process's node_modules (or from `paths`, for tests). */
export function nodeLoader(paths?: string[]): BackendLoader {
  const load = (pkg: string) => require(require.resolve(pkg, paths ? { paths } : undefined));
  return {
    load(name) {
      if (name === 'node-gpu' || name === 'node') {
        const problem = nativePackageProblem(PACKAGES[name], paths);
        if (problem) throw new Error(problem);
        load(PACKAGES[name]);
      } else if (name === 'wasm') {
        load(PACKAGES.wasm);
        if (!paths) useThreadedWasm(wasmThreadCount());
      } else if (name === 'webgpu') {
        loadWebgpu(load);
      }
      // cpu: registered by @tensorflow/tfjs itself
    },
    async activate(tfName) {
      if (!(await tf.setBackend(tfName))) return false;
      await tf.ready();
      return true;
    },
    reset(name) {
      if (TF_NAMES[name] !== 'tensorflow') return;
      // A native package registers its kernels before it loads its addon, and its backend factory
      // after: clear both, or the next native package would reuse the failed factory and warn on
      // every kernel it registers again.
      if (tf.findBackendFactory('tensorflow')) tf.removeBackend('tensorflow');
      for (const k of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(k.kernelName, 'tensorflow');
    },
  };
}

let current: BackendInfo | null = null;
let pending: Promise<BackendInfo> | null = null;

function parseForced(value: string | undefined): BackendName | null {
  if (value === undefined || value === '' || value === 'auto') return null;
  const v = value.toLowerCase();
  const alias: Record<string, BackendName> = { gpu: 'node-gpu', 'tfjs-node-gpu': 'node-gpu', tensorflow: 'node', 'tfjs-node': 'node' };
  const name = (alias[v] ?? v) as BackendName;
  if (!BACKEND_ORDER.includes(name) && !FORCED_ONLY.includes(name)) {
    throw new Error(`PROMPTLAB_BACKEND='${value}' is not a backend; valid values: ${[...BACKEND_ORDER, ...FORCED_ONLY].join(', ')} (or auto)`);
  }
  return name;
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

/**
 * Picks and initialises the backend once per process. With `PROMPTLAB_BACKEND` (or `force`) set,
 * only that backend is tried and a failure is an error that says how to get it.
 */
export function initBackend(force?: BackendName | 'auto'): Promise<BackendInfo> {
  if (current) {
    const want = parseForced(force ?? process.env.PROMPTLAB_BACKEND);
    if (want && want !== current.name) {
      throw new Error(`backend already initialised as '${current.name}'; '${want}' was asked for (set PROMPTLAB_BACKEND before the first use)`);
    }
    return Promise.resolve(current);
  }
  if (!pending) pending = select(force).finally(() => { pending = null; });
  return pending;
}

async function select(force?: BackendName | 'auto', loader: BackendLoader = nodeLoader()): Promise<BackendInfo> {
  const forced = parseForced(force ?? process.env.PROMPTLAB_BACKEND);
  const { name, tried } = await pickBackend(forced ? [forced] : BACKEND_ORDER, loader);
  if (name) {
    current = { name, tfBackend: tf.getBackend(), tfjsVersion: tf.version.tfjs, package: PACKAGES[name], forced: !!forced, tried, threads: name === 'wasm' ? wasmThreadsInUse() : null };
    return current;
  }
  if (forced) {
    throw new Error(`PROMPTLAB_BACKEND=${forced} is not available here: ${tried[0].error}. To get it: ${HINTS[forced]}. Unset PROMPTLAB_BACKEND to fall back automatically (order: ${BACKEND_ORDER.join(' > ')}).`);
  }
  throw new Error(`no TensorFlow.js backend could be initialised: ${tried.map((t) => `${t.name}: ${t.error}`).join('; ')}`);
}

/** The backend chosen so far, or null before `initBackend`. */
export function backendInfo(): BackendInfo | null {
  return current;
}

/** Whether a backend's package is there and, for the native ones, usable (for `promptlab doctor`). */
export function packageAvailable(name: BackendName): boolean {
  if (name === 'node-gpu' || name === 'node') return nativePackageProblem(PACKAGES[name]) === null;
  try {
    require.resolve(PACKAGES[name]);
    return true;
  } catch {
    return false;
  }
}

export function backendHint(name: BackendName): string {
  return HINTS[name];
}
