// The threaded WASM build (src/backend/wasm-threads.ts): its thread count, and that 1, 2 and 3
// threads give the same bits for CLIP's towers and a gradient through the text tower.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { wasmThreadCount, MAX_WASM_THREADS, backendInfo } from '../../src/backend';

const TSX = path.resolve(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
const CHILD = path.resolve(__dirname, '..', 'helpers', 'wasm-threads-child.ts');

interface ChildResult { backend: string; threads: number | null; hashes: Record<string, string>; stderr: string }

function run(threads: number, extraEnv: Record<string, string> = {}): ChildResult {
  const env = { ...process.env, PROMPTLAB_WASM_THREADS: String(threads), PROMPTLAB_BACKEND: 'wasm', ...extraEnv };
  const r = spawnSync(TSX, [CHILD], { encoding: 'utf8', env, timeout: 120000 });
  assert.equal(r.status, 0, `child on ${threads} thread(s) failed: ${r.stderr}`);
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()!), stderr: r.stderr };
}

describe('threaded WASM backend', () => {
  it('reads PROMPTLAB_WASM_THREADS on the main thread (default 1) and is 1 in a worker thread', () => {
    assert.equal(wasmThreadCount('3', true), 3);
    assert.equal(wasmThreadCount(undefined, true), 1);
    assert.equal(wasmThreadCount('', true), 1);
    assert.equal(wasmThreadCount('3', false), 1);
    for (const bad of ['0', '5', '1.5', 'two', '-1']) {
      assert.throws(() => wasmThreadCount(bad, true), new RegExp(`PROMPTLAB_WASM_THREADS='${bad.replace('.', '\\.')}' must be an integer from 1 to ${MAX_WASM_THREADS}`));
    }
  });

  it('this process reports the threads its WASM backend runs on', function () {
    const info = backendInfo()!;
    if (info.name !== 'wasm') this.skip(); // a native backend is in use (its own threads)
    assert.equal(info.threads, wasmThreadCount());
  });

  it('gives the same bits on 1, 2 and 3 threads (ViT, ModifiedResNet, text tower and its gradient)', function () {
    this.timeout(360000);
    const one = run(1);
    assert.equal(one.backend, 'wasm');
    assert.equal(one.threads, 1);
    assert.equal(Object.keys(one.hashes).length, 6);
    for (const t of [2, 3]) {
      const many = run(t);
      assert.equal(many.threads, t, `asked for ${t} threads`);
      assert.deepEqual(many.hashes, one.hashes, `${t} threads differ from 1`);
    }
  });

  it('falls back to the single-threaded build, with a warning, when the threaded one cannot start', function () {
    this.timeout(240000);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-wasm-threads-'));
    try {
      const first = run(2, { TMPDIR: tmp });
      assert.equal(first.threads, 2);
      // the pthread worker script it wrote, replaced by a folder of that name: unreadable next time
      const script = fs.readdirSync(tmp).find((f) => f.startsWith('promptlab-') && f.endsWith('.worker.js'));
      assert.ok(script, `no worker script in ${tmp}: ${fs.readdirSync(tmp).join(', ')}`);
      fs.rmSync(path.join(tmp, script));
      fs.mkdirSync(path.join(tmp, script));
      const fallen = run(2, { TMPDIR: tmp });
      assert.equal(fallen.backend, 'wasm');
      assert.equal(fallen.threads, 1);
      assert.match(fallen.stderr, /PROMPTLAB_WASM_THREADS=2: tfjs's threaded WASM build did not start \(.*\); using its single-threaded build/);
      assert.deepEqual(fallen.hashes, first.hashes);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
