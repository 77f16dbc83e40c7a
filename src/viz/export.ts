// Figure files: a standalone offline HTML page per figure (always), and PNG + SVG when a Chromium
// is available (see chromium.ts). Without Chromium the HTML is still written and the caller is
// told, in one line, what was skipped and how to get it.

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
export function standaloneHtml(figure: PlotlyFigure, title: string): string {
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
    `<script>${plotlySource()}</script>`,
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
}

export interface ExportResult {
  /** every file written, in order */
  files: string[];
  /** why PNG/SVG were not written, with the fix; absent when they were */
  staticSkipped?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Writes `<name>.html` for every figure into outDir (created if needed), and `<name>.png`
 * (at FigureRenderer.PNG_SCALE times the figure size) + `<name>.svg` when Chromium is available.
 * A missing Chromium is reported in `staticSkipped`, never thrown.
 */
export async function exportFigures(figs: NamedFigure[], outDir: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const log = opts.log ?? (() => undefined);
  for (const f of figs) {
    if (!NAME_RE.test(f.name)) throw new Error(`figure name '${f.name}' is not a plain file name (letters, digits, '.', '_', '-')`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
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
      fs.writeFileSync(`${base}.html`, standaloneHtml(f.figure, f.name));
      written.push(`${base}.html`);
      if (renderer) {
        const w = f.width ?? DEFAULT_FIGURE_WIDTH;
        const h = f.height ?? DEFAULT_FIGURE_HEIGHT;
        fs.writeFileSync(`${base}.png`, await renderer.toPng(f.figure, w, h));
        written.push(`${base}.png`);
        fs.writeFileSync(`${base}.svg`, await renderer.toSvg(f.figure, w, h));
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
