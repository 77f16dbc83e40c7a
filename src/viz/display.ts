// Rich output for tslab notebooks: figures, HTML, markdown and a self-overwriting progress line.
//
// A figure goes out as ONE Jupyter display_data message carrying several representations, and
// each front end picks the richest it can show:
//   application/vnd.plotly.v1+json  {data, layout, config}: JupyterLab / VS Code plotly renderers
//   text/html                       a div + script drawing it with plotly.js (classic Notebook, Lab)
//   image/png                       a static rendering (GitHub, nbviewer, no JavaScript), omitted
//                                   when no Chromium is found (see chromium.ts)
//   text/plain                      a one-line summary
// tslab's public display API sends one mime type per message, so the bundle is sent through the
// function tslab itself sends with: `lastWriteDisplayData` of tslab's dist/jupyter.js (the same
// module instance as the running kernel's), found next to the `tslab` module the kernel hands to
// notebook code. When that is not available the figure falls back to tslab's display.html.
//
// text/html and plotly.js: by default the first figure of a kernel session inlines plotly.js
// (4.8 MB) once, so an offline classic Notebook draws it; later figures reuse window.Plotly. With
// PROMPTLAB_PLOTLY=cdn every figure loads plotly.js from cdn.plot.ly instead. With
// PROMPTLAB_PLOTLY=static (the headless runner writing the committed notebooks) there is no text/html
// at all: a notebook opened untrusted (classic Notebook, JupyterLab), offline, on GitHub or nbviewer
// then shows the PNG (an untrusted notebook's HTML is sanitised to an empty box, and HTML outranks
// PNG), and VS Code or a Lab with plotly's renderer draws the plotly JSON interactively.
//
// Outside a tslab kernel (plain node, tests) nothing is displayed: each function prints a one-line
// note on stderr, once per process, and returns.

import { recompressPng } from './png';
import * as path from 'path';
import type { PlotlyFigure } from './plotly';
import { FigureRenderer, plainFigure } from './chromium';
import { escapeHtml, jsonForScript, plotlyCdnUrl, plotlySource } from './export';

type DisplayMessage = {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient: Record<string, unknown>;
};
type WriteDisplayData = (msg: DisplayMessage, update: boolean) => void;

/** The part of tslab's public API used here. */
interface TslabDisplay {
  html(s: string): void;
  markdown(s: string): void;
  text(s: string): void;
}
interface TslabPublic {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}

interface Kernel {
  tslab: TslabPublic;
  /** tslab's dist/jupyter.js, whose lastWriteDisplayData is set for every executed cell; null if not found */
  jupyter: { lastWriteDisplayData: WriteDisplayData | null } | null;
}

let kernelCache: Kernel | null | undefined;

function findKernel(): Kernel | null {
  if (kernelCache !== undefined) return kernelCache;
  kernelCache = null;
  // tslab's executor sets globalThis.__tslab__ before running any cell; without it this is not a
  // kernel, and tslab (a dev dependency, heavy to load) is not required at all.
  if (!(globalThis as any).__tslab__) return null;
  let tslab: TslabPublic;
  try {
    // inside the kernel, require('tslab') is hooked to return the running kernel's own module
    tslab = require('tslab') as TslabPublic;
  } catch {
    return null;
  }
  let jupyter: Kernel['jupyter'] = null;
  const cache = (require as unknown as { cache: Record<string, { exports: unknown } | undefined> }).cache;
  for (const file of Object.keys(cache)) {
    if (cache[file]?.exports !== tslab) continue;
    const candidate = cache[path.join(path.dirname(file), 'jupyter.js')]?.exports as Kernel['jupyter'] | undefined;
    if (candidate && 'lastWriteDisplayData' in candidate) jupyter = candidate;
    break;
  }
  kernelCache = { tslab, jupyter };
  return kernelCache;
}

/** Whether this code runs inside a tslab kernel, so that the functions here display something. */
export function inNotebook(): boolean {
  return findKernel() !== null;
}

const noted = new Set<string>();
function noteOutside(what: string): void {
  if (noted.has(what)) return;
  noted.add(what);
  process.stderr.write(`promptlab: ${what}: not inside a tslab kernel, nothing is displayed${what === 'showFigure' ? ' (exportFigures writes HTML/PNG/SVG files)' : ''}\n`);
}

// ---- the cached renderer for PNGs ----------------------------------------------------------------

let rendererPromise: Promise<FigureRenderer | null> | null = null;
let idleTimer: ReturnType<typeof setTimeout> | null = null;
/** When the renderer could not unref its browser, it is closed after this long without a figure. */
const IDLE_CLOSE_MS = 60_000;

let openFailed = false;
function openRenderer(): Promise<FigureRenderer | null> {
  if (openFailed) return Promise.resolve(null);
  return FigureRenderer.open().then(
    (r) => r,
    () => {
      // no Chromium (or it would not start): figures go out without image/png, without a message
      openFailed = true;
      return null;
    },
  );
}

/**
 * The pixel ratio of a notebook's PNG: 1.5 stays sharp on most screens and keeps a notebook of a dozen
 * figures under 1 MiB (the figure files of `npm run figures` are rendered at FigureRenderer.PNG_SCALE).
 */
const NOTEBOOK_PNG_SCALE = 1.5;

async function renderPng(figure: PlotlyFigure, width: number, height: number): Promise<Buffer | null> {
  const cached = rendererPromise ?? (rendererPromise = openRenderer());
  let r = await cached;
  if (r && r.closed) {
    // closed at 'beforeExit', by the idle timer or after a failure: open another (once, for concurrent calls)
    if (rendererPromise === cached) rendererPromise = openRenderer();
    r = await rendererPromise;
  }
  if (!r) return null;
  try {
    const png = recompressPng(await r.toPng(figure, width, height, NOTEBOOK_PNG_SCALE));
    if (!r.detached) {
      if (idleTimer) clearTimeout(idleTimer);
      const current = r;
      idleTimer = setTimeout(() => void current.close(), IDLE_CLOSE_MS);
      idleTimer.unref?.();
    }
    return png;
  } catch (e) {
    process.stderr.write(`promptlab: the figure's PNG could not be rendered: ${(e as Error).message.split('\n')[0]}\n`);
    rendererPromise = null;
    void r.close().catch(() => undefined);
    return null;
  }
}

// ---- html ----------------------------------------------------------------------------------------

let plotlyInlined = false;
let figureCount = 0;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

/**
 * The text/html of a figure: a div and a script that draws it with window.Plotly, loading plotly.js
 * from `libUrl` first when the page has none (several figures waiting share one load).
 */
function figureHtml(fig: PlotlyFigure, config: Record<string, unknown>, id: string, width: number | undefined, height: number, inlineLib: boolean, libUrl: string): string {
  const style = `width:${width ? `${width}px` : '100%'};height:${height}px;`;
  const lib = inlineLib ? `<script type="text/javascript">${plotlySource()}</script>\n` : '';
  const draw = `<script type="text/javascript">
(function () {
  var w = window, id = ${jsonForScript(id)}, url = ${jsonForScript(libUrl)};
  var fig = ${jsonForScript({ data: fig.data, layout: fig.layout, config })};
  function draw() {
    var el = document.getElementById(id);
    if (el && w.Plotly) w.Plotly.newPlot(el, fig.data, fig.layout, fig.config);
  }
  if (w.Plotly) { draw(); return; }
  var q = w.__promptlabPlotlyWaiting;
  if (q) { q.push(draw); return; }
  q = w.__promptlabPlotlyWaiting = [draw];
  var s = document.createElement('script');
  s.src = url;
  s.onload = function () { w.__promptlabPlotlyWaiting = null; q.forEach(function (f) { f(); }); };
  s.onerror = function () {
    w.__promptlabPlotlyWaiting = null;
    var el = document.getElementById(id);
    if (el) el.textContent = 'plotly.js could not be loaded from ' + url;
  };
  document.head.appendChild(s);
})();
</script>`;
  return `${lib}<div id="${escapeHtml(id)}" class="promptlab-figure" style="${style}"></div>\n${draw}`;
}

function summary(fig: PlotlyFigure): string {
  const layout = fig.layout as { title?: unknown };
  const t = layout.title;
  const title = typeof t === 'string' ? t : t && typeof t === 'object' && typeof (t as { text?: unknown }).text === 'string' ? (t as { text: string }).text : '';
  return `<plotly figure${title ? ` "${title}"` : ''}: ${fig.data.length} trace${fig.data.length === 1 ? '' : 's'}>`;
}

export interface ShowFigureOptions {
  /** pixel width (default: the layout's width; the HTML fills the cell width without one, the PNG is 900) */
  width?: number;
  /** pixel height (default: the layout's height, else 500) */
  height?: number;
}

/**
 * Displays a plotly figure in the notebook as one output with several representations: plotly JSON,
 * interactive HTML, a PNG (when Chromium is found) and a text summary. Does nothing outside tslab.
 */
export async function showFigure(figure: PlotlyFigure, opts: ShowFigureOptions = {}): Promise<void> {
  const kernel = findKernel();
  if (!kernel) return noteOutside('showFigure');
  const fig = plainFigure(figure);
  const width = num(opts.width) ?? num(fig.layout.width);
  const height = num(opts.height) ?? num(fig.layout.height) ?? 500;
  const config = { responsive: true, displaylogo: false };
  const mode = (process.env.PROMPTLAB_PLOTLY ?? '').toLowerCase();
  const cdn = mode === 'cdn';
  const inlineLib = !cdn && mode !== 'static' && !plotlyInlined;
  const id = `promptlab-figure-${process.pid}-${Date.now().toString(36)}-${++figureCount}`;
  const html = figureHtml(fig, config, id, width, height, inlineLib, plotlyCdnUrl());
  const write = kernel.jupyter?.lastWriteDisplayData;
  if (!write) {
    // tslab's internals moved: the interactive HTML alone, through the public API
    kernel.tslab.display.html(html);
    if (inlineLib) plotlyInlined = true;
    return;
  }
  const data: Record<string, unknown> = { 'application/vnd.plotly.v1+json': { data: fig.data, layout: fig.layout, config } };
  const metadata: Record<string, unknown> = {};
  const pngWidth = width ?? 900;
  const png = await renderPng(fig, pngWidth, height);
  if (png) {
    data['image/png'] = png.toString('base64');
    // the PNG has FigureRenderer.PNG_SCALE x the pixels: show it at the figure's size
    metadata['image/png'] = { width: pngWidth, height };
  }
  // static: the PNG stands alone (the HTML only where no PNG could be rendered: better than nothing)
  if (mode !== 'static' || !png) data['text/html'] = html;
  data['text/plain'] = summary(fig);
  // `write` is the calling cell's: the output lands there even if the cell did not await this
  write({ data, metadata, transient: {} }, false);
  if (inlineLib && data['text/html']) plotlyInlined = true;
}

/** Displays HTML in the notebook (nothing outside tslab). */
export function showHtml(html: string): void {
  const kernel = findKernel();
  if (!kernel) return noteOutside('showHtml');
  kernel.tslab.display.html(html);
}

/** Displays markdown in the notebook (nothing outside tslab). */
export function showMarkdown(md: string): void {
  const kernel = findKernel();
  if (!kernel) return noteOutside('showMarkdown');
  kernel.tslab.display.markdown(md);
}

/**
 * A callback that shows each line it is given in one notebook output, each replacing the last
 * (training progress). Outside tslab, each line is printed on stdout instead.
 */
export function notebookProgress(): (line: string) => void {
  const kernel = findKernel();
  if (!kernel) return (line: string) => console.log(line);
  const d = kernel.tslab.newDisplay();
  return (line: string) => d.text(line);
}

/** Closes the cached PNG renderer now (it is otherwise closed when the kernel process ends). */
export async function closeFigureRenderer(): Promise<void> {
  const p = rendererPromise;
  rendererPromise = null;
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = null;
  const r = p ? await p : null;
  if (r) await r.close();
}
