// TensorFlow.js's WebGPU backend in Node (src/backend/webgpu-node.ts): synchronous reads go through
// a mappable copy and Node's event loop, also inside a promise's continuation (where waiting for a
// promise would deadlock), and give the values the CPU computes. Environment-conditional: it needs
// webgpu, @tensorflow/tfjs-backend-webgpu and deasync (not dependencies of promptlab;
// scripts/gpu-check.sh installs them) and a Vulkan adapter (a GPU's driver, or Mesa's lavapipe).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');

function missingPackage(): string | null {
  for (const p of ['webgpu', '@tensorflow/tfjs-backend-webgpu', 'deasync']) {
    try {
      require.resolve(`${p}/package.json`, { paths: [ROOT] });
    } catch {
      return p;
    }
  }
  return null;
}

// In a child process (a process has one backend): reads after an await, i.e. in a continuation.
const CHILD = `
const tf = require('@tensorflow/tfjs');
const { initBackend } = require('./src/backend');
(async () => {
  try { await initBackend('webgpu'); } catch (e) { console.log(JSON.stringify({ unavailable: String(e.message).split('\\n')[0] })); return; }
  await new Promise((r) => setTimeout(r, 1));
  const a = Array.from({ length: 64 * 48 }, (_, i) => Math.sin(i) * 3);
  const w = Array.from({ length: 48 * 32 }, (_, i) => Math.cos(i * 0.7));
  const ta = tf.tensor2d(a, [64, 48]), tw = tf.tensor2d(w, [48, 32]);
  const plus = Array.from(tf.add(ta, 1).dataSync());
  const prod = Array.from(tf.matMul(ta, tw).dataSync());
  const arg = Array.from(tf.argMax(ta, 1).dataSync());
  const loss = await Promise.resolve().then(() => tf.sum(tf.square(ta)).dataSync()[0]);
  console.log(JSON.stringify({ backend: tf.getBackend(), a, w, plus, prod, arg, loss }));
})();
`;

describe('WebGPU in Node: synchronous reads (src/backend/webgpu-node.ts)', () => {
  let out: { unavailable?: string; backend: string; a: number[]; w: number[]; plus: number[]; prod: number[]; arg: number[]; loss: number };

  before(function () {
    if (missingPackage()) this.skip(); // environment-conditional: the WebGPU packages are not installed here
    const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', CHILD], {
      cwd: ROOT, encoding: 'utf8', timeout: 120000, env: { ...process.env, PROMPTLAB_BACKEND: 'webgpu', XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    });
    assert.strictEqual(r.status, 0, `the WebGPU child process failed (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(-2000)}`);
    out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    if (out.unavailable) this.skip(); // environment-conditional: no Vulkan adapter (no GPU driver, no lavapipe)
  });

  it('runs on webgpu and an elementwise op reads back exactly what float32 gives', () => {
    assert.strictEqual(out.backend, 'webgpu');
    const f = Float32Array.from(out.a);
    out.plus.forEach((v, i) => assert.strictEqual(v, Math.fround(f[i] + 1), `a + 1 at ${i}`));
  });

  it('a matMul, an int32 argMax and a read inside a promise continuation agree with the CPU', () => {
    const a = Float32Array.from(out.a);
    const w = Float32Array.from(out.w);
    let num = 0;
    let den = 0;
    for (let i = 0; i < 64; i++) {
      for (let j = 0; j < 32; j++) {
        let s = 0;
        for (let k = 0; k < 48; k++) s += a[i * 48 + k] * w[k * 32 + j];
        num += (out.prod[i * 32 + j] - s) ** 2;
        den += s * s;
      }
      let best = 0;
      for (let k = 1; k < 48; k++) if (a[i * 48 + k] > a[i * 48 + best]) best = k;
      assert.strictEqual(out.arg[i], best, `argMax of row ${i}`);
    }
    assert.ok(Math.sqrt(num / den) < 1e-6, `matMul relative error ${Math.sqrt(num / den)}`);
    const sq = a.reduce((s, v) => s + v * v, 0);
    assert.ok(Math.abs(out.loss - sq) / sq < 1e-6, `sum of squares ${out.loss} vs ${sq}`);
  });
});
