// Every notebook runs top to bottom on the promptlab tslab kernel (quick mode), through
// scripts/run-notebooks.py as `npm run test:notebooks` runs them. Skipped where Debian's Jupyter is
// missing. Also checks the kernel and the runner themselves on test/fixtures/notebooks/smoke.ipynb.
import * as assert from 'assert';
import { type ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const RUNNER = path.join(ROOT, 'scripts', 'run-notebooks.py');
const PYTHON = process.env.PROMPTLAB_PYTHON || '/usr/bin/python3';
const SMOKE = path.join(ROOT, 'test', 'fixtures', 'notebooks', 'smoke.ipynb');
const TEST_TIMEOUT_MS = 20 * 60 * 1000; // notebook 03 (DenseCLIP, fine-tuning the backbone) passed 10 min on a slower host
const INSTALL = 'apt-get install jupyter-notebook python3-nbconvert python3-nbclient jupyter-client (see environment.md)';

/** Why the notebooks cannot run here, or null when they can. */
function jupyterMissing(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import jupyter_client, nbclient, nbformat'], { encoding: 'utf8', timeout: 60000 });
  if (r.error) return `${PYTHON} cannot run (${r.error.message})`;
  if (r.status !== 0) return `${PYTHON} cannot import jupyter_client, nbclient and nbformat: ${(r.stderr.trim().split('\n').pop() ?? '').trim()}`;
  return null;
}

/** How many notebooks run at once: PROMPTLAB_NOTEBOOK_JOBS, else 2 (1 on a one-core machine). */
function notebookJobs(): number {
  const v = process.env.PROMPTLAB_NOTEBOOK_JOBS;
  if (v === undefined || v === '') return Math.min(2, Math.max(1, os.cpus().length));
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`PROMPTLAB_NOTEBOOK_JOBS must be a positive integer, got "${v}"`);
  return n;
}

/** The runners still running, stopped when the suite ends. */
const children = new Set<ChildProcess>();

function stopNotebooks(): void {
  for (const c of children) c.kill('SIGTERM');
}

/** Runs the runner; resolves with its exit code and its stdout and stderr together, in order. */
function runNotebooks(args: string[], killAfterMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.PROMPTLAB_QUICK; // the runner sets it (quick mode) itself
    const child = spawn(PYTHON, [RUNNER, ...args], { cwd: ROOT, env });
    children.add(child);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n[test] killed after ${killAfterMs / 1000} s\n`;
      child.kill('SIGTERM');
    }, killAfterMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: null, output: output + `\n[test] ${e.message}\n` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, output });
    });
  });
}

function lastLine(output: string): string {
  return output.trim().split('\n').pop() ?? '';
}

describe('notebooks (executed on the promptlab kernel)', function () {
  this.timeout(TEST_TIMEOUT_MS + 60000);
  let missing: string | null = null;

  before(function () {
    missing = jupyterMissing();
    if (missing) console.log(`      notebooks skipped: ${missing}.\n      Install Jupyter: ${INSTALL}`);
  });

  function needJupyter(ctx: Mocha.Context) {
    if (missing) ctx.skip();
  }

  it('the kernel starts at the repository root and runs the smoke notebook', async function () {
    needJupyter(this);
    const r = await runNotebooks([SMOKE], TEST_TIMEOUT_MS);
    assert.strictEqual(r.code, 0, `the runner failed on ${path.relative(ROOT, SMOKE)}:\n${r.output}`);
    assert.strictEqual(lastLine(r.output), '1 passed, 0 failed', r.output);
  });

  it("a failing cell is reported with its cell number, source and real message", async function () {
    needJupyter(this);
    // The notebook lives outside the repository: the kernel must still start at the repository root.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-nb-'));
    try {
      const nb = {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: 'promptlab', display_name: 'TypeScript (promptlab)', language: 'typescript' } },
        cells: [
          { cell_type: 'markdown', id: 'a', metadata: {}, source: '# failing on purpose' },
          { cell_type: 'code', id: 'b', metadata: {}, execution_count: null, outputs: [], source: "import * as fs from 'fs';\nconsole.log(fs.existsSync('package.json'));" },
          { cell_type: 'code', id: 'c', metadata: {}, execution_count: null, outputs: [], source: "const wanted = 'quick';\nthrow new Error(`deliberate failure (${wanted}, ${process.env.PROMPTLAB_QUICK})`);" },
          { cell_type: 'code', id: 'd', metadata: {}, execution_count: null, outputs: [], source: "console.log('never runs');" },
        ],
      };
      const file = path.join(tmp, 'failing.ipynb');
      fs.writeFileSync(file, JSON.stringify(nb, null, 1));
      const before = fs.readFileSync(file, 'utf8');
      const r = await runNotebooks([file], TEST_TIMEOUT_MS);
      assert.strictEqual(r.code, 1, r.output);
      assert.match(r.output, /FAILED at cell 3 of 4 \(code cell 2\)/, r.output);
      assert.match(r.output, /const wanted = 'quick';/, r.output);
      assert.match(r.output, /Error: deliberate failure \(quick, 1\)/, r.output);
      assert.strictEqual(lastLine(r.output), '0 passed, 1 failed', r.output);
      assert.strictEqual(fs.readFileSync(file, 'utf8'), before, 'without --write the runner must not write the notebook');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a runner stopped with SIGTERM (a timeout) shuts its kernel down and says so', async function () {
    needJupyter(this);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-nb-'));
    try {
      const pidFile = path.join(tmp, 'kernel.pid');
      const code = (id: string, source: string) => ({ cell_type: 'code', id, metadata: {}, execution_count: null, outputs: [], source });
      const nb = {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: 'promptlab', display_name: 'TypeScript (promptlab)', language: 'typescript' } },
        cells: [
          code('a', `import * as fs from 'fs';\nfs.writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));`),
          code('b', 'await new Promise((r) => setTimeout(r, 600000));'),
        ],
      };
      const file = path.join(tmp, 'sleepy.ipynb');
      fs.writeFileSync(file, JSON.stringify(nb, null, 1));
      const child = spawn(PYTHON, [RUNNER, file], { cwd: ROOT });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      const deadline = Date.now() + 120000;
      while (!fs.existsSync(pidFile) || !fs.readFileSync(pidFile, 'utf8')) {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          assert.fail(`the kernel did not run the first cell in 120 s:\n${output}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      const kernelPid = Number(fs.readFileSync(pidFile, 'utf8'));
      child.kill('SIGTERM');
      assert.strictEqual(await closed, 130, output);
      assert.match(output, /stopped \(SIGTERM\); the kernel was shut down/, output);
      const alive = () => { try { process.kill(kernelPid, 0); return true; } catch { return false; } };
      for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(!alive(), `the kernel (pid ${kernelPid}) is still running after its runner stopped`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  // The notebooks run `jobs` at a time: their training is mostly on the kernel's one thread, so two
  // at once on two cores take little more than the longer one. Each test starts its notebook, and the
  // ones after it while fewer than `jobs` run, then waits for its own; a notebook still running when
  // the suite ends (a --grep that picked one) is stopped. PROMPTLAB_NOTEBOOK_JOBS=1: one at a time.
  const dir = path.join(ROOT, 'notebooks');
  const notebooks = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort() : [];
  const jobs = notebookJobs();
  const started = new Map<string, ReturnType<typeof runNotebooks>>();
  let running = 0;
  let from = notebooks.length; // the first notebook whose test was reached
  const fill = () => {
    for (const name of notebooks.slice(from)) {
      if (running >= jobs) return;
      if (started.has(name)) continue;
      running++;
      started.set(name, runNotebooks([path.join(dir, name)], TEST_TIMEOUT_MS).finally(() => {
        running--;
        fill();
      }));
    }
  };
  after(stopNotebooks);
  for (const name of notebooks) {
    it(`notebooks/${name} runs (quick mode)`, async function () {
      needJupyter(this);
      from = Math.min(from, notebooks.indexOf(name));
      fill();
      const r = await (started.get(name) ?? runNotebooks([path.join(dir, name)], TEST_TIMEOUT_MS));
      assert.strictEqual(r.code, 0, `notebooks/${name} failed:\n${r.output}`);
      assert.strictEqual(lastLine(r.output), '1 passed, 0 failed', r.output);
    });
  }
});
