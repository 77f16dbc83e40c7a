// The recombination figures of one CSP run (src/repro/csp-walkthrough.ts): the attribute x object
// accuracy grids of zero-shot CLIP and CSP with the seen pairs marked, the seen-vs-unseen accuracy
// curves over the calibration-bias sweep with their AUC, and unseen-pair test images with each
// model's top predictions.
import { pngDataUri } from './png';
import type { CspWalkthrough } from '../repro/csp-walkthrough';
import { LEGEND_BELOW, methodLabel } from './figures';
import { fitTitle } from './labels';
import type { NamedFigure, PlotlyFigure } from './plotly';

const FONT = { family: 'Helvetica, Arial, sans-serif', size: 12 };

/** The gap between the two heatmaps, as a fraction of the plot width (at 900 px: about 80 px). */
export const CZSL_GRID_XGAP = 0.22;

/** Two heatmaps, zero-shot and CSP: rows attributes, columns objects; unseen pairs marked U in the cells. */
export function recombinationGridFigure(w: CspWalkthrough, model = 'MiniCLIP'): NamedFigure {
  const text = (acc: (number | null)[][]) => acc.map((row, a) => row.map((v, o) => (v === null ? '' : `${v.toFixed(0)}${w.seen[a][o] ? '' : '<br><b>U</b>'}`)));
  const trace = (key: 'zeroshot' | 'csp', i: number) => ({
    type: 'heatmap',
    z: w.accuracy[key],
    x: w.objs,
    y: w.attrs,
    text: text(w.accuracy[key]),
    texttemplate: '%{text}',
    textfont: { size: 9 },
    hovertemplate: '%{y} %{x}: %{z:.1f}%<extra></extra>',
    colorscale: 'Viridis',
    zmin: 0,
    zmax: 100,
    showscale: i === 1,
    colorbar: { title: { text: 'test accuracy (%)' } },
    xaxis: i === 0 ? 'x' : 'x2',
    yaxis: i === 0 ? 'y' : 'y2',
  });
  const axis = (title: string) => ({ title: { text: title }, tickangle: -40, automargin: true });
  const figure: PlotlyFigure = {
    data: [trace('zeroshot', 0), trace('csp', 1)],
    layout: {
      title: { text: `Which attribute-object pairs each model gets right (<b>U</b>: a pair unseen in training)<br><sup>world-czsl test split, closed world, at each model's best-HM bias; ${model}</sup>`, font: { size: 15 } },
      font: FONT,
      // the right panel's attribute names need room clear of the left panel's last column
      grid: { rows: 1, columns: 2, pattern: 'independent', xgap: CZSL_GRID_XGAP },
      xaxis: axis('object'), yaxis: { title: { text: 'attribute' }, autorange: 'reversed' },
      xaxis2: axis('object'), yaxis2: { autorange: 'reversed' },
      annotations: [
        { text: `<b>${methodLabel('zeroshot')}</b>`, xref: 'x domain', yref: 'y domain', x: 0.5, y: 1.08, showarrow: false },
        { text: `<b>${methodLabel('csp')}</b> (trained on the seen pairs only)`, xref: 'x2 domain', yref: 'y2 domain', x: 0.5, y: 1.08, showarrow: false },
      ],
      margin: { t: 110, b: 110, l: 90, r: 40 },
      plot_bgcolor: '#ffffff',
    },
  };
  return fitTitle({ name: 'csp-recombination-grid', figure, width: 1400, height: 560 });
}

/** Seen against unseen accuracy as the bias on unseen pairs grows, for zero-shot CLIP and CSP; the area is the AUC. */
export function biasCurveFigure(w: CspWalkthrough, model = 'MiniCLIP'): NamedFigure {
  const line = (key: 'zeroshot' | 'csp', color: string) => ({
    type: 'scatter',
    mode: 'lines+markers',
    name: `${methodLabel(key)} (AUC ${(100 * w.curves[key].auc).toFixed(1)})`,
    x: w.curves[key].unseen.map((v) => 100 * v),
    y: w.curves[key].seen.map((v) => 100 * v),
    line: { color, shape: 'linear' },
    fill: 'tozeroy',
    fillcolor: `${color}22`,
  });
  const figure: PlotlyFigure = {
    data: [line('zeroshot', '#7f7f7f'), line('csp', '#d62728')],
    layout: {
      title: { text: `Seen vs unseen accuracy over the calibration-bias sweep (world-czsl, closed world; ${model})`, font: { size: 15 } },
      font: FONT,
      xaxis: { title: { text: 'unseen-pair accuracy (%)' }, rangemode: 'tozero', gridcolor: '#e5e5e5' },
      yaxis: { title: { text: 'seen-pair accuracy (%)' }, rangemode: 'tozero', gridcolor: '#e5e5e5' },
      legend: LEGEND_BELOW,
      margin: { t: 80, b: 110, l: 70, r: 30 },
      plot_bgcolor: '#ffffff',
    },
  };
  return fitTitle({ name: 'csp-bias-curve', figure, width: 800, height: 520 });
}

/** Test images of pairs never seen in training, each with zero-shot CLIP's and CSP's top predictions. */
export function recombinationExamplesFigure(w: CspWalkthrough): NamedFigure {
  const n = w.examples.length;
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: 'Unseen pairs: the image, then the top-3 predictions of zero-shot CLIP and of CSP (softmax over the closed-world pairs)', font: { size: 14 } },
    font: FONT,
    grid: { rows: 1, columns: n, pattern: 'independent', xgap: 0.04 },
    margin: { t: 70, b: 170, l: 10, r: 10 },
  };
  const annotations: Record<string, unknown>[] = [];
  w.examples.forEach((ex, i) => {
    const ax = i === 0 ? '' : String(i + 1);
    const { width, height, channels, data: px } = ex.image;
    // the pixels as a PNG data URI: a few KB where a JSON array of every value is 70 KB
    data.push({ type: 'image', source: pngDataUri(width, height, channels, px), xaxis: `x${ax}`, yaxis: `y${ax}`, hoverinfo: 'skip' });
    layout[`xaxis${ax}`] = { visible: false };
    layout[`yaxis${ax}`] = { visible: false, scaleanchor: `x${ax}` };
    const mark = (p: { pair: string; probability: number }) => `${p.pair === ex.truth ? '<b>' : ''}${p.pair} ${p.probability.toFixed(0)}%${p.pair === ex.truth ? '</b>' : ''}`;
    annotations.push({ text: `<b>${ex.truth}</b>`, xref: `x${ax} domain`, yref: `y${ax} domain`, x: 0.5, y: 1.12, showarrow: false, font: { size: 12 } });
    annotations.push({
      text: [`<i>zero-shot</i>`, ...ex.zeroshot.map(mark), `<i>CSP</i>`, ...ex.csp.map(mark)].join('<br>'),
      xref: `x${ax} domain`, yref: `y${ax} domain`, x: 0.5, y: -0.06, yanchor: 'top', showarrow: false, align: 'left', font: { size: 10 },
    });
  });
  layout.annotations = annotations;
  return fitTitle({ name: 'csp-recombination-examples', figure: { data, layout } as PlotlyFigure, width: Math.max(900, 190 * n), height: 460 });
}

export function cspWalkthroughFigures(w: CspWalkthrough, model = 'MiniCLIP'): NamedFigure[] {
  return [recombinationGridFigure(w, model), biasCurveFigure(w, model), recombinationExamplesFigure(w)];
}
