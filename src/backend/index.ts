// Backend selection: tfjs-node-gpu (CUDA) if it loads, else tfjs-node, else WASM, else the JS CPU
// backend. PROMPTLAB_BACKEND forces one and fails loudly when it is not available.
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'node-gpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['node-gpu', 'node', 'wasm', 'cpu'];

export interface BackendInfo {
  name: BackendName;      // promptlab's name for it
  tfBackend: string;      // tf.getBackend()
  tfjsVersion: string;
  package: string;        // the npm package that provides it
  forced: boolean;        // chosen by PROMPTLAB_BACKEND
  tried: { name: BackendName; error: string }[]; // what failed before it
}

const PACKAGES: Record<BackendName, string> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

const HINTS: Record<BackendName, string> = {
  'node-gpu': 'npm install @tensorflow/tfjs-node-gpu@4.22.0 (needs an NVIDIA driver > 450, CUDA 11.2 and cuDNN 8.1; see environment.md)',
  node: 'remove the "@tensorflow/tfjs-node" entry of package.json "overrides" (it maps the package to @tensorflow/tfjs for danfojs-node), then npm install @tensorflow/tfjs-node@4.22.0 (its install downloads libtensorflow, which needs network access)',
  wasm: 'npm ci (the WASM backend is a regular dependency)',
  cpu: 'npm ci',
};

let current: BackendInfo | null = null;
let pending: Promise<BackendInfo> | null = null;

/** Loads one backend and makes it the active one; throws with the reason when it cannot. */
async function tryBackend(name: BackendName): Promise<void> {
  switch (name) {
    case 'node-gpu':
    case 'node': {
      // Both packages register the native backend under the name 'tensorflow'.
      require.resolve(PACKAGES[name]); // "Cannot find module" when it is not installed
      if (!isRealPackage(PACKAGES[name])) throw new Error(`${PACKAGES[name]} here is an alias of @tensorflow/tfjs (package.json overrides map it so for danfojs-node), not the native binding`);
      require(PACKAGES[name]);
      if (!(await tf.setBackend('tensorflow'))) throw new Error("backend 'tensorflow' failed to initialise");
      return;
    }
    case 'wasm': {
      require(PACKAGES.wasm);
      if (!(await tf.setBackend('wasm'))) throw new Error("backend 'wasm' failed to initialise");
      return;
    }
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error("backend 'cpu' failed to initialise");
      return;
  }
}

function parseForced(value: string | undefined): BackendName | null {
  if (value === undefined || value === '' || value === 'auto') return null;
  const v = value.toLowerCase();
  const alias: Record<string, BackendName> = { gpu: 'node-gpu', 'tfjs-node-gpu': 'node-gpu', tensorflow: 'node', 'tfjs-node': 'node' };
  const name = (alias[v] ?? v) as BackendName;
  if (!BACKEND_ORDER.includes(name)) {
    throw new Error(`PROMPTLAB_BACKEND='${value}' is not a backend; valid values: ${BACKEND_ORDER.join(', ')} (or auto)`);
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

async function select(force?: BackendName | 'auto'): Promise<BackendInfo> {
  const forced = parseForced(force ?? process.env.PROMPTLAB_BACKEND);
  const order = forced ? [forced] : BACKEND_ORDER;
  const tried: BackendInfo['tried'] = [];
  for (const name of order) {
    try {
      await tryBackend(name);
      await tf.ready();
      current = { name, tfBackend: tf.getBackend(), tfjsVersion: tf.version.tfjs, package: PACKAGES[name], forced: !!forced, tried };
      return current;
    } catch (e) {
      tried.push({ name, error: errorText(e) });
      if (forced) {
        throw new Error(`PROMPTLAB_BACKEND=${forced} is not available here: ${errorText(e)}. To get it: ${HINTS[forced]}. Unset PROMPTLAB_BACKEND to fall back automatically (order: ${BACKEND_ORDER.join(' > ')}).`);
      }
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised: ${tried.map((t) => `${t.name}: ${t.error}`).join('; ')}`);
}

/** The backend chosen so far, or null before `initBackend`. */
export function backendInfo(): BackendInfo | null {
  return current;
}

/** Whether a backend package can be resolved at all (for `promptlab doctor`). */
/** Whether `pkg` resolves to the package of that name (not an npm alias of another one). */
function isRealPackage(pkg: string): boolean {
  try {
    return (require(`${pkg}/package.json`) as { name?: string }).name === pkg;
  } catch {
    return false;
  }
}

export function packageAvailable(name: BackendName): boolean {
  try {
    require.resolve(PACKAGES[name]);
    return isRealPackage(PACKAGES[name]);
  } catch {
    return false;
  }
}

export function backendHint(name: BackendName): string {
  return HINTS[name];
}
