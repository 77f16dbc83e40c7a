// danfojs-node depends on @tensorflow/tfjs-node ^3.13. package.json `overrides` point that one
// dependency at src/backend/danfojs-tfjs (the project's @tensorflow/tfjs, no native code), so that the
// root's @tensorflow/tfjs-node can be the real optional package that the backend picker tries.
import * as assert from 'assert';
import * as path from 'path';
import { backendHint, nativePackageProblem, packageAvailable } from '../../src/backend';
import { doctorChecks } from '../../src/cli/doctor';

const ROOT = path.resolve(__dirname, '..', '..');

function installedName(pkg: string): string | null {
  try {
    return (require(`${pkg}/package.json`) as { name: string }).name;
  } catch {
    return null;
  }
}

describe('backend: @tensorflow/tfjs-node and danfojs-node', () => {
  it("danfojs-node gets the project's @tensorflow/tfjs through src/backend/danfojs-tfjs", () => {
    const danfo = path.dirname(require.resolve('danfojs-node/package.json'));
    const target = require.resolve('@tensorflow/tfjs-node', { paths: [danfo] });
    assert.strictEqual(path.relative(ROOT, target), path.join('src', 'backend', 'danfojs-tfjs', 'index.js'),
      `danfojs-node's @tensorflow/tfjs-node is ${target}: node_modules predates package.json's danfojs-node override (run npm ci)`);
    assert.strictEqual(require(target), require('@tensorflow/tfjs'));
    assert.strictEqual(typeof (require('danfojs-node') as { DataFrame: unknown }).DataFrame, 'function');
  });

  it('the root @tensorflow/tfjs-node is the real package or absent, and the doctor says which, with what to do', async function () {
    const name = installedName('@tensorflow/tfjs-node');
    assert.ok(name === null || name === '@tensorflow/tfjs-node', `the root @tensorflow/tfjs-node is ${name} (run npm ci)`);
    const problem = nativePackageProblem('@tensorflow/tfjs-node');
    assert.strictEqual(packageAvailable('node'), problem === null);
    const checks = await doctorChecks();
    const node = checks.find((c) => c.name.trim() === 'node' && c.detail.includes('installed'))!;
    if (problem === null) {
      assert.match(node.detail, /^installed/);
      return;
    }
    assert.strictEqual(node.detail, 'not installed');
    assert.strictEqual(node.fix, backendHint('node'));
    assert.match(node.fix!, /optional dependency/);
    const backend = checks.find((c) => c.name === 'backend')!;
    if (!/^(wasm|cpu) /.test(backend.detail) || backend.detail.includes('forced by PROMPTLAB_BACKEND')) return; // node was not tried
    assert.ok(backend.detail.includes(`node: ${problem}`), backend.detail);
  });
});
