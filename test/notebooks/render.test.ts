/// <reference lib="dom" />
// Every committed notebook opened as a user opens it: the classic Jupyter Notebook that `npm run
// notebooks` starts (Debian's), the notebook untrusted (fresh from git) and offline, in headless
// Chromium. Each figure output of the file must show as a loaded image; none may be an empty box.
// Skipped where Jupyter or Chromium is missing (CI installs both).
import * as assert from 'assert';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CHROMIUM_ARGS, findChromium } from '../../src/viz/chromium';

const ROOT = path.resolve(__dirname, '..', '..');
const NOTEBOOKS = path.join(ROOT, 'notebooks');
const JUPYTER = '/usr/bin/jupyter-notebook';

interface Output { output_type: string; data?: Record<string, unknown> }
interface Cell { cell_type: string; outputs?: Output[] }

/** The figure outputs of a notebook file: outputs that carry a plotly figure or a PNG. */
function figureOutputs(file: string): number {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Cell[] };
  let n = 0;
  for (const c of nb.cells) for (const o of c.outputs ?? []) if (o.data && ('application/vnd.plotly.v1+json' in o.data || 'image/png' in o.data)) n++;
  return n;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForServer(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api`);
      if (r.ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > until) throw new Error(`the Jupyter server did not answer on port ${port} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('notebooks in the browser: every committed figure shows in Jupyter (untrusted, offline)', function () {
  this.timeout(300000);
  const missing = !fs.existsSync(JUPYTER) ? `${JUPYTER} is missing (apt-get install jupyter-notebook)` : !findChromium() ? 'no Chromium (apt-get install chromium)' : null;
  let server: ChildProcess | null = null;
  let home = '';
  let port = 0;
  let context: { newPage(): Promise<any>; close(): Promise<void> } | null = null;

  before(async function () {
    if (missing) {
      console.log(`      browser checks skipped: ${missing}`);
      return;
    }
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-jupyter-'));
    port = await freePort();
    // a fresh HOME: no trust database, so every notebook opens untrusted, as from a fresh clone
    server = spawn(JUPYTER, ['--no-browser', `--port=${port}`, '--ip=127.0.0.1', `--notebook-dir=${NOTEBOOKS}`, '--NotebookApp.token=', '--NotebookApp.password=', '--allow-root'], {
      env: { ...process.env, HOME: home, JUPYTER_CONFIG_DIR: path.join(home, 'config'), JUPYTER_DATA_DIR: path.join(home, 'data'), JUPYTER_PATH: path.join(ROOT, 'jupyter') },
      stdio: 'ignore',
    });
    await waitForServer(port, 60000);
    const playwright = require('playwright-core') as { chromium: { launchPersistentContext(dir: string, o: Record<string, unknown>): Promise<any> } };
    context = await playwright.chromium.launchPersistentContext(path.join(home, 'chromium'), { executablePath: findChromium(), headless: true, args: CHROMIUM_ARGS });
    // offline: nothing outside this machine's server
    await (context as any).route(/^https?:\/\/(?!127\.0\.0\.1)/, (route: { abort(): Promise<void> }) => route.abort());
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    if (server) {
      // the kernels the opened notebooks started: shut down through the server's API first (killing
      // the server alone leaves them running), then the server, given time to exit cleanly
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/kernels`);
        const kernels = (await res.json()) as { id: string }[];
        await Promise.all(kernels.map((k) => fetch(`http://127.0.0.1:${port}/api/kernels/${k.id}`, { method: 'DELETE' })));
      } catch { /* the server is gone already */ }
      server.kill('SIGTERM');
      for (let i = 0; i < 50 && server.exitCode === null && server.signalCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const files = fs.readdirSync(NOTEBOOKS).filter((f) => f.endsWith('.ipynb')).sort();
  for (const f of files) {
    it(`${f}: every figure output renders as an image`, async function () {
      if (missing) this.skip();
      const expected = figureOutputs(path.join(NOTEBOOKS, f));
      const page = await (context as any).newPage();
      try {
        await page.goto(`http://127.0.0.1:${port}/notebooks/${encodeURIComponent(f)}`, { waitUntil: 'load' });
        await page.waitForSelector('#notebook-container .cell', { timeout: 60000 });
        // every output area has been rendered; then wait for the images to load
        await page.waitForFunction(() => document.querySelectorAll('.output_area').length > 0 || document.querySelectorAll('.cell').length > 0, null, { timeout: 60000 });
        await page.waitForFunction(() => Array.from(document.querySelectorAll('.output_png img')).every((i) => (i as HTMLImageElement).complete), null, { timeout: 60000 });
        const shown = await page.evaluate(() => Array.from(document.querySelectorAll('.output_png img')).filter((i) => (i as HTMLImageElement).naturalWidth > 0).length);
        const emptyHtml = await page.evaluate(() => Array.from(document.querySelectorAll('.output_html')).filter((d) => (d as HTMLElement).offsetHeight < 20 && (d as HTMLElement).innerText.trim() === '').length);
        assert.strictEqual(shown, expected, `${f}: ${shown} of ${expected} figures render as images`);
        assert.strictEqual(emptyHtml, 0, `${f}: ${emptyHtml} empty HTML outputs (a figure sanitised away?)`);
      } finally {
        await page.close();
      }
    });
  }
});
