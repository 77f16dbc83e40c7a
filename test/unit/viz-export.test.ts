// Figure export: the standalone HTML page, HTML-only export, and PNG/SVG through headless Chromium
// (skipped, with the reason printed, where no Chromium is found).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FigureRenderer, findChromium } from '../../src/viz/chromium';
import { deterministicSvg, exportFigures, plotlySource, standaloneHtml } from '../../src/viz/export';
import type { PlotlyFigure } from '../../src/viz/plotly';

const FIG: PlotlyFigure = {
  data: [{ type: 'bar', name: 'harmonic mean', x: ['zero-shot', 'CoOp', 'CoCoOp'], y: [47.1, 49.3, 49.1] }],
  layout: { title: { text: 'Base-to-new </script> H' }, xaxis: { title: { text: 'Method used' } }, yaxis: { title: { text: 'Accuracy H' } }, width: 640 },
};

/** width and height from a PNG's IHDR chunk */
function pngSize(png: Buffer): { width: number; height: number } {
  assert.deepStrictEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.strictEqual(png.toString('latin1', 12, 16), 'IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('figure export (src/viz)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-viz-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('deterministicSvg: plotly\'s random plot and trace uids named by the figure and the trace order; nothing else touched', () => {
    const svg = (plot: string, a: string, b: string) => `<svg style="x" viewBox="0 0 1 1"><defs id="defs-${plot}"><clipPath id="clip${plot}xyplot"/></defs><g class="trace scatter trace${a}" fill="#1f77b4"/><g class="trace bars trace${b}"/><g class="trace scatter trace${a}"/></svg>`;
    const one = deterministicSvg(svg('3d9109', 'f414df', '776843'), 'fewshot-curves');
    const two = deterministicSvg(svg('a0b1c2', '048e54', 'f31eb0'), 'fewshot-curves');
    assert.strictEqual(one, two);
    assert.ok(one.startsWith('<svg style="x" viewBox="0 0 1 1">'));
    assert.ok(one.includes('fill="#1f77b4"'), 'a colour is not a uid');
    const ids = [...one.matchAll(/\btrace([0-9a-f]{6})\b/g)].map((m) => m[1]);
    assert.strictEqual(ids.length, 3);
    assert.strictEqual(ids[0], ids[2], 'one trace keeps one id');
    assert.notStrictEqual(ids[0], ids[1]);
    assert.notStrictEqual(deterministicSvg(svg('3d9109', 'f414df', '776843'), 'other-figure'), one);
  });

  it('standaloneHtml is a complete offline page: the data, plotly.js inlined, no external address', () => {
    const html = standaloneHtml(FIG, 'B2N <accuracy>');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<\/html>\n$/);
    assert.ok(html.includes('<title>B2N &lt;accuracy&gt;</title>'));
    const lib = plotlySource();
    assert.ok(lib.length > 1e6 && html.includes(lib), 'plotly.js is inlined');
    const rest = html.replace(lib, '');
    assert.ok(rest.includes('"CoCoOp"') && rest.includes('49.3') && rest.includes('Method used'), 'the figure data is in the page');
    assert.match(rest, /Plotly\.newPlot\('figure', /);
    assert.doesNotMatch(rest, /https?:\/\//, 'no external address outside the inlined library');
    assert.doesNotMatch(html, /<(script|link|img)[^>]*\s(src|href)=/i, 'nothing is loaded from elsewhere');
    // '</script>' in the data cannot close the element; the layout's fixed width gives way to the window
    assert.strictEqual(rest.match(/<\/script>/g)?.length, 2);
    assert.ok(rest.includes('Base-to-new \\u003c/script> H'));
    assert.doesNotMatch(rest, /"width":640/);
    assert.match(rest, /"responsive":true/);
  });

  it('exportFigures with renderer null writes only HTML and says PNG/SVG were skipped', async () => {
    const out = path.join(tmp, 'html-only');
    const lines: string[] = [];
    const r = await exportFigures([{ name: 'b2n', figure: FIG }, { name: 'second.fig', figure: FIG }], out, { renderer: null, log: (s) => lines.push(s) });
    assert.deepStrictEqual(r.files, [path.join(out, 'plotly.min.js'), path.join(out, 'b2n.html'), path.join(out, 'second.fig.html')]);
    assert.deepStrictEqual(fs.readdirSync(out).sort(), ['b2n.html', 'plotly.min.js', 'second.fig.html']);
    // the pages share one plotly.js beside them, and are small
    const page = fs.readFileSync(path.join(out, 'b2n.html'), 'utf8');
    assert.ok(page.includes('<script src="plotly.min.js"></script>') && page.length < 20000, `${page.length} characters`);
    assert.strictEqual(fs.readFileSync(path.join(out, 'plotly.min.js'), 'utf8'), fs.readFileSync(require.resolve('plotly.js-dist-min'), 'utf8'));
    assert.match(r.staticSkipped ?? '', /PNG\/SVG not written/);
    assert.ok(!r.staticSkipped!.includes('\n'));
    assert.ok(lines.some((l) => l === r.staticSkipped));
    await assert.rejects(exportFigures([{ name: '../escape', figure: FIG }], out, { renderer: null }), /not a plain file name/);
  });

  it('exportFigures reports a Chromium that does not start in staticSkipped instead of throwing', async function () {
    if (process.platform === 'win32') this.skip();
    const saved = process.env.PROMPTLAB_CHROMIUM;
    process.env.PROMPTLAB_CHROMIUM = '/bin/false';
    try {
      const out = path.join(tmp, 'bad-chromium');
      const r = await exportFigures([{ name: 'b2n', figure: FIG }], out);
      assert.deepStrictEqual(fs.readdirSync(out).sort(), ['b2n.html', 'plotly.min.js']);
      assert.match(r.staticSkipped ?? '', /Chromium at \/bin\/false failed to start.*apt-get install chromium/);
    } finally {
      if (saved === undefined) delete process.env.PROMPTLAB_CHROMIUM;
      else process.env.PROMPTLAB_CHROMIUM = saved;
    }
  });

  it('a PROMPTLAB_CHROMIUM that is missing or not executable is reported, not replaced by another browser', async () => {
    const saved = process.env.PROMPTLAB_CHROMIUM;
    try {
      const plain = path.join(tmp, 'not-a-browser.txt');
      fs.writeFileSync(plain, 'text');
      fs.chmodSync(plain, 0o644);
      for (const [value, said] of [['/nonexistent/chrome', 'missing'], [plain, 'not an executable file']] as const) {
        process.env.PROMPTLAB_CHROMIUM = value;
        assert.strictEqual(findChromium(), null);
        const out = path.join(tmp, `no-chromium-${said.length}`);
        const r = await exportFigures([{ name: 'b2n', figure: FIG }], out);
        assert.match(r.staticSkipped ?? '', new RegExp(`PROMPTLAB_CHROMIUM=${value} is ${said}: point it at a Chrome/Chromium binary, or unset it`));
      }
    } finally {
      if (saved === undefined) delete process.env.PROMPTLAB_CHROMIUM;
      else process.env.PROMPTLAB_CHROMIUM = saved;
    }
  });

  describe('with Chromium', function () {
    let renderer: FigureRenderer | null = null;
    before(async function () {
      if (!findChromium()) {
        console.log('    (skipped: no Chromium found; apt-get install chromium or set PROMPTLAB_CHROMIUM)');
        this.skip();
      }
      this.timeout(60000);
      renderer = await FigureRenderer.open();
    });
    after(async () => {
      if (renderer) await renderer.close();
    });

    it('renders a PNG of the requested size (times PNG_SCALE) and an SVG with the axis titles', async () => {
      const png = await renderer!.toPng(FIG, 500, 300);
      assert.deepStrictEqual(pngSize(png), { width: 500 * FigureRenderer.PNG_SCALE, height: 300 * FigureRenderer.PNG_SCALE });
      assert.deepStrictEqual(pngSize(await renderer!.toPng(FIG, 320, 200, 1)), { width: 320, height: 200 });
      const svg = await renderer!.toSvg(FIG, 500, 300);
      assert.match(svg, /^<svg[^>]*width="500"[^>]*height="300"/);
      assert.ok(svg.includes('Method used') && svg.includes('Accuracy H'), 'axis titles are in the SVG');
      assert.ok(renderer!.detached, 'the browser is unref\'d, so an idle renderer does not hold the process open');
    });

    it('exportFigures writes HTML, PNG and SVG with a shared renderer, which it leaves open', async () => {
      const out = path.join(tmp, 'all');
      const r = await exportFigures([{ name: 'b2n', figure: FIG, width: 400, height: 250 }], out, { renderer });
      assert.strictEqual(r.staticSkipped, undefined);
      assert.deepStrictEqual(fs.readdirSync(out).sort(), ['b2n.html', 'b2n.png', 'b2n.svg', 'plotly.min.js']);
      assert.deepStrictEqual(pngSize(fs.readFileSync(path.join(out, 'b2n.png'))), { width: 800, height: 500 });
      assert.ok(!renderer!.closed);
      // the same figure again: the same SVG and HTML bytes (plotly's random uid replaced)
      const again = path.join(tmp, 'again');
      await exportFigures([{ name: 'b2n', figure: FIG, width: 400, height: 250 }], again, { renderer });
      for (const f of ['b2n.svg', 'b2n.html']) assert.ok(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(again, f))), `${f} differs between two exports`);
    });

    it('closes cleanly: the browser profile is removed and later calls are refused', async () => {
      const r = renderer!;
      renderer = null;
      assert.ok(fs.existsSync(r.tmpDir));
      await r.close();
      await r.close();
      assert.ok(!fs.existsSync(r.tmpDir), 'the temporary folder is removed');
      await assert.rejects(r.toPng(FIG, 100, 100), /closed/);
    });
  });
});
