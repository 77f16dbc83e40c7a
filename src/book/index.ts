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

const text = (s: string | string[]) => (Array.isArray(s) ? s.join('') : s);

/** The HTML that draws a figure output with plotly.js, its PNG shown until then (or for good, without scripts). */
function figureHtml(figure: unknown, png: string | undefined, id: string, height: number): string {
  const fallback = png ? `<img alt="figure" style="max-width:100%" src="data:image/png;base64,${png}">` : '';
  return `<div class="promptlab-figure" id="${id}" style="min-height:${height}px">${fallback}</div>
<script>(function () {
  var el = document.getElementById(${jsonForScript(id)}), fig = ${jsonForScript(figure)};
  if (el && window.Plotly) { el.innerHTML = ''; window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); }
})();</script>`;
}

/** A copy of the notebook whose figure outputs draw themselves (text/html) with the PNG as fallback. */
export function bookNotebook(nb: Notebook): { notebook: Notebook; figures: number } {
  let figures = 0;
  const cells = nb.cells.map((c) => ({
    ...c,
    outputs: c.outputs?.map((o) => {
      const fig = o.data?.['application/vnd.plotly.v1+json'] as { layout?: { height?: number } } | undefined;
      if (!o.data || !fig) return o;
      figures++;
      const png = typeof o.data['image/png'] === 'string' ? (o.data['image/png'] as string) : undefined;
      const height = typeof fig.layout?.height === 'number' ? fig.layout.height : 500;
      const { 'image/png': _png, 'application/vnd.plotly.v1+json': _json, ...rest } = o.data;
      return { ...o, data: { ...rest, 'text/html': figureHtml(fig, png, `figure-${figures}`, height) } };
    }),
  }));
  return { notebook: { ...nb, cells }, figures };
}

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
  pages: { file: string; title: string; figures: number }[];
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
      const { notebook, figures } = bookNotebook(nb);
      const base = path.basename(file, '.ipynb');
      const src = path.join(tmp, `${base}.ipynb`);
      fs.writeFileSync(src, JSON.stringify(notebook));
      const r = spawnSync(NBCONVERT, ['--to', 'html', '--output-dir', tmp, src], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`nbconvert failed on ${file}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`);
      // plotly.js first in <head>: before any require.js of the template, so it sets window.Plotly
      const html = fs.readFileSync(path.join(tmp, `${base}.html`), 'utf8').replace(/<head>/i, `<head>\n<script src="${PLOTLY_FILE}"></script>`);
      writeFileAtomic(path.join(out, `${base}.html`), html);
      const title = notebookTitle(nb, file);
      pages.push({ file: `${base}.html`, title, figures });
      log(`book: ${base}.html (${figures} figure${figures === 1 ? '' : 's'}): ${title}`);
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
<p>Prompt learning on CLIP-style models, one notebook per paper, as last executed (quick runs on a CPU, with the committed full results loaded beside them). Every figure is interactive.</p>
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
