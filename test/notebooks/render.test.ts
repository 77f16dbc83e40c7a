/// <reference lib="dom" />
// Every committed notebook opened as a user opens it: the classic Jupyter Notebook that `npm run
// notebooks` starts (Debian's), the notebook untrusted (fresh from git) and offline, in headless
// Chromium. Each figure output of the file must show as a loaded image, whole: not inside an output
// collapsed into a scroll box (the classic Notebook's auto-scroll of long outputs, which the notebooks'
// `"scrolled": false` cell metadata turns off); none may be an empty box.
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

/**
 * The server's XSRF token: the Notebook refuses a DELETE, POST, ... without one (403) unless it came with
 * a token login; a page visit sets it as the `_xsrf` cookie, to be sent back as cookie and header.
 */
async function xsrfToken(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/tree`);
  const m = /(?:^|,)\s*_xsrf=([^;,]+)/.exec(res.headers.get('set-cookie') ?? ''); // several Set-Cookie: joined by ", "
  if (m) return m[1];
  throw new Error(`no _xsrf cookie from http://127.0.0.1:${port}/tree (status ${res.status})`);
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

const PYTHON = process.env.PROMPTLAB_PYTHON ?? '/usr/bin/python3';
const isFigure = (o: Output) => !!o.data && Object.keys(o.data).some((k) => k === 'application/vnd.plotly.v1+json' || k.startsWith('image/'));

describe('notebooks: cells with figures are marked "scrolled": false (no collapsed scroll box in the classic Notebook)', () => {
  for (const f of fs.readdirSync(NOTEBOOKS).filter((x) => x.endsWith('.ipynb')).sort()) {
    it(`${f}: every cell with a figure output`, () => {
      const nb = JSON.parse(fs.readFileSync(path.join(NOTEBOOKS, f), 'utf8')) as { cells: (Cell & { metadata?: Record<string, unknown> })[] };
      const unmarked = nb.cells.map((c, i) => ({ c, i })).filter(({ c }) => c.cell_type === 'code' && (c.outputs ?? []).some(isFigure) && c.metadata?.scrolled !== false);
      assert.deepStrictEqual(unmarked.map(({ i }) => `cell ${i + 1}`), [], `${f}: cells with figures without "scrolled": false (scripts/run-notebooks.py --write sets it)`);
    });
  }

  it('scripts/run-notebooks.py --write marks them so (unscroll_figure_cells)', function () {
    const script = `
import importlib.util, json, sys
import nbformat
spec = importlib.util.spec_from_file_location('run_notebooks', sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
nb = nbformat.v4.new_notebook(cells=[
    nbformat.v4.new_code_cell('plot', outputs=[nbformat.v4.new_output('display_data', data={'application/vnd.plotly.v1+json': {}, 'image/png': 'iVBORw0KGgo=', 'text/plain': 'fig'})]),
    nbformat.v4.new_code_cell('svg', outputs=[nbformat.v4.new_output('display_data', data={'image/svg+xml': '<svg/>', 'text/plain': 'svg'})], metadata={'scrolled': True}),
    nbformat.v4.new_code_cell('table', outputs=[nbformat.v4.new_output('display_data', data={'text/html': '<table></table>', 'text/plain': 't'})]),
    nbformat.v4.new_markdown_cell('# text'),
])
changed = m.unscroll_figure_cells(nb)
print(json.dumps({'changed': changed, 'again': m.unscroll_figure_cells(nb), 'metadata': [dict(c.metadata) for c in nb.cells]}))
`;
    const r = spawnSync(PYTHON, ['-c', script, path.join(ROOT, 'scripts', 'run-notebooks.py')], { encoding: 'utf8' });
    if (r.status !== 0 && /No module named|ENOENT/.test(`${r.stderr}${r.error?.message ?? ''}`)) {
      console.log(`      skipped: ${PYTHON} has no nbformat`);
      this.skip();
    }
    assert.strictEqual(r.status, 0, r.stderr);
    assert.deepStrictEqual(JSON.parse(r.stdout), { changed: 2, again: 0, metadata: [{ scrolled: false }, { scrolled: false }, {}, {}] });
  });
});

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
    let refused = '';
    if (server) {
      // the kernels the opened notebooks started: shut down through the server's API first (killing
      // the server alone leaves them running), then the server, given time to exit cleanly
      let kernels: { id: string }[] | null = null;
      try {
        kernels = (await (await fetch(`http://127.0.0.1:${port}/api/kernels`)).json()) as { id: string }[];
      } catch { /* the server is gone already */ }
      if (kernels?.length) {
        const xsrf = await xsrfToken(port);
        const headers = { Cookie: `_xsrf=${xsrf}`, 'X-XSRFToken': xsrf };
        const res = await Promise.all(kernels.map((k) => fetch(`http://127.0.0.1:${port}/api/kernels/${k.id}`, { method: 'DELETE', headers })));
        const bad = res.filter((r) => r.status !== 204);
        if (bad.length) refused = `the server refused to shut down ${bad.length} of ${kernels.length} kernels (HTTP ${bad.map((r) => r.status).join(', ')})`;
      }
      server.kill('SIGTERM');
      for (let i = 0; i < 50 && server.exitCode === null && server.signalCode === null; i++) await new Promise((r) => setTimeout(r, 100));
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
    if (home) fs.rmSync(home, { recursive: true, force: true });
    if (refused) throw new Error(refused);
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
        // each figure whole on the page: not in an output the Notebook collapsed into a scroll box
        // (.output_scroll), nor cut by any other clipping box between it and its cell
        const hidden = await page.evaluate(() =>
          Array.from(document.querySelectorAll('.output_png img, .output_jpeg img, .output_svg svg')).flatMap((fig) => {
            const cell = fig.closest('.cell');
            const n = Array.from(document.querySelectorAll('#notebook-container .cell')).indexOf(cell as Element) + 1;
            if (fig.closest('.output_scroll')) return [`cell ${n}: in a scroll box (.output_scroll)`];
            const box = fig.getBoundingClientRect();
            for (let el = fig.parentElement; el && el !== cell; el = el.parentElement) {
              const s = getComputedStyle(el);
              if (!/auto|scroll|hidden|clip/.test(s.overflowY + s.overflowX)) continue;
              const clip = el.getBoundingClientRect();
              if (box.top < clip.top - 1 || box.bottom > clip.bottom + 1 || box.left < clip.left - 1 || box.right > clip.right + 1) return [`cell ${n}: ${Math.round(box.width)}x${Math.round(box.height)} cut by a ${Math.round(clip.width)}x${Math.round(clip.height)} .${el.className.split(' ').join('.')}`];
            }
            return [];
          }),
        );
        assert.strictEqual(shown, expected, `${f}: ${shown} of ${expected} figures render as images`);
        assert.deepStrictEqual(hidden, [], `${f}: figures not shown whole`);
        assert.strictEqual(emptyHtml, 0, `${f}: ${emptyHtml} empty HTML outputs (a figure sanitised away?)`);
      } finally {
        await page.close();
      }
    });
  }
});
