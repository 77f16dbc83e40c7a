// The backend picker without the real native packages: a fake loader for the order and the
// reasons, and fake packages in a temporary node_modules for what npm can leave behind.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ORDER, BackendLoader, BackendName, nativePackageProblem, nodeLoader, pickBackend } from '../../src/backend';

/** A loader whose packages load or throw as `fails` says, recording every call. */
function fakeLoader(fails: Partial<Record<BackendName, string>>, inactive: string[] = []) {
  const calls: string[] = [];
  const loader: BackendLoader = {
    load(name) {
      calls.push(`load ${name}`);
      if (fails[name]) throw new Error(`${fails[name]}\n    at require (node:internal/modules/helpers:182:18)`);
    },
    async activate(tfName) {
      calls.push(`activate ${tfName}`);
      return !inactive.includes(tfName);
    },
    reset(name) {
      calls.push(`reset ${name}`);
    },
  };
  return { loader, calls };
}

const NOT_FOUND = "Cannot find module '@tensorflow/tfjs-node-gpu'";
const ADDON = 'The Node.js native addon module (tfjs_binding.node) can not be found at path: lib/napi-v8/tfjs_binding.node.';

describe('backend: picking order', () => {
  it('is node-gpu, node, wasm, cpu', () => {
    assert.deepStrictEqual([...BACKEND_ORDER], ['node-gpu', 'node', 'wasm', 'cpu']);
  });

  it('takes the first that loads, and tries nothing after it', async () => {
    const { loader, calls } = fakeLoader({});
    assert.deepStrictEqual(await pickBackend(BACKEND_ORDER, loader), { name: 'node-gpu', tried: [] });
    assert.deepStrictEqual(calls, ['load node-gpu', 'activate tensorflow']);
  });

  it('skips a package that throws on require, with the first line of its reason, and cleans up after it', async () => {
    const { loader, calls } = fakeLoader({ 'node-gpu': NOT_FOUND, node: ADDON });
    const r = await pickBackend(BACKEND_ORDER, loader);
    assert.strictEqual(r.name, 'wasm');
    assert.deepStrictEqual(r.tried, [{ name: 'node-gpu', error: NOT_FOUND }, { name: 'node', error: ADDON }]);
    assert.deepStrictEqual(calls, ['load node-gpu', 'reset node-gpu', 'load node', 'reset node', 'load wasm', 'activate wasm']);
  });

  it('takes node before wasm when only node-gpu is missing', async () => {
    const { loader } = fakeLoader({ 'node-gpu': NOT_FOUND });
    assert.deepStrictEqual(await pickBackend(BACKEND_ORDER, loader), { name: 'node', tried: [{ name: 'node-gpu', error: NOT_FOUND }] });
  });

  it('skips a backend that loads but does not initialise', async () => {
    const { loader } = fakeLoader({}, ['tensorflow']);
    const r = await pickBackend(BACKEND_ORDER, loader);
    assert.strictEqual(r.name, 'wasm');
    assert.deepStrictEqual(r.tried.map((t) => t.error), ["backend 'tensorflow' failed to initialise", "backend 'tensorflow' failed to initialise"]);
  });

  it('falls through to cpu, and reports every reason when nothing loads', async () => {
    const { loader } = fakeLoader({ 'node-gpu': 'a', node: 'b', wasm: 'c' });
    assert.deepStrictEqual((await pickBackend(BACKEND_ORDER, loader)).name, 'cpu');
    const none = await pickBackend(BACKEND_ORDER, fakeLoader({ 'node-gpu': 'a', node: 'b', wasm: 'c', cpu: 'd' }).loader);
    assert.deepStrictEqual(none, { name: null, tried: [{ name: 'node-gpu', error: 'a' }, { name: 'node', error: 'b' }, { name: 'wasm', error: 'c' }, { name: 'cpu', error: 'd' }] });
  });
});

describe('backend: native packages as npm can leave them', () => {
  let tmp: string;
  const marker = '__promptlabFakeTfjsNodeLoaded';
  const g = globalThis as Record<string, unknown>;

  /** A fake @tensorflow/tfjs-node under tmp/node_modules; its index.js sets a global, then throws or not. */
  function fakePackage(opts: { name?: string; addon?: boolean; throws?: string }) {
    const dir = path.join(tmp, 'node_modules', '@tensorflow', 'tfjs-node');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
      name: opts.name ?? '@tensorflow/tfjs-node', version: '4.22.0', main: 'index.js',
      binary: { module_name: 'tfjs_binding', module_path: './lib/napi-v{napi_build_version}', napi_versions: [3, 4, 5, 6, 7, 8] },
    }));
    fs.writeFileSync(path.join(dir, 'index.js'), `globalThis.${marker} = true;\n${opts.throws ? `throw new Error(${JSON.stringify(opts.throws)});\n` : ''}`);
    if (opts.addon) {
      fs.mkdirSync(path.join(dir, 'lib', 'napi-v8'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
    }
    delete g[marker];
    for (const k of Object.keys(require.cache)) if (k.startsWith(tmp)) delete require.cache[k];
  }

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-backend-'));
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    delete g[marker];
  });

  it('a package npm skipped (its install script failed) is "not installed", with why', () => {
    assert.match(nativePackageProblem('@tensorflow/tfjs-node-gpu', [tmp])!, /^@tensorflow\/tfjs-node-gpu is not installed \(optional: npm skips it where libtensorflow cannot be downloaded\)$/);
  });

  it('a package without its native addon is refused before it is required', async () => {
    fakePackage({ addon: false });
    assert.match(nativePackageProblem('@tensorflow/tfjs-node', [tmp])!, /is installed without its native addon \(lib\/napi-v8\/tfjs_binding\.node is missing: its install script, which downloads libtensorflow, did not run or did not finish\)/);
    const loader: BackendLoader = { ...nodeLoader([tmp]), activate: async () => true, reset: () => {} };
    const r = await pickBackend(['node', 'cpu'], loader);
    assert.strictEqual(r.name, 'cpu');
    assert.match(r.tried[0].error, /^@tensorflow\/tfjs-node is installed without its native addon/);
    assert.strictEqual(g[marker], undefined, 'the half-installed package was required');
  });

  it('a package whose require throws (libtensorflow missing) is skipped with that reason', async () => {
    fakePackage({ addon: true, throws: 'libtensorflow.so.2: cannot open shared object file: No such file or directory' });
    assert.strictEqual(nativePackageProblem('@tensorflow/tfjs-node', [tmp]), null);
    const loader: BackendLoader = { ...nodeLoader([tmp]), activate: async () => true, reset: () => {} };
    const r = await pickBackend(['node-gpu', 'node', 'cpu'], loader);
    assert.strictEqual(r.name, 'cpu');
    assert.deepStrictEqual(r.tried.map((t) => t.name), ['node-gpu', 'node']);
    assert.strictEqual(r.tried[1].error, 'libtensorflow.so.2: cannot open shared object file: No such file or directory');
    assert.strictEqual(g[marker], true);
  });

  it('an npm alias in its place (an older package.json mapped it to @tensorflow/tfjs) is not the native binding', () => {
    fakePackage({ name: '@tensorflow/tfjs', addon: false });
    assert.match(nativePackageProblem('@tensorflow/tfjs-node', [tmp])!, /^@tensorflow\/tfjs-node here is @tensorflow\/tfjs@4\.22\.0 under another name/);
  });

  it("reset clears what a failed native package registered under 'tensorflow'", function () {
    if (tf.getBackend() === 'tensorflow') this.skip(); // the native backend is in use in this process
    tf.registerBackend('tensorflow', () => { throw new Error('never made'); });
    tf.registerKernel({ kernelName: 'PromptlabFakeKernel', backendName: 'tensorflow', kernelFunc: () => [] as never });
    nodeLoader().reset('node');
    assert.strictEqual(tf.findBackendFactory('tensorflow'), null);
    assert.deepStrictEqual(tf.getKernelsForBackend('tensorflow'), []);
  });
});
