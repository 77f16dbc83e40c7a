// promptlab sweep --slurm on a real Slurm: the job-array script run by hand, then the rest of the grid
// submitted through sbatch (--wait), collected into the same rows as the same grid swept locally.
// Needs a cluster that answers `sinfo` (CI starts one with scripts/slurm-single-node.sh start); the
// Slurm test skips, saying why, where none answers.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readResults } from '../../src/repro/record';
import { slurmAvailable } from '../../src/sweep/slurm';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'promptlab.js');

function cli(args: string[], timeout = 480000) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('sweep on Slurm', function () {
  this.timeout(900000);
  let tmp = '';
  let dir = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-slurm-'));
    dir = path.join(tmp, 'slurm');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const grid = 'seeds=1,2;datasets=world-patterns';
  const slurm = slurmAvailable();

  it('--no-submit writes grid.json and a job-array script that runs one grid point by hand', () => {
    const w = cli(['sweep', 'zeroshot', '--grid', grid, '--quick', '--slurm', '--no-submit', '--time', '00:20:00', '--out', dir]);
    assert.strictEqual(w.status, 0, w.out);
    assert.match(w.out, /2 runs; wrote .*grid\.json and .*sweep\.sbatch; submit with: sbatch /);
    const script = path.join(dir, 'sweep.sbatch');
    const text = fs.readFileSync(script, 'utf8');
    assert.match(text, /^#SBATCH --array=0-1$/m);
    assert.match(text, /^#SBATCH --time=00:20:00$/m);
    // array task 0, without Slurm: runs grid.json's runs[0] into its folder, with its log
    const r = spawnSync('bash', [script], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '0' }, encoding: 'utf8', timeout: 300000 });
    assert.strictEqual(r.status, 0, `${r.stdout}${r.stderr}`);
    const run = path.join(dir, 'runs', 'seed1_world-patterns');
    assert.deepStrictEqual(readResults(run).config.seeds, [1]);
    assert.match(fs.readFileSync(path.join(run, 'log.txt'), 'utf8'), /promptlab sweep: run seed1_world-patterns exited with code 0 \(array task 0 on /);
  });

  it(`submits the rest of the grid through sbatch and collects the same rows as a local sweep${slurm.ok ? '' : ` (skipped: ${slurm.reason})`}`, function () {
    if (!slurm.ok) this.skip();
    const s = cli(['sweep', 'zeroshot', '--grid', grid, '--quick', '--slurm', '--wait', '--time', '00:20:00', '--out', dir]);
    assert.strictEqual(s.status, 0, s.out);
    assert.match(s.out, /1 of 2 runs finished earlier \(valid run records\): not submitted/);
    assert.match(s.out, /sweep: submitted job (\d+): array 1 \(1 run\)/);
    assert.match(s.out, /sweep: job \d+: 2 of 2 runs finished, 0 running, 0 pending/);
    assert.match(s.out, /sweep: 2 of 2 runs finished \(1 now, 1 earlier\), 0 failed/);
    const jobId = /submitted job (\d+)/.exec(s.out)![1];
    assert.ok(fs.existsSync(path.join(dir, 'slurm', `${jobId}_1.out`)), "Slurm's own log of the task");

    const local = path.join(tmp, 'local');
    const l = cli(['sweep', 'zeroshot', '--grid', grid, '--quick', '--out', local]);
    assert.strictEqual(l.status, 0, l.out);
    const fromSlurm = path.join(tmp, 'slurm-collected');
    const fromLocal = path.join(tmp, 'local-collected');
    for (const [from, to] of [[dir, fromSlurm], [local, fromLocal]]) {
      const c = cli(['collect', from, '--out', to]);
      assert.strictEqual(c.status, 0, c.out);
    }
    const a = readResults(fromSlurm);
    const b = readResults(fromLocal);
    assert.strictEqual(a.rows.length, 4);
    assert.deepStrictEqual(a.rows, b.rows);
    assert.deepStrictEqual(a.summary, b.summary);
  });
});
