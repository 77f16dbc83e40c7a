/// <reference lib="dom" />
// npm run book: every committed notebook as a page, its figures drawn by the shared plotly.js (offline),
// and an index linking them. Opened in headless Chromium. Skipped without nbconvert or Chromium.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bookNotebook, figureSize, NBCONVERT, writeBook } from '../../src/book';
import { CHROMIUM_ARGS, findChromium } from '../../src/viz/chromium';

const ROOT = path.resolve(__dirname, '..', '..');
const PLOTLY = 'application/vnd.plotly.v1+json';

/** A notebook as promptlab's showFigure leaves it: the size only in the output's metadata, not in the layout. */
function sampleNotebook() {
  const figure = { data: [{ type: 'bar', x: ['a', 'b'], y: [1, 2] }], layout: { title: { text: 'wide' }, margin: { t: 110, b: 200 } }, config: { responsive: true } };
  return {
    cells: [
      { cell_type: 'markdown', source: '# A title' },
      {
        cell_type: 'code',
        source: 'await showFigure(fig, { width: 1898, height: 620 })',
        outputs: [
          { output_type: 'display_data', data: { [PLOTLY]: figure, 'image/png': 'iVBORw0KGgo=', 'text/plain': '<plotly figure>' }, metadata: { 'image/png': { width: 1898, height: 620 } } },
          { output_type: 'display_data', data: { 'image/png': 'iVBORw0KGgo=', 'text/plain': '<image>' }, metadata: {} },
          { output_type: 'display_data', data: { 'image/svg+xml': '<svg xmlns="http://www.w3.org/2000/svg"/>', 'text/plain': '<svg>' }, metadata: {} },
          { output_type: 'display_data', data: { 'text/html': '<table></table>', 'text/plain': 'table' }, metadata: {} },
          { output_type: 'stream', name: 'stdout', text: 'done\n' },
        ],
      },
    ],
  };
}

describe('the static book: figure sizes and counts (bookNotebook)', () => {
  it('draws a figure at the size its output records (not plotly\'s default), scaled only to fit the column', () => {
    const { notebook } = bookNotebook(sampleNotebook());
    const html = String(notebook.cells[1].outputs![0].data!['text/html']);
    assert.ok(!(PLOTLY in notebook.cells[1].outputs![0].data!), 'the plotly JSON is replaced by the HTML that draws it');
    // the box keeps the recorded size and aspect: full size where the column allows, scaled as a whole where not
    assert.match(html, /class="promptlab-figure"[^>]*data-width="1898" data-height="620"/);
    assert.match(html, /max-width:1898px;aspect-ratio:1898 \/ 620/);
    // plotly.js lays the figure out at exactly that size: the layout passed to Plotly.newPlot has it
    const fig = JSON.parse(/fig = (\{.*?\}), w = 1898, h = 620;/s.exec(html)![1]) as { layout: Record<string, unknown>; config: Record<string, unknown> };
    assert.strictEqual(fig.layout.width, 1898);
    assert.strictEqual(fig.layout.height, 620);
    assert.strictEqual(fig.layout.autosize, false);
    assert.strictEqual(fig.config.responsive, false);
    assert.deepStrictEqual(fig.layout.margin, { t: 110, b: 200 }, 'the rest of the layout is kept');
    // the PNG stays as the fallback without scripts, at the same box
    assert.match(html, /<img alt="figure" style="display:block;width:100%;height:auto" src="data:image\/png;base64,iVBORw0KGgo=">/);
  });

  it('takes the size from the output metadata, else from the layout, else the column width at 500 px', () => {
    assert.deepStrictEqual(figureSize({ output_type: 'display_data', data: { [PLOTLY]: { layout: { width: 700, height: 300 } } }, metadata: { 'image/png': { width: 900, height: 380 } } }), { width: 900, height: 380 });
    assert.deepStrictEqual(figureSize({ output_type: 'display_data', data: { [PLOTLY]: { layout: { width: 700, height: 300 } } } }), { width: 700, height: 300 });
    assert.deepStrictEqual(figureSize({ output_type: 'display_data', data: { [PLOTLY]: { layout: {} } } }), { width: undefined, height: 500 });
  });

  it('counts every figure output: plotly, PNG-only and SVG (tables and text are not figures)', () => {
    const { figures, interactive } = bookNotebook(sampleNotebook());
    assert.strictEqual(figures, 3);
    assert.strictEqual(interactive, 1);
  });
});

describe('the static book (npm run book)', function () {
  this.timeout(300000);
  const missing = !fs.existsSync(NBCONVERT) ? `${NBCONVERT} is missing` : !findChromium() ? 'no Chromium' : null;

  it('writes a page per notebook and an index; every figure is interactive offline, at its recorded size', async function () {
    if (missing) {
      console.log(`      book check skipped: ${missing}`);
      this.skip();
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-book-test-'));
    const playwright = require('playwright-core') as { chromium: { launchPersistentContext(dir: string, o: Record<string, unknown>): Promise<any> } };
    let context: any = null;
    try {
      const dir = path.join(ROOT, 'notebooks');
      const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join(dir, f));
      const book = writeBook(notebooks, path.join(tmp, 'book'));
      assert.deepStrictEqual(fs.readdirSync(book.out).sort(), [...book.pages.map((p) => p.file), 'index.html', 'plotly.min.js'].sort());
      // the index counts every figure output of a notebook, not only its plotly ones
      for (const [i, p] of book.pages.entries()) {
        const nb = JSON.parse(fs.readFileSync(notebooks[i], 'utf8')) as { cells: { outputs?: { data?: Record<string, unknown> }[] }[] };
        const all = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.data && Object.keys(o.data).some((k) => k === PLOTLY || k.startsWith('image/'))).length;
        assert.strictEqual(p.figures, all, `${p.file}: the index counts ${p.figures} of ${all} figure outputs`);
      }
      context = await playwright.chromium.launchPersistentContext(path.join(tmp, 'profile'), { executablePath: findChromium(), headless: true, args: CHROMIUM_ARGS, viewport: { width: 1200, height: 900 } });
      await context.route(/^https?:\/\//, (route: { abort(): Promise<void> }) => route.abort()); // offline
      const page = await context.newPage();
      await page.goto(`file://${path.join(book.out, 'index.html')}`);
      const links = await page.evaluate(() => Array.from(document.querySelectorAll('a')).map((a) => a.getAttribute('href')));
      assert.deepStrictEqual(links, book.pages.map((p) => p.file));
      const counts = await page.evaluate(() => Array.from(document.querySelectorAll('li .n')).map((s) => (s as HTMLElement).innerText));
      assert.deepStrictEqual(counts, book.pages.map((p) => `(${p.figures} figure${p.figures === 1 ? '' : 's'})`));
      let wide = 0;
      for (const p of book.pages) {
        await page.goto(`file://${path.join(book.out, p.file)}`);
        await page.waitForFunction((n: number) => document.querySelectorAll('.promptlab-figure .main-svg').length >= n, p.interactive, { timeout: 60000 });
        const drawn = await page.evaluate(() => Array.from(document.querySelectorAll('.promptlab-figure')).filter((d) => d.querySelector('.main-svg')).length);
        assert.strictEqual(drawn, p.interactive, `${p.file}: ${drawn} of ${p.interactive} figures drawn by plotly.js`);
        // each figure laid out at its recorded size, its box that size or (column narrower) scaled to the column, same aspect
        const sizes = await page.evaluate(() =>
          Array.from(document.querySelectorAll<HTMLElement>('.promptlab-figure')).map((d) => {
            const svg = d.querySelector('.main-svg')!;
            const box = d.getBoundingClientRect();
            const parent = getComputedStyle(d.parentElement!);
            const column = d.parentElement!.clientWidth - parseFloat(parent.paddingLeft) - parseFloat(parent.paddingRight);
            return { w: Number(d.dataset.width), h: Number(d.dataset.height), svgW: Number(svg.getAttribute('width')), svgH: Number(svg.getAttribute('height')), boxW: box.width, boxH: box.height, column };
          }),
        );
        for (const [i, s] of sizes.entries()) {
          const what = `${p.file}, figure ${i + 1}`;
          assert.ok(s.w > 0 && s.h > 0, `${what}: no recorded size (the committed figures all record one)`);
          assert.deepStrictEqual([s.svgW, s.svgH], [s.w, s.h], `${what}: plotly.js drew ${s.svgW}x${s.svgH}, the notebook recorded ${s.w}x${s.h}`);
          assert.ok(Math.abs(s.boxW - Math.min(s.w, s.column)) <= 1, `${what}: ${s.boxW} px wide in a ${s.column} px column (recorded ${s.w})`);
          assert.ok(Math.abs(s.boxH - (s.boxW * s.h) / s.w) <= 1, `${what}: ${s.boxW}x${s.boxH} is not the recorded aspect ${s.w}x${s.h}`);
          if (s.w > s.column) wide++;
        }
        // no code line is cut: a line wider than the editor scrolls sideways
        const cut = await page.evaluate(() =>
          Array.from(document.querySelectorAll<HTMLElement>('.jp-InputArea-editor .CodeMirror')).filter((e) => e.scrollWidth > e.clientWidth + 1 && !/auto|scroll/.test(getComputedStyle(e).overflowX)).length,
        );
        assert.strictEqual(cut, 0, `${p.file}: ${cut} code cells cut their long lines`);
      }
      assert.ok(wide > 0, 'notebook 06\'s comparison figure (1898 px) is wider than the column: scaled down');
    } finally {
      await context?.close().catch(() => undefined);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
