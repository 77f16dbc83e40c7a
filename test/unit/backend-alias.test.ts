// danfojs-node depends on @tensorflow/tfjs-node, which package.json `overrides` map to
// @tensorflow/tfjs (no native code). That alias must not pass for the native backend.
import * as assert from 'assert';
import { packageAvailable } from '../../src/backend';
import { doctorChecks } from '../../src/cli/doctor';

function installedName(pkg: string): string | null {
  try {
    return (require(`${pkg}/package.json`) as { name: string }).name;
  } catch {
    return null;
  }
}

describe('backend: an aliased @tensorflow/tfjs-node', () => {
  it('is reported as not installed, with the reason, instead of passing for the native binding', async function () {
    const name = installedName('@tensorflow/tfjs-node');
    if (name === '@tensorflow/tfjs-node') {
      // the real native package is installed (its override removed): nothing to check here
      assert.strictEqual(packageAvailable('node'), true);
      return;
    }
    assert.strictEqual(name, '@tensorflow/tfjs', 'npm ci installs the alias for danfojs-node');
    assert.strictEqual(packageAvailable('node'), false);
    const checks = await doctorChecks();
    const backend = checks.find((c) => c.name === 'backend')!;
    assert.match(backend.detail, /node: @tensorflow\/tfjs-node here is an alias of @tensorflow\/tfjs/);
    const node = checks.find((c) => c.name.trim() === 'node' && c.detail.includes('installed'))!;
    assert.strictEqual(node.detail, 'not installed');
    assert.match(node.fix!, /overrides/);
  });
});
