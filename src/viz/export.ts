// Figure files: a standalone offline HTML page per figure (always), and PNG + SVG when a Chromium
// is available (see chromium.ts). Without Chromium the HTML is still written and the caller is
// told, in one line, what was skipped and how to get it.

import { recompressPng } from './png';
import { removeStaleTemporaries, writeFileAtomic } from '../io/files';
import * as fs from 'fs';
import * as path from 'path';
import { shownPath } from '../repro/record';
import type { NamedFigure, PlotlyFigure } from './plotly';
import { FigureRenderer, plainFigure } from './chromium';

/** Static export size when a NamedFigure gives none. */
export const DEFAULT_FIGURE_WIDTH = 900;
export const DEFAULT_FIGURE_HEIGHT = 500;

let plotlyCache: { source: string; version: string } | null = null;

function plotlyBundle(): { source: string; version: string } {
  if (!plotlyCache) {
    const file = require.resolve('plotly.js-dist-min');
    const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'package.json'), 'utf8')) as { version: string };
    plotlyCache = { source: fs.readFileSync(file, 'utf8'), version: pkg.version };
  }
  return plotlyCache;
}

/** The minified plotly.js source from plotly.js-dist-min (about 4.8 MB), made safe to put inside a <script> element. */
export function plotlySource(): string {
  return scriptSafe(plotlyBundle().source);
}

/** The version of plotly.js-dist-min, e.g. '4.1.2'. */
export function plotlyVersion(): string {
  return plotlyBundle().version;
}

/** The CDN address of the same plotly.js build. */
export function plotlyCdnUrl(): string {
  return `https://cdn.plot.ly/plotly-${plotlyVersion()}.min.js`;
}

/** JavaScript text that may sit inside <script>...</script>: no '</script' can end the element early. */
export function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1');
}

/** JSON for a JavaScript expression inside <script>: '<', U+2028 and U+2029 escaped; typed arrays become arrays. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v))
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Text for HTML element content or a double-quoted attribute. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A complete offline HTML page drawing `figure` with plotly.js inlined (no network needed), sized
 * to the window: the figure's fixed layout width is dropped, a fixed layout height is kept.
 */
/**
 * A page that draws the figure: plotly.js inlined (offline, one file, about 4.8 MB), or loaded from
 * `opts.plotlySrc` (a path beside the page, so a folder of figures shares one copy).
 */
export function standaloneHtml(figure: PlotlyFigure, title: string, opts: { plotlySrc?: string } = {}): string {
  const fig = plainFigure(figure);
  const { width: _width, height, ...layout } = fig.layout;
  const h = typeof height === 'number' && height > 0 ? `${height}px` : '100vh';
  const config = { responsive: true, displaylogo: false };
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>html, body { margin: 0; padding: 0; } #figure { width: 100%; height: ' + h + '; }</style>',
    opts.plotlySrc ? `<script src="${escapeHtml(opts.plotlySrc)}"></script>` : `<script>${plotlySource()}</script>`,
    '</head>',
    '<body>',
    '<div id="figure"></div>',
    '<script>',
    `Plotly.newPlot('figure', ${jsonForScript(fig.data)}, ${jsonForScript({ ...layout, autosize: true })}, ${jsonForScript(config)});`,
    '</script>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

export interface ExportOptions {
  /** progress and skip messages, one line each (default: nothing) */
  log?: (s: string) => void;
  /** a renderer to use (left open); undefined: open one and close it after; null: HTML only */
  renderer?: FigureRenderer | null;
  /** plotly.js inside every HTML page (one self-contained file each) instead of one shared copy */
  inlinePlotly?: boolean;
}

export interface ExportResult {
  /** every file written, in order */
  files: string[];
  /** why PNG/SVG were not written, with the fix; absent when they were */
  staticSkipped?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The plotly.js file a folder of HTML figures shares. */
export const PLOTLY_FILE = 'plotly.min.js';

/** Writes plotly.js into `dir` as PLOTLY_FILE unless the same bytes are there already. */
export function writePlotlyBeside(dir: string): string {
  const file = path.join(dir, PLOTLY_FILE);
  const source = plotlyBundle().source;
  if (!fs.existsSync(file) || fs.statSync(file).size !== Buffer.byteLength(source) || fs.readFileSync(file, 'utf8') !== source) writeFileAtomic(file, source);
  return file;
}

/**
 * plotly.js gives each plot a random 6-hex-digit uid that names its clip paths and definitions, and
 * each trace one in its class; the same figure then makes different SVG bytes each time. This names
 * them by the figure (and the trace's order) instead, so the same figure always writes the same SVG.
 */
export function deterministicSvg(svg: string, name: string): string {
  // the root element's attributes in a fixed order (plotly sets `style` before or after `viewBox`,
  // depending on timing)
  svg = svg.replace(/^<svg\b([^>]*)>/, (_, attrs: string) => {
    const list = attrs.match(/[\w:-]+="[^"]*"/g) ?? [];
    return `<svg ${[...list].sort().join(' ')}>`;
  });
  // each trace's random uid, in its class (`trace3d9109`): numbered by first appearance
  const traces = new Map<string, string>();
  svg = svg.replace(/\btrace([0-9a-f]{6})\b/g, (_, id: string) => {
    if (!traces.has(id)) traces.set(id, hex6(`${name} trace ${traces.size}`));
    return `trace${traces.get(id)}`;
  });
  const m = /id="defs-([0-9a-f]{6})"/.exec(svg);
  if (!m) return svg;
  return svg.split(m[1]).join(hex6(name));
}

/** Six hex digits of FNV-1a over `text`. */
function hex6(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0').slice(0, 6);
}

/**
 * Writes `<name>.html` for every figure into outDir (created if needed), beside one shared copy of
 * plotly.js (PLOTLY_FILE; `inlinePlotly` puts it in every page instead), and `<name>.png` (at
 * FigureRenderer.PNG_SCALE times the figure size) + `<name>.svg` when Chromium is available. A missing
 * Chromium is reported in `staticSkipped`, never thrown. The same figures write the same bytes.
 */
export async function exportFigures(figs: NamedFigure[], outDir: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const log = opts.log ?? (() => undefined);
  const shared = opts.inlinePlotly !== true;
  for (const f of figs) {
    if (!NAME_RE.test(f.name)) throw new Error(`figure name '${f.name}' is not a plain file name (letters, digits, '.', '_', '-')`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  removeStaleTemporaries(outDir); // figures a killed export left half-written
  const files: string[] = [];
  if (shared && figs.length > 0) files.push(writePlotlyBeside(outDir));
  let renderer: FigureRenderer | null = null;
  let ownRenderer = false;
  let staticSkipped: string | undefined;
  if (opts.renderer === null) {
    staticSkipped = 'PNG/SVG not written: static export was turned off (renderer: null)';
  } else if (opts.renderer) {
    renderer = opts.renderer;
  } else if (figs.length > 0) {
    try {
      renderer = await FigureRenderer.open();
      ownRenderer = true;
    } catch (e) {
      staticSkipped = `PNG/SVG not written: ${(e as Error).message.replace(/^cannot render PNG\/SVG: /, '')}`;
    }
  }
  if (staticSkipped) log(staticSkipped);
  try {
    for (const f of figs) {
      const base = path.join(outDir, f.name);
      const written: string[] = [];
      writeFileAtomic(`${base}.html`, standaloneHtml(f.figure, f.name, shared ? { plotlySrc: PLOTLY_FILE } : {}));
      written.push(`${base}.html`);
      if (renderer) {
        const w = f.width ?? DEFAULT_FIGURE_WIDTH;
        const h = f.height ?? DEFAULT_FIGURE_HEIGHT;
        writeFileAtomic(`${base}.png`, recompressPng(await renderer.toPng(f.figure, w, h)));
        written.push(`${base}.png`);
        writeFileAtomic(`${base}.svg`, deterministicSvg(await renderer.toSvg(f.figure, w, h), f.name));
        written.push(`${base}.svg`);
      }
      files.push(...written);
      log(`figure ${f.name}: ${written.map((p) => path.extname(p).slice(1)).join(', ')} -> ${shownPath(outDir)}`);
    }
  } finally {
    if (ownRenderer && renderer) await renderer.close();
  }
  return staticSkipped ? { files, staticSkipped } : { files };
}
