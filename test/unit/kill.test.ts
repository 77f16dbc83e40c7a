// Kills (SIGKILL) at arbitrary moments of `repro` (zero-shot, and prompt training), of pretraining and of figure export: nothing half-written is ever
// left under a real name, and the next run completes with the same numbers.
import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decodeImage } from '../../src/clip/image';
import { readResults } from '../../src/repro/record';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'promptlab.js');

/** Runs promptlab and kills it after `ms`; resolves once it is gone. */
function killAfter(args: string[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', () => { clearTimeout(timer); resolve(); });
  });
}

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 240000 });
  assert.strictEqual(r.status, 0, r.stderr);
}

const metrics = (dir: string) => readResults(dir).rows.map((r) => [r.method, r.dataset, r.split, r.metric, r.seed, r.value]);
const temporaries = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }) as string[] : []).filter((f) => f.includes('.tmp-'));

describe('kills during repro and figure export', function () {
  this.timeout(600000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-kill-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const repro = (out: string) => ['repro', 'zeroshot', '--quick', '--seeds', '0', '--datasets', 'world-shapes,world-patterns', '--out', out];

  it('repro: a run killed at any moment leaves no results or whole ones, and the rerun gives the same numbers', async () => {
    const straight = path.join(tmp, 'straight');
    run(repro(straight));
    const reference = metrics(straight);
    for (const ms of [800, 2500, 4500, 7000]) {
      const out = path.join(tmp, `killed-${ms}`);
      await killAfter(repro(out), ms);
      // what is there is whole: results.json and the records parse, or are absent
      if (fs.existsSync(path.join(out, 'results.json'))) assert.deepStrictEqual(metrics(out), reference, `after a kill at ${ms} ms`);
      run(repro(out));
      assert.deepStrictEqual(metrics(out), reference, `rerun after a kill at ${ms} ms`);
      assert.deepStrictEqual(temporaries(out), [], 'no temporary file left');
    }
  });

  it('prompt training: base2new killed while CoOp and CoCoOp train leaves no results or whole ones, and the rerun gives the same numbers', async () => {
    const b2n = (out: string) => ['repro', 'base2new', '--quick', '--datasets', 'world-shapes', '--out', out];
    const straight = path.join(tmp, 'b2n-straight');
    const t0 = Date.now();
    run(b2n(straight));
    const took = Date.now() - t0;
    const reference = metrics(straight);
    for (const share of [0.3, 0.6, 0.9]) {
      const out = path.join(tmp, `b2n-killed-${share}`);
      await killAfter(b2n(out), Math.round(share * took));
      if (fs.existsSync(path.join(out, 'results.json'))) assert.deepStrictEqual(metrics(out), reference, `after a kill at ${share} of the run`);
      run(b2n(out));
      assert.deepStrictEqual(metrics(out), reference, `rerun after a kill at ${share} of the run`);
      assert.deepStrictEqual(temporaries(out), [], 'no temporary file left');
    }
  });

  it('pretraining: killed with SIGKILL after a checkpoint, the same command resumes to the same weights, byte for byte', async () => {
    const pre = (dir: string) => ['pretrain', '--steps', '4', '--batch-size', '8', '--bn-group', '8', '--warmup', '1', '--checkpoint-every', '1', '--seed', '3', '--out', path.join(dir, 'run'), '--export', path.join(dir, 'model')];
    const straight = path.join(tmp, 'pre-straight');
    run(pre(straight));
    const killed = path.join(tmp, 'pre-killed');
    // kill as soon as a checkpoint past step 1 is there, mid-run
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...pre(killed)], { stdio: 'ignore' });
      const log = path.join(killed, 'run', 'log.jsonl');
      const poll = setInterval(() => {
        const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).length : 0;
        if (lines >= 2) child.kill('SIGKILL');
      }, 20);
      child.on('exit', () => { clearInterval(poll); resolve(); });
    });
    assert.ok(!fs.existsSync(path.join(killed, 'model', 'model.safetensors')), 'the kill came before the export');
    run(pre(killed));
    const bytes = (dir: string) => fs.readFileSync(path.join(dir, 'model', 'model.safetensors'));
    assert.ok(bytes(killed).equals(bytes(straight)), 'the resumed run exports the same weights as the straight one');
    const steps = fs.readFileSync(path.join(killed, 'run', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepStrictEqual(steps, [1, 2, 3, 4], 'one log row per step, none repeated by the resume');
    assert.deepStrictEqual(temporaries(killed), [], 'no temporary file left');
  });

  it('plot: figures killed mid-export are whole or absent; the rerun writes them all', async () => {
    const dir = path.join(tmp, 'straight');
    for (const ms of [1500, 3000]) {
      for (const f of fs.readdirSync(dir)) if (/\.(svg|png|html)$/.test(f)) fs.rmSync(path.join(dir, f));
      await killAfter(['plot', dir], ms);
      for (const f of fs.readdirSync(dir)) {
        const file = path.join(dir, f);
        if (f.endsWith('.svg')) assert.match(fs.readFileSync(file, 'utf8'), /<\/svg>\s*$/, `${f} whole after a kill at ${ms} ms`);
        if (f.endsWith('.png')) decodeImage(fs.readFileSync(file), file);
        if (f.endsWith('.html')) assert.match(fs.readFileSync(file, 'utf8'), /<\/html>\s*$/, `${f} whole after a kill at ${ms} ms`);
      }
      run(['plot', dir]);
      assert.ok(fs.readdirSync(dir).some((f) => f.endsWith('.html')));
      assert.deepStrictEqual(temporaries(dir), [], 'no temporary file left');
    }
  });
});
