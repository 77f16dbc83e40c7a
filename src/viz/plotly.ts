// A plotly figure as plain data: what src/viz's builders return, what notebooks display and what
// `npm run figures` exports. Keeping figures as JSON specs means one builder serves the notebook
// (interactive), the PNG/SVG export (headless Chromium) and the standalone HTML page.

export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

/** A figure with the file name (no extension) it is exported under, e.g. 'base2new-accuracy'. */
export interface NamedFigure {
  name: string;
  figure: PlotlyFigure;
  /** pixel size of the static export (default 900 x 500) */
  width?: number;
  height?: number;
}
