// `npm run book`: the executed notebooks as a folder of static HTML pages, for teaching without a
// kernel: each page is the notebook through Jupyter's nbconvert, its figures interactive again (the
// committed notebooks carry each figure as plotly JSON and a PNG: here the JSON is drawn with plotly.js,
// the PNG showing until it is), one shared plotly.min.js for every page, and an index.
import { writeFileAtomic } from '../io/files';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { jsonForScript, PLOTLY_FILE, writePlotlyBeside } from '../viz/export';

export const NBCONVERT = '/usr/bin/jupyter-nbconvert';

interface Output {
  output_type: string;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}
interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}
interface Notebook {
  cells: Cell[];
}
interface PlotlyJson {
  data?: unknown;
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
/** plotly.js's height for a layout without one is 450; promptlab's showFigure draws 500 */
const DEFAULT_HEIGHT = 500;

const text = (s: string | string[]) => (Array.isArray(s) ? s.join('') : s);
const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);

/** Whether an output is a figure: a plotly figure or any image (PNG, SVG, JPEG, ...). */
export function isFigureOutput(o: Output): boolean {
  return !!o.data && Object.keys(o.data).some((k) => k === PLOTLY_MIME || k.startsWith('image/'));
}

/**
 * The size a figure output was shown at in the notebook: what the output's metadata records for one of
 * its representations (promptlab's showFigure records the PNG's `{ width, height }`, in CSS pixels),
 * else the plotly layout's width and height. No width: the figure fills the column.
 */
export function figureSize(o: Output): { width?: number; height: number } {
  const meta = o.metadata ?? {};
  const layout = (o.data?.[PLOTLY_MIME] as PlotlyJson | undefined)?.layout ?? {};
  for (const mime of [PLOTLY_MIME, 'image/png', 'image/svg+xml', 'image/jpeg', 'image/gif', 'image/webp']) {
    const m = meta[mime] as { width?: unknown; height?: unknown } | undefined;
    const width = positive(m?.width), height = positive(m?.height);
    if (width && height) return { width, height };
  }
  return { width: positive(layout.width), height: positive(layout.height) ?? DEFAULT_HEIGHT };
}

/**
 * The HTML that draws a figure output with plotly.js, its PNG shown until then (or for good, without
 * scripts). With a width, the figure is laid out at exactly width x height, as in the notebook, and shown
 * scaled down as a whole (a CSS transform, which plotly.js's hover and zoom allow for) when the column is
 * narrower: redrawing it narrower would keep its pixel margins, fonts and legend and squash the plot.
 */
function figureHtml(fig: PlotlyJson, png: string | undefined, id: string, size: { width?: number; height: number }): string {
  const { width, height } = size;
  const layout = { ...(fig.layout ?? {}), height, ...(width ? { width, autosize: false } : {}) };
  const config = { ...(fig.config ?? {}), ...(width ? { responsive: false } : {}) };
  const figure = { data: fig.data ?? [], layout, config };
  if (!width) {
    const fallback = png ? `<img alt="figure" style="max-width:100%" src="data:image/png;base64,${png}">` : '';
    return `<div class="promptlab-figure" id="${id}" data-height="${height}" style="min-height:${height}px">${fallback}</div>
<script>(function () {
  var el = document.getElementById(${jsonForScript(id)}), fig = ${jsonForScript(figure)};
  if (el && window.Plotly) { el.innerHTML = ''; window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); }
})();</script>`;
  }
  const fallback = png ? `<img alt="figure" style="display:block;width:100%;height:auto" src="data:image/png;base64,${png}">` : '';
  return `<div class="promptlab-figure" id="${id}" data-width="${width}" data-height="${height}" style="width:100%;max-width:${width}px;aspect-ratio:${width} / ${height};position:relative;overflow:hidden">${fallback}</div>
<script>(function () {
  var el = document.getElementById(${jsonForScript(id)}), fig = ${jsonForScript(figure)}, w = ${width}, h = ${height};
  if (!el || !window.Plotly) return;
  var plot = document.createElement('div');
  plot.className = 'promptlab-figure-plot';
  plot.style.width = w + 'px';
  plot.style.height = h + 'px';
  // out of the flow: its fixed width must not widen the output area (a table cell)
  plot.style.position = 'absolute';
  plot.style.left = plot.style.top = '0';
  plot.style.transformOrigin = '0 0';
  function fit() {
    var s = el.clientWidth > 0 ? Math.min(1, el.clientWidth / w) : 1;
    plot.style.transform = s < 1 ? 'scale(' + s + ')' : '';
  }
  el.innerHTML = '';
  el.appendChild(plot);
  fit();
  if (window.ResizeObserver) new ResizeObserver(fit).observe(el); else window.addEventListener('resize', fit);
  window.Plotly.newPlot(plot, fig.data, fig.layout, fig.config);
})();</script>`;
}

/**
 * A copy of the notebook whose plotly figure outputs draw themselves (text/html) with the PNG as
 * fallback; `figures` counts every figure output (plotly, PNG, SVG, ...), `interactive` the plotly ones.
 */
export function bookNotebook(nb: Notebook): { notebook: Notebook; figures: number; interactive: number } {
  let figures = 0;
  let interactive = 0;
  const cells = nb.cells.map((c) => ({
    ...c,
    outputs: c.outputs?.map((o) => {
      if (isFigureOutput(o)) figures++;
      const fig = o.data?.[PLOTLY_MIME] as PlotlyJson | undefined;
      if (!o.data || !fig) return o;
      interactive++;
      const png = typeof o.data['image/png'] === 'string' ? (o.data['image/png'] as string) : undefined;
      const { 'image/png': _png, [PLOTLY_MIME]: _json, ...rest } = o.data;
      return { ...o, data: { ...rest, 'text/html': figureHtml(fig, png, `figure-${interactive}`, figureSize(o)) } };
    }),
  }));
  return { notebook: { ...nb, cells }, figures, interactive };
}

/**
 * Added to every page's <head>: plotly.js first (before any require.js of the template, so it sets
 * window.Plotly), then styles: long code lines scroll sideways (nbconvert's template cuts them).
 */
const HEAD = `<script src="${PLOTLY_FILE}"></script>
<style>
/* promptlab book: a code line wider than the column scrolls instead of being cut */
.jp-InputArea-editor { min-width: 0; }
.jp-InputArea-editor .CodeMirror { overflow-x: auto; overflow-y: hidden; }
</style>`;

/** The notebook's title: its first markdown heading, else the file name. */
export function notebookTitle(nb: Notebook, file: string): string {
  for (const c of nb.cells) {
    if (c.cell_type !== 'markdown') continue;
    const m = /^#\s+(.+)$/m.exec(text(c.source));
    if (m) return m[1].trim();
  }
  return path.basename(file, '.ipynb');
}

export interface BookResult {
  out: string;
  /** figures: every figure output of the notebook; interactive: those drawn by plotly.js */
  pages: { file: string; title: string; figures: number; interactive: number }[];
}

/** Writes DIR/index.html, one page per notebook and the shared plotly.min.js. */
export function writeBook(notebooks: string[], out: string, log: (s: string) => void = () => undefined): BookResult {
  if (!fs.existsSync(NBCONVERT)) throw new Error(`${NBCONVERT} is missing: the book uses Jupyter's nbconvert (apt-get install jupyter-nbconvert; see environment.md)`);
  fs.mkdirSync(out, { recursive: true });
  writePlotlyBeside(out);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-book-'));
  const pages: BookResult['pages'] = [];
  try {
    for (const file of notebooks) {
      const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;
      const { notebook, figures, interactive } = bookNotebook(nb);
      const base = path.basename(file, '.ipynb');
      const src = path.join(tmp, `${base}.ipynb`);
      fs.writeFileSync(src, JSON.stringify(notebook));
      const r = spawnSync(NBCONVERT, ['--to', 'html', '--output-dir', tmp, src], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`nbconvert failed on ${file}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`);
      const html = fs.readFileSync(path.join(tmp, `${base}.html`), 'utf8').replace(/<head>/i, () => `<head>\n${HEAD}`);
      writeFileAtomic(path.join(out, `${base}.html`), html);
      const title = notebookTitle(nb, file);
      pages.push({ file: `${base}.html`, title, figures, interactive });
      log(`book: ${base}.html (${figures} figure${figures === 1 ? '' : 's'}, ${interactive} interactive): ${title}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const items = pages.map((p) => `<li><a href="${p.file}">${escape(p.title)}</a> <span class="n">(${p.figures} figure${p.figures === 1 ? '' : 's'})</span></li>`).join('\n');
  writeFileAtomic(path.join(out, 'index.html'), `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>promptlab notebooks</title>
<style>body { font-family: Helvetica, Arial, sans-serif; max-width: 820px; margin: 40px auto; line-height: 1.5 } .n { color: #777 }</style>
</head><body>
<h1>promptlab: the notebooks</h1>
<p>Prompt learning on CLIP-style models, one notebook per paper, as last executed (quick runs on a CPU, with the committed full results loaded beside them). Every chart is interactive (plotly.js, offline); the other figures are images.</p>
<ol>
${items}
</ol>
</body></html>
`);
  log(`book: ${pages.length} pages and index.html in ${out}`);
  return { out, pages };
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
