// The papers' figures as plotly specs, built from results files (src/repro): the same builders serve
// the notebooks, `npm run figures` and anyone with a results.json. Every figure names its dataset(s)
// and model in the title, labels its axes, and keeps one colour per method across figures.
import * as path from 'path';
import type { CoOpWalkthrough } from '../repro/coop-walkthrough';
import type { PromptStudy } from '../repro/prompts';
import { trainedOnCachedFeatures, type Results, type SummaryRow } from '../repro/record';
import { fitTitle, labelBars } from './labels';
import type { NamedFigure, PlotlyFigure } from './plotly';

export const METHOD_STYLE: Record<string, { label: string; color: string }> = {
  zeroshot: { label: 'Zero-shot CLIP', color: '#7f7f7f' },
  'zeroshot-ensemble': { label: 'Zero-shot CLIP (ensemble)', color: '#bcbd22' },
  'linear-probe': { label: 'Linear probe', color: '#2ca02c' },
  coop: { label: 'CoOp', color: '#1f77b4' },
  'coop-middle': { label: 'CoOp (class token in the middle)', color: '#17becf' },
  'coop-end-csc': { label: 'CoOp (class-specific context)', color: '#9467bd' },
  'coop-middle-csc': { label: 'CoOp (class-specific, middle)', color: '#e377c2' },
  cocoop: { label: 'CoCoOp', color: '#ff7f0e' },
  csp: { label: 'CSP', color: '#d62728' },
  prompt: { label: 'Prompts (mean of frames)', color: '#1f77b4' },
  videoprompt: { label: 'Prompts + temporal transformer', color: '#d62728' },
  baseline: { label: 'FPN on CLIP features (no language)', color: '#8c564b' },
  'fixed-prompts': { label: 'Score map of hand-crafted prompts', color: '#e6a100' },
  denseclip: { label: 'DenseCLIP', color: '#9e1f63' },
};

export function methodLabel(method: string): string {
  return METHOD_STYLE[method]?.label ?? method;
}

function methodColor(method: string): string {
  return METHOD_STYLE[method]?.color ?? '#9467bd';
}

/** 'MiniCLIP' for the shipped model, else the model folder's name. */
export function modelLabel(results: Results): string {
  const dir = String(results.config.model ?? '');
  return dir === '' || path.basename(dir) === 'miniclip' ? 'MiniCLIP' : path.basename(dir);
}

/** How a run's prompts were trained, for figure and table titles: '' for zero-shot (nothing trains). */
export function trainingLabel(results: Results): string {
  if (results.experiment === 'zeroshot') return '';
  if (results.experiment === 'video') return 'frozen frame features';
  if (results.experiment === 'dense') return results.config.finetuneBackbone === true ? 'image backbone fine-tuned' : 'image backbone frozen';
  return trainedOnCachedFeatures(results) ? 'cached features, no augmentation' : 'augmented training';
}

function runLabel(results: Results): string {
  const seeds = (results.config.seeds as number[] | undefined) ?? [];
  const training = trainingLabel(results);
  return `${modelLabel(results)}, ${results.config.quick ? 'quick run' : 'full run'}, ${seeds.length} seed${seeds.length === 1 ? '' : 's'}${training ? `, ${training}` : ''}`;
}

function datasetsOf(results: Results): string[] {
  return [...new Set(results.rows.map((r) => r.dataset))].filter((d) => d !== 'average');
}

function find(summary: SummaryRow[], method: string, dataset: string, split: string, metric: string): SummaryRow | undefined {
  return summary.find((s) => s.method === method && s.dataset === dataset && s.split === split && s.metric === metric);
}

const AXIS_FONT = { size: 13 };

/**
 * Legends sit at the bottom of the figure, in its pixels (not the plot's: a paper-relative position
 * lands on the x-axis title when a figure is drawn shorter); margin.b leaves room for the tick
 * labels and the axis title above it.
 */
export const LEGEND_BELOW = { orientation: 'h', yref: 'container', y: 0, yanchor: 'bottom', x: 0, xanchor: 'left' };

/** A figure's title wrapped to its width, and its bars' values drawn clear of error bars and reference lines. */
function finish(named: NamedFigure): NamedFigure {
  return labelBars(fitTitle(named));
}

function baseLayout(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { text: title, font: { size: 16 } },
    font: { family: 'Helvetica, Arial, sans-serif', size: 12 },
    legend: LEGEND_BELOW,
    margin: { t: 80, b: 110, l: 70, r: 20 },
    plot_bgcolor: '#ffffff',
    ...extra,
  };
}

function yPercent(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: { text: title, font: AXIS_FONT }, range: [0, 100], gridcolor: '#e5e5e5', zeroline: false, ...extra };
}

/**
 * Every bar's value as its text: labelBars (src/viz/labels.ts) draws it beyond the bar's error bar
 * and clear of chance and reference lines; the bar itself shows no text.
 */
function barLabels(rows: (SummaryRow | undefined)[], fmt: (v: number) => string = (v) => v.toFixed(1)): Record<string, unknown> {
  return { text: rows.map((r) => (r ? fmt(r.mean) : '')), textposition: 'none' };
}

/** Bars with error bars (std over seeds where there is more than one seed), labelled by barLabels. */
function bars(method: string, xs: string[], rows: (SummaryRow | undefined)[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const std = rows.map((r) => (r && r.n > 1 ? r.std : 0));
  return {
    type: 'bar',
    name: methodLabel(method),
    x: xs,
    y: rows.map((r) => (r ? r.mean : null)),
    marker: { color: methodColor(method) },
    error_y: { type: 'data', array: std, visible: std.some((s) => s > 0), color: '#222', thickness: 1.2, width: 3 },
    ...barLabels(rows),
    hovertemplate: `${methodLabel(method)}, %{x}: %{y:.1f}${std.some((s) => s > 0) ? ' ± %{error_y.array:.1f}' : ''}<extra></extra>`,
    ...extra,
  };
}


/** Chance accuracy (%) of a benchmark's split as the run recorded it (config.chance); for 'average', the mean over the benchmarks. */
export function chanceOf(results: Results, dataset: string, split: string): number | undefined {
  const chance = results.config.chance as Record<string, Record<string, number>> | undefined;
  if (!chance) return undefined;
  if (dataset !== 'average') return chance[dataset]?.[split];
  const all = Object.values(chance).map((c) => c[split]).filter((v): v is number => v !== undefined);
  return all.length ? all.reduce((a, b) => a + b, 0) / all.length : undefined;
}

/** The mean chance (test split) of some benchmarks. */
function averageChance(results: Results, datasets: string[]): number | undefined {
  const v = datasets.map((d) => chanceOf(results, d, 'test'));
  return v.length && v.every((x) => x !== undefined) ? (v as number[]).reduce((a, b) => a + b, 0) / v.length : undefined;
}

/** A short black dash per category at its chance level, over grouped bars (one legend entry). */
function chanceMarks(xs: string[], levels: (number | undefined)[], extra: Record<string, unknown> = {}): Record<string, unknown>[] {
  if (levels.every((v) => v === undefined)) return [];
  return [{
    type: 'scatter', mode: 'markers', name: 'chance (1 / classes)', legendgroup: 'chance',
    x: xs, y: levels.map((v) => v ?? null),
    marker: { symbol: 'line-ew', size: 56, line: { width: 2, color: '#000000' } },
    hovertemplate: 'chance, %{x}: %{y:.1f}<extra></extra>',
    ...extra,
  }];
}

/** Zero-shot accuracy per benchmark: the hand-crafted template against the template ensemble. */
export function zeroshotFigure(results: Results): NamedFigure {
  const ds = [...datasetsOf(results), 'average'];
  const methods = ['zeroshot', 'zeroshot-ensemble'];
  const figure: PlotlyFigure = {
    data: [...methods.map((m) => bars(m, ds, ds.map((d) => find(results.summary, m, d, 'test', 'accuracy')))), ...chanceMarks(ds, ds.map((d) => chanceOf(results, d, 'test')))],
    layout: baseLayout(`Zero-shot test accuracy on the world benchmarks (${runLabel(results)})`, {
      barmode: 'group',
      xaxis: { title: { text: 'benchmark (test split)', font: AXIS_FONT } },
      yaxis: yPercent('accuracy (%)'),
    }),
  };
  return finish({ name: 'zeroshot-accuracy', figure });
}

/** Accuracy of each template alone and of the ensemble, and what the logit scale does. */
export function promptStudyFigures(study: PromptStudy, model = 'MiniCLIP'): NamedFigure[] {
  const t = study.templates;
  // A dot per template on an axis fitted to the spread (the point is the difference between templates);
  // the axis says where it starts, and chance is drawn when it falls inside.
  const accs = t.map((x) => x.accuracy);
  const lo = Math.min(...accs);
  const hi = Math.max(...accs);
  const pad = Math.max(1, 0.25 * (hi - lo));
  const range = [Math.max(0, lo - pad), Math.min(100, hi + pad)];
  const templates: PlotlyFigure = {
    data: [{
      type: 'scatter',
      mode: 'markers+text',
      y: t.map((x) => x.template),
      x: accs,
      marker: { size: 12, color: t.map((x) => (x.template.startsWith('ensemble') ? methodColor('zeroshot-ensemble') : methodColor('zeroshot'))) },
      text: accs.map((a) => a.toFixed(1)),
      textposition: 'middle right',
      cliponaxis: false,
      name: 'template',
      hovertemplate: '"%{y}": %{x:.2f}%<extra></extra>',
    }],
    layout: baseLayout(`Prompt engineering: zero-shot accuracy per template (${study.dataset}, ${model}; spread ${(hi - lo).toFixed(1)} points)`, {
      showlegend: false,
      margin: { t: 80, b: 70, l: 260, r: 60 },
      xaxis: { title: { text: `test accuracy (%); the axis spans ${range[0].toFixed(0)}-${range[1].toFixed(0)}, not 0-100 (chance: ${study.chance.toFixed(1)})`, font: AXIS_FONT }, range, gridcolor: '#e5e5e5', zeroline: false },
      yaxis: { title: { text: 'template', font: AXIS_FONT }, autorange: 'reversed', automargin: true, gridcolor: '#f0f0f0' },
      shapes: study.chance >= range[0] && study.chance <= range[1] ? [{ type: 'line', xref: 'x', yref: 'paper', x0: study.chance, x1: study.chance, y0: 0, y1: 1, line: { dash: 'dot', color: '#000', width: 1 } }] : [],
    }),
  };
  const s = study.scales;
  const learned = s.find((x) => x.learned);
  const scales: PlotlyFigure = {
    data: [
      { type: 'scatter', mode: 'lines+markers', name: 'accuracy (%)', x: s.map((x) => x.scale), y: s.map((x) => x.accuracy), line: { color: methodColor('zeroshot') } },
      { type: 'scatter', mode: 'lines+markers', name: 'mean top-1 probability (%)', x: s.map((x) => x.scale), y: s.map((x) => x.confidence), line: { color: methodColor('coop') } },
      { type: 'scatter', mode: 'lines+markers', name: 'negative log-likelihood', x: s.map((x) => x.scale), y: s.map((x) => x.nll), yaxis: 'y2', line: { color: methodColor('cocoop'), dash: 'dot' } },
    ],
    layout: baseLayout(`What the logit scale does (${study.dataset}, ${model}, template "${study.templates[0]?.template ?? ''}")`, {
      xaxis: { type: 'log', title: { text: 'logit scale (multiplies the cosine similarities; log axis)', font: AXIS_FONT } },
      yaxis: yPercent('accuracy, confidence (%)'),
      yaxis2: { title: { text: 'test NLL (nats)', font: AXIS_FONT }, overlaying: 'y', side: 'right', rangemode: 'tozero', showgrid: false, tickformat: '.1f' },
      margin: { t: 80, b: 110, l: 70, r: 70 },
      shapes: learned ? [{ type: 'line', xref: 'x', yref: 'paper', x0: learned.scale, x1: learned.scale, y0: 0, y1: 1, line: { dash: 'dash', color: '#444', width: 1 } }] : [],
      annotations: learned ? [{ x: Math.log10(learned.scale), xref: 'x', yref: 'paper', y: 1.02, text: `learned: ${learned.scale.toFixed(1)}`, showarrow: false }] : [],
    }),
  };
  return [finish({ name: 'prompt-templates', figure: templates, height: 420 }), finish({ name: 'logit-scale', figure: scales })];
}

/** One CoOp run: training loss and accuracy per epoch, with the test accuracies it ends at. */
export function coopTrainingFigure(w: CoOpWalkthrough, model = 'MiniCLIP'): NamedFigure {
  const ep = w.history.map((h) => h.epoch);
  const last = ep[ep.length - 1] ?? 1;
  const figure: PlotlyFigure = {
    data: [
      { type: 'scatter', mode: 'lines+markers', name: 'CoOp training accuracy (%)', x: ep, y: w.history.map((h) => 100 * h.accuracy), line: { color: methodColor('coop') } },
      { type: 'scatter', mode: 'lines', name: `CoOp test accuracy after training: ${w.coop.toFixed(1)}%`, x: [1, last], y: [w.coop, w.coop], line: { color: methodColor('coop'), dash: 'dash' } },
      { type: 'scatter', mode: 'lines', name: `Zero-shot CLIP test accuracy: ${w.zeroshot.toFixed(1)}%`, x: [1, last], y: [w.zeroshot, w.zeroshot], line: { color: methodColor('zeroshot'), dash: 'dash' } },
      { type: 'scatter', mode: 'lines+markers', name: 'training loss', x: ep, y: w.history.map((h) => h.loss), yaxis: 'y2', line: { color: '#d62728', dash: 'dot' } },
    ],
    layout: baseLayout(`Training CoOp on ${w.dataset}, ${w.shots} shots, seed ${w.seed} (${model}, preset ${w.preset})`, {
      xaxis: { title: { text: 'epoch', font: AXIS_FONT } },
      yaxis: yPercent('accuracy (%)'),
      yaxis2: { title: { text: 'cross-entropy loss', font: AXIS_FONT }, overlaying: 'y', side: 'right', rangemode: 'tozero', showgrid: false, tickformat: '.2f' },
      margin: { t: 80, b: 130, l: 70, r: 70 },
    }),
  };
  return finish({ name: 'coop-training', figure });
}

/** Panels side by side, one per key, sharing the y range; `traces(key, axis)` gives each panel's traces. */
function panels(keys: string[], traces: (key: string, xaxis: string, yaxis: string) => Record<string, unknown>[], yTitle: string, xTitle: string, opts: { xType?: string; xTicks?: number[] } = {}) {
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = { grid: { rows: 1, columns: keys.length, pattern: 'independent', xgap: 0.08 } };
  const annotations: Record<string, unknown>[] = [];
  keys.forEach((k, i) => {
    const ax = i === 0 ? '' : String(i + 1);
    data.push(...traces(k, `x${ax}`, `y${ax}`));
    layout[`xaxis${ax}`] = { title: { text: xTitle, font: AXIS_FONT }, ...(opts.xType ? { type: opts.xType } : {}), ...(opts.xTicks ? { tickvals: opts.xTicks, ticktext: opts.xTicks.map(String) } : {}) };
    layout[`yaxis${ax}`] = yPercent(i === 0 ? yTitle : '', { matches: i === 0 ? undefined : 'y' });
    annotations.push({ text: `<b>${k}</b>`, xref: `x${ax} domain`, yref: `y${ax} domain`, x: 0.5, y: 1.06, showarrow: false, font: { size: 13 } });
  });
  layout.annotations = annotations;
  return { data, layout };
}

/** CoOp's methods in a few-shot run, in legend order: its variants (the default first) that the run has. */
export function coopVariantsOf(results: Results): string[] {
  return ['coop', 'coop-middle', 'coop-end-csc', 'coop-middle-csc'].filter((m) => results.rows.some((r) => r.method === m));
}

/**
 * CoOp's Figure 3: accuracy against shots per benchmark for CoOp's variants and the linear probe,
 * zero-shot CLIP as a dashed line and chance as a dotted one.
 */
export function fewshotFigure(results: Results): NamedFigure {
  const keys = [...datasetsOf(results), 'average'];
  const shots = [...new Set(results.rows.map((r) => Number(r.metric.split('@')[1])).filter((k) => k > 0))].sort((a, b) => a - b);
  const variants = coopVariantsOf(results);
  // with one variant it is just "CoOp"; with several each is named by its context and class-token position
  const VARIANT_LABEL: Record<string, string> = { coop: 'CoOp (unified context, class token at the end)', 'coop-middle': 'CoOp (unified, middle)', 'coop-end-csc': 'CoOp (class-specific, end)', 'coop-middle-csc': 'CoOp (class-specific, middle)' };
  const DASH: Record<string, string | undefined> = { coop: undefined, 'coop-middle': 'dash', 'coop-end-csc': undefined, 'coop-middle-csc': 'dash' };
  let first = true;
  const { data, layout } = panels(keys, (d, xaxis, yaxis) => {
    const line = (method: string, name: string, dash?: string) => {
      const rows = shots.map((k) => find(results.summary, method, d, 'test', `accuracy@${k}`));
      return {
        type: 'scatter', mode: 'lines+markers', name, legendgroup: method, showlegend: first,
        x: shots, y: rows.map((r) => (r ? r.mean : null)), xaxis, yaxis,
        line: { color: methodColor(method), ...(dash ? { dash } : {}) },
        error_y: { type: 'data', array: rows.map((r) => (r && r.n > 1 ? r.std : 0)), visible: rows.some((r) => r !== undefined && r.n > 1), thickness: 1 },
      };
    };
    const flat = (name: string, group: string, y: number | undefined, color: string, dash: string) => ({
      type: 'scatter', mode: 'lines', name, legendgroup: group, showlegend: first, x: [shots[0], shots[shots.length - 1]], y: [y ?? null, y ?? null], xaxis, yaxis, line: { color, dash, width: 1.5 },
      hovertemplate: `${name}: %{y:.1f}<extra></extra>`,
    });
    const zs = find(results.summary, 'zeroshot', d, 'test', 'accuracy@0');
    const chance = chanceOf(results, d, 'test');
    const out = [
      ...variants.map((m) => line(m, variants.length > 1 ? VARIANT_LABEL[m] : methodLabel(m), DASH[m])),
      line('linear-probe', methodLabel('linear-probe'), 'dot'),
      flat(`${methodLabel('zeroshot')} (no shots)`, 'zeroshot', zs?.mean, methodColor('zeroshot'), 'dash'),
      ...(chance === undefined ? [] : [flat('chance (1 / classes)', 'chance', chance, '#000000', 'dot')]),
    ];
    first = false;
    return out;
  }, 'test accuracy (%)', 'shots per class', { xType: 'log', xTicks: shots });
  const figure: PlotlyFigure = { data, layout: { ...baseLayout(`Few-shot learning on the world benchmarks (${runLabel(results)})`), ...layout, legend: LEGEND_BELOW, margin: { t: 80, b: variants.length > 1 ? 150 : 120, l: 70, r: 20 } } };
  return finish({ name: 'fewshot-curves', figure, width: Math.max(900, 260 * keys.length), height: variants.length > 1 ? 520 : 480 });
}

/** The base-to-new panels' tick angle: adjacent rotated labels sit ~40 px x sin(60°) = 35 px apart, over twice a line's height. */
export const BASE2NEW_TICK_ANGLE = -60;

/** CoCoOp's base-to-new table as a figure: base and new accuracy and H per benchmark and method, chance marked. */
export function base2newFigure(results: Results): NamedFigure {
  const ds = [...datasetsOf(results), 'average'];
  const methods = ['zeroshot', 'coop', 'cocoop'].filter((m) => results.rows.some((r) => r.method === m));
  const panelsSpec: [string, string, string][] = [['Base classes (seen in training)', 'base', 'accuracy'], ['New classes (unseen)', 'new', 'accuracy'], ['Harmonic mean H', 'all', 'H']];
  let first = true;
  const { data, layout } = panels(panelsSpec.map((p) => p[0]), (key, xaxis, yaxis) => {
    const [, split, metric] = panelsSpec.find((p) => p[0] === key)!;
    const out = methods.map((m) => bars(m, ds, ds.map((d) => find(results.summary, m, d, split, metric)), {
      xaxis, yaxis, legendgroup: m, showlegend: first,
      // new classes drawn hatched, so base and new stay apart in print too
      marker: { color: methodColor(m), ...(split === 'new' ? { pattern: { shape: '/', fillmode: 'overlay', fgcolor: '#ffffff', fgopacity: 0.6, size: 8, solidity: 0.35 } } : {}) },
    }));
    // chance on base and new (H has none of its own)
    if (split !== 'all') out.push(...chanceMarks(ds, ds.map((d) => chanceOf(results, d, split)), { xaxis, yaxis, showlegend: first, marker: { symbol: 'line-ew', size: 40, line: { width: 2, color: '#000000' } } }));
    first = false;
    return out;
  }, 'test accuracy / H (%)', 'benchmark');
  // benchmark names steeply rotated: a notebook draws the three panels 900 px wide, about 40 px a benchmark
  for (const k of Object.keys(layout).filter((k) => /^xaxis\d*$/.test(k))) layout[k] = { ...(layout[k] as Record<string, unknown>), tickangle: BASE2NEW_TICK_ANGLE, automargin: true };
  const figure: PlotlyFigure = {
    data,
    layout: { ...baseLayout(`Base-to-new generalisation, 16 shots (${runLabel(results)}); new classes hatched`), barmode: 'group', ...layout, legend: LEGEND_BELOW, margin: { t: 80, b: 190, l: 70, r: 20 } },
  };
  return finish({ name: 'base2new', figure, width: 1500, height: 560 });
}

/**
 * CoCoOp's Δ row: a method's gain over another per benchmark, seed by seed (mean ± std of the
 * paired differences; the average row's H is recomputed from the averaged base and new, as the
 * papers do, before the difference). Undefined where either method lacks a seed.
 */
export function pairedDelta(results: Results, method: string, over: string, dataset: string, split: string, metric: string): SummaryRow | undefined {
  const of = (m: string) => {
    const own = results.rows.filter((r) => r.method === m && r.dataset === dataset && r.split === split && r.metric === metric);
    if (own.length || dataset !== 'average') return new Map(own.map((r) => [r.seed, r.value]));
    // no average rows of the run's own: per seed, the mean over the benchmarks (as summarise does)
    const bySeed = new Map<number, number[]>();
    for (const r of results.rows) if (r.method === m && r.split === split && r.metric === metric) bySeed.set(r.seed, [...(bySeed.get(r.seed) ?? []), r.value]);
    return new Map([...bySeed].map(([seed, v]) => [seed, v.reduce((a, b) => a + b, 0) / v.length]));
  };
  const a = of(method);
  const b = of(over);
  const diffs = [...a.keys()].filter((seed) => b.has(seed)).map((seed) => a.get(seed)! - b.get(seed)!);
  if (!diffs.length) return undefined;
  const mean = diffs.reduce((x, y) => x + y, 0) / diffs.length;
  const std = diffs.length > 1 ? Math.sqrt(diffs.reduce((x, y) => x + (y - mean) ** 2, 0) / (diffs.length - 1)) : 0;
  return { method: `${method}-minus-${over}`, dataset, split, metric, mean, std, n: diffs.length };
}

/** CoCoOp − CoOp on base, new and H per benchmark, paired by seed, on an axis fitted to the differences. */
export function base2newDeltaFigure(results: Results): NamedFigure | null {
  if (!['coop', 'cocoop'].every((m) => results.rows.some((r) => r.method === m))) return null;
  const ds = [...datasetsOf(results), 'average'];
  const specs: [string, string, string, string][] = [['Δ base', 'base', 'accuracy', '#1f77b4'], ['Δ new', 'new', 'accuracy', '#ff7f0e'], ['Δ H', 'all', 'H', '#2ca02c']];
  const deltas = specs.map(([, split, metric]) => ds.map((d) => pairedDelta(results, 'cocoop', 'coop', d, split, metric)));
  const data = specs.map(([name, split, , color], i) => {
    const rows = deltas[i];
    const std = rows.map((r) => (r && r.n > 1 ? r.std : 0));
    return {
      type: 'bar', name, x: ds, y: rows.map((r) => (r ? r.mean : null)),
      marker: { color, ...(split === 'new' ? { pattern: { shape: '/', fillmode: 'overlay', fgcolor: '#ffffff', fgopacity: 0.6, size: 8, solidity: 0.35 } } : {}) },
      error_y: { type: 'data', array: std, visible: std.some((x) => x > 0), color: '#222', thickness: 1.2, width: 3 },
      ...barLabels(rows, (v) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`),
      hovertemplate: `${name}, %{x}: %{y:+.1f} ± %{error_y.array:.1f}<extra></extra>`,
    };
  });
  const figure: PlotlyFigure = {
    data,
    layout: baseLayout(`CoCoOp − CoOp on base, new and H (CoCoOp's Table 1 Δ), paired by seed, ± std<br><sup>${runLabel(results)}</sup>`, {
      barmode: 'group',
      xaxis: { title: { text: 'benchmark', font: AXIS_FONT } },
      yaxis: { title: { text: 'difference (points); above 0: CoCoOp better', font: AXIS_FONT }, zeroline: true, zerolinecolor: '#000', zerolinewidth: 1.5, gridcolor: '#e5e5e5' },
    }),
  };
  return finish({ name: 'base2new-delta', figure, width: 1000, height: 460 });
}

const TRANSFER_ROLE: Record<string, string> = { source: 'source', dg: 'domain shift', xd: 'other dataset' };

/**
 * CoCoOp's tables 2 and 3 as one figure: the models trained on the source, evaluated unchanged on
 * its test split, on its domain-shifted version (same classes) and on other datasets (their own
 * classes), with the average over the cross-dataset targets last.
 */
export function transferFigure(results: Results): NamedFigure {
  const roleOf = new Map(results.rows.map((r) => [r.dataset, r.split]));
  const cols = datasetsOf(results).map((d) => ({ label: `${d}<br>(${TRANSFER_ROLE[roleOf.get(d) ?? ''] ?? roleOf.get(d)})`, dataset: d, split: roleOf.get(d) ?? '' }));
  if (cols.some((c) => c.split === 'xd')) cols.push({ label: 'average of the<br>other datasets', dataset: 'average', split: 'xd' });
  const methods = ['zeroshot', 'coop', 'cocoop'].filter((m) => results.rows.some((r) => r.method === m));
  const source = cols.find((c) => c.split === 'source')?.dataset ?? '?';
  const figure: PlotlyFigure = {
    data: [
      ...methods.map((m) => bars(m, cols.map((c) => c.label), cols.map((c) => find(results.summary, m, c.dataset, c.split, 'accuracy')))),
      ...chanceMarks(cols.map((c) => c.label), cols.map((c) => (c.dataset === 'average' ? averageChance(results, cols.filter((x) => x.split === 'xd' && x.dataset !== 'average').map((x) => x.dataset)) : chanceOf(results, c.dataset, 'test')))),
    ],
    layout: baseLayout(`Trained on ${source}, tested elsewhere (${runLabel(results)})`, {
      barmode: 'group',
      xaxis: { title: { text: 'test benchmark (its role)', font: AXIS_FONT }, tickangle: 0 },
      yaxis: yPercent('test accuracy (%)'),
      legend: LEGEND_BELOW,
      margin: { t: 80, b: 140, l: 70, r: 20 },
    }),
  };
  return finish({ name: 'transfer', figure, width: 1200, height: 500 });
}

/**
 * Every method implemented so far side by side, a panel per kind of task, each with its own methods
 * and baselines: classification (zero-shot accuracy, few-shot accuracy at the most shots, base / new / H,
 * transfer from one source to shifted domains and other datasets), compositional zero-shot learning,
 * segmentation and video. Averages over the benchmarks where a protocol has several.
 */
export function comparisonFigure(all: Results[]): NamedFigure {
  type Col = { label: string; pick: (m: string) => SummaryRow | undefined };
  const z = all.find((r) => r.experiment === 'zeroshot');
  const f = all.find((r) => r.experiment === 'fewshot');
  const b = all.find((r) => r.experiment === 'base2new');
  const x = all.find((r) => r.experiment === 'transfer');
  const cz = all.find((r) => r.experiment === 'czsl');
  const dn = all.find((r) => r.experiment === 'dense');
  const vd = all.find((r) => r.experiment === 'video');
  const count = (r: Results) => `${datasetsOf(r).length} benchmarks`;
  const classification: Col[] = [];
  if (z) classification.push({ label: `zero-shot,<br>all classes<br>(${count(z)})`, pick: (m) => (m === 'zeroshot' || m === 'zeroshot-ensemble' ? find(z.summary, m, 'average', 'test', 'accuracy') : undefined) });
  if (f) {
    const k = Math.max(...f.rows.map((r) => Number(r.metric.split('@')[1])));
    classification.push({ label: `${k} shots,<br>all classes<br>(${count(f)})`, pick: (m) => find(f.summary, m, 'average', 'test', m === 'zeroshot' ? 'accuracy@0' : `accuracy@${k}`) });
  }
  if (b) {
    classification.push({ label: `base classes<br>(${count(b)})`, pick: (m) => find(b.summary, m, 'average', 'base', 'accuracy') });
    classification.push({ label: `new classes<br>(${count(b)})`, pick: (m) => find(b.summary, m, 'average', 'new', 'accuracy') });
    classification.push({ label: `H of base<br>and new<br>(${count(b)})`, pick: (m) => find(b.summary, m, 'average', 'all', 'H') });
  }
  const source = x?.rows.find((r) => r.split === 'source')?.dataset ?? '?';
  if (x) {
    const targets = (split: string) => new Set(x.rows.filter((r) => r.split === split).map((r) => r.dataset)).size;
    if (targets('dg') > 0) classification.push({ label: `domain shift<br>(${targets('dg')} benchmark${targets('dg') === 1 ? '' : 's'})`, pick: (m) => find(x.summary, m, 'average', 'dg', 'accuracy') });
    if (targets('xd') > 0) classification.push({ label: `other datasets<br>(${targets('xd')} benchmark${targets('xd') === 1 ? '' : 's'})`, pick: (m) => find(x.summary, m, 'average', 'xd', 'accuracy') });
  }
  // CoOp's other variants stay in the few-shot figure: here CoOp is its default (unified, end)
  const groups: { title: string; methods: string[]; cols: Col[] }[] = [
    { title: `classification${x ? ` (transfer: trained on ${source})` : ''}`, methods: ['zeroshot', 'zeroshot-ensemble', 'linear-probe', 'coop', 'cocoop'], cols: classification },
    { title: 'compositional (world-czsl)', methods: ['zeroshot', 'coop', 'csp'], cols: cz ? [
      { label: 'unseen pairs,<br>closed world', pick: (m) => find(cz.summary, m, 'world-czsl', 'closed', 'unseen') },
      { label: 'AUC,<br>closed world', pick: (m) => find(cz.summary, m, 'world-czsl', 'closed', 'auc') },
    ] : [] },
    { title: 'segmentation', methods: ['baseline', 'fixed-prompts', 'denseclip'], cols: dn ? [{ label: 'mIoU<br>(world-scenes)', pick: (m) => find(dn.summary, m, 'world-scenes', 'test', 'miou') }] : [] },
    { title: 'video', methods: ['zeroshot', 'prompt', 'videoprompt'], cols: vd ? [{ label: 'top-1<br>(world-motion)', pick: (m) => find(vd.summary, m, 'world-motion', 'test', 'accuracy') }] : [] },
  ];
  const shown = groups
    .map((g) => ({ ...g, methods: g.methods.filter((m) => g.cols.some((c) => c.pick(m))) }))
    .filter((g) => g.cols.length > 0 && g.methods.length > 0);
  // each panel as wide as its bars: columns x methods, plus room for its tick labels
  const weights = shown.map((g) => g.cols.length * Math.max(2, g.methods.length) + 2);
  const total = weights.reduce((a, c) => a + c, 0);
  const gap = 0.03;
  const span = 1 - gap * Math.max(0, shown.length - 1);
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {};
  const annotations: Record<string, unknown>[] = [];
  let left = 0;
  shown.forEach((g, i) => {
    const ax = i === 0 ? '' : String(i + 1);
    const width = (span * weights[i]) / total;
    const labels = g.cols.map((c) => c.label);
    for (const m of g.methods) {
      data.push(bars(m, labels, g.cols.map((c) => c.pick(m)), { xaxis: `x${ax}`, yaxis: `y${ax}`, legendgroup: g.title, legendgrouptitle: { text: `<b>${g.title}</b>` } }));
    }
    layout[`xaxis${ax}`] = { domain: [left, left + width], anchor: `y${ax}`, tickangle: 0, automargin: true };
    layout[`yaxis${ax}`] = yPercent(i === 0 ? 'average test accuracy, H, AUC or mIoU (%)' : '', { anchor: `x${ax}`, ...(i === 0 ? {} : { matches: 'y', showticklabels: false }) });
    annotations.push({ text: `<b>${g.title}</b>`, xref: `x${ax} domain`, yref: 'paper', x: 0.5, y: 1.02, yanchor: 'bottom', showarrow: false, font: { size: 13 } });
    left += width + gap;
  });
  const model = all.length ? modelLabel(all[0]) : 'MiniCLIP';
  const quick = all.some((r) => r.config.quick);
  const cached = all.filter((r) => trainedOnCachedFeatures(r)).map((r) => r.experiment);
  const figure: PlotlyFigure = {
    data,
    layout: {
      ...baseLayout(`Every method so far on the world benchmarks (${model}${quick ? ', quick runs' : ''}${cached.length ? `; ${cached.join(', ')} on cached features` : ''})`, {
        barmode: 'group',
          legend: { ...LEGEND_BELOW, groupclick: 'toggleitem', traceorder: 'grouped' },
        margin: { t: 110, b: 200, l: 70, r: 20 },
      }),
      ...layout,
      annotations,
    },
  };
  const slots = shown.reduce((n, g) => n + g.cols.length * g.methods.length, 0);
  return finish({ name: 'comparison', figure, width: Math.max(1100, 34 * slots + 300), height: 620 });
}

const CZSL_METRICS: [string, string][] = [['seen', 'seen (S)'], ['unseen', 'unseen (U)'], ['hm', 'best HM'], ['auc', 'AUC']];

/** CSP's Table 1 as a figure: S, U, HM and AUC per method, closed and open world. */
export function czslFigure(results: Results): NamedFigure {
  const methods = ['zeroshot', 'coop', 'csp'].filter((m) => results.rows.some((r) => r.method === m));
  let first = true;
  const { data, layout } = panels(['closed world', 'open world'], (key, xaxis, yaxis) => {
    const split = key.startsWith('closed') ? 'closed' : 'open';
    const out = methods.map((m) => bars(m, CZSL_METRICS.map((x) => x[1]), CZSL_METRICS.map(([metric]) => find(results.summary, m, 'world-czsl', split, metric)), { xaxis, yaxis, legendgroup: m, showlegend: first }));
    first = false;
    return out;
  }, 'accuracy / HM / AUC (%)', 'metric (test split)');
  const figure: PlotlyFigure = { data, layout: { ...baseLayout(`Compositional zero-shot learning on world-czsl (${runLabel(results)})`), barmode: 'group', ...layout, legend: LEGEND_BELOW } };
  return finish({ name: 'czsl', figure, width: 1200, height: 480 });
}

export const VIDEO_METRICS: [string, string][] = [['accuracy', 'top-1 accuracy'], ['top5', 'top-5 accuracy'], ['reversal-confusion', 'predicted as its time reversal']];

/** Video prompting on world-motion: each method's top-1, top-5 and reversal confusion (mean ± std over seeds). */
export function videoFigure(results: Results): NamedFigure {
  const methods = ['zeroshot', 'prompt', 'videoprompt'].filter((m) => results.rows.some((r) => r.method === m));
  const data = methods.map((m) => bars(m, VIDEO_METRICS.map((x) => x[1]), VIDEO_METRICS.map(([metric]) => find(results.summary, m, 'world-motion', 'test', metric))));
  const layout = {
    ...baseLayout(`Video prompting on world-motion, test split (${runLabel(results)}${videoCrops(results)})`),
    barmode: 'group',
    xaxis: { title: { text: 'metric (reversal: of the clips whose motion has a time reversal)' } },
    yaxis: { title: { text: '%' }, range: [0, 105] },
    legend: LEGEND_BELOW,
  };
  return finish({ name: 'video', figure: { data, layout }, width: 1000, height: 480 });
}

/** A video run's protocol (src/repro/video.ts): closed, fewshot or zeroshot; runs that record none are closed. */
export function videoProtocolOf(results: Results): string {
  return typeof results.config.protocol === 'string' ? results.config.protocol : 'closed';
}

/** ', N crops per clip' for a closed video run with the official multi-crop evaluation, else ''. */
function videoCrops(results: Results): string {
  const v = results.config.valEnsemble;
  return typeof v === 'number' && v > 1 ? `, ${v} crops per clip` : '';
}

/** The figures of a video run, by its protocol. */
export function videoFigures(results: Results): NamedFigure[] {
  const protocol = videoProtocolOf(results);
  if (protocol === 'fewshot') return [videoFewshotFigure(results)];
  if (protocol === 'zeroshot') return [videoHeldOutFigure(results)];
  return [videoFigure(results)];
}

/** The shot counts (k > 0) of a video few-shot run's metrics (`accuracy@k`), ascending. */
export function videoShotsOf(results: Results): number[] {
  return [...new Set(results.rows.map((r) => Number(r.metric.split('@')[1])).filter((k) => k > 0))].sort((a, b) => a - b);
}

/**
 * All-way few-shot video recognition (the paper's K = 2, 4, 8, 16 table as curves): top-1 accuracy
 * and the share of paired motions' clips predicted as their time reversal, against clips per motion,
 * for prompts with and without the temporal transformer; zero-shot CLIP (no clips) dashed, chance dotted.
 */
export function videoFewshotFigure(results: Results): NamedFigure {
  const dataset = datasetsOf(results)[0] ?? 'world-motion';
  const shots = videoShotsOf(results);
  const methods = ['prompt', 'videoprompt'].filter((m) => results.rows.some((r) => r.method === m));
  const PANELS: [string, string][] = [['top-1 accuracy (all motions)', 'accuracy'], ['predicted as its time reversal', 'reversal-confusion']];
  let first = true;
  const { data, layout } = panels(PANELS.map((p) => p[0]), (key, xaxis, yaxis) => {
    const metric = (PANELS.find((p) => p[0] === key) as [string, string])[1];
    const flat = (name: string, group: string, y: number | undefined, color: string, dash: string) => ({
      type: 'scatter', mode: 'lines', name, legendgroup: group, showlegend: first, x: [shots[0], shots[shots.length - 1]], y: [y ?? null, y ?? null], xaxis, yaxis,
      line: { color, dash, width: 1.5 }, hovertemplate: `${name}: %{y:.1f}<extra></extra>`,
    });
    const out: Record<string, unknown>[] = methods.map((m) => {
      const rows = shots.map((k) => find(results.summary, m, dataset, 'test', `${metric}@${k}`));
      return {
        type: 'scatter', mode: 'lines+markers', name: methodLabel(m), legendgroup: m, showlegend: first,
        x: shots, y: rows.map((r) => (r ? r.mean : null)), xaxis, yaxis, line: { color: methodColor(m) },
        error_y: { type: 'data', array: rows.map((r) => (r && r.n > 1 ? r.std : 0)), visible: rows.some((r) => r !== undefined && r.n > 1), thickness: 1 },
        hovertemplate: `${methodLabel(m)}, k = %{x}: %{y:.1f}<extra></extra>`,
      };
    });
    out.push(flat(`${methodLabel('zeroshot')} (no clips)`, 'zeroshot', find(results.summary, 'zeroshot', dataset, 'test', `${metric}@0`)?.mean, methodColor('zeroshot'), 'dash'));
    const chance = chanceOf(results, dataset, 'test');
    if (metric === 'accuracy' && chance !== undefined) out.push(flat('chance (1 / classes)', 'chance', chance, '#000000', 'dot'));
    first = false;
    return out;
  }, '% of the test clips', 'training clips per motion (k)', { xType: 'log', xTicks: shots });
  const title = `All-way few-shot video recognition on ${dataset}, test split<br><sup>reversal: of the clips whose motion has a time reversal, the share predicted as it; ${runLabel(results)}</sup>`;
  const figure: PlotlyFigure = { data, layout: { ...baseLayout(title), ...layout, legend: LEGEND_BELOW, margin: { t: 100, b: 120, l: 70, r: 20 } } };
  return finish({ name: 'video-fewshot', figure, width: 1100, height: 500 });
}

/**
 * Zero-shot to motions held out of training: top-1 accuracy on the trained (seen) motions and on
 * the held-out ones, each scored among its own side's motions, and the share of held-out paired
 * motions' clips predicted as their time reversal; chance marked.
 */
export function videoHeldOutFigure(results: Results): NamedFigure {
  const dataset = datasetsOf(results)[0] ?? 'world-motion';
  const methods = ['zeroshot', 'prompt', 'videoprompt'].filter((m) => results.rows.some((r) => r.method === m));
  const cols: [string, string, string][] = [['seen motions (trained)', 'base', 'accuracy'], ['held-out motions', 'new', 'accuracy'], ['held-out: predicted as its reversal', 'new', 'reversal-confusion']];
  const xs = cols.map((c) => c[0]);
  const data: Record<string, unknown>[] = methods.map((m) => bars(m, xs, cols.map(([, split, metric]) => find(results.summary, m, dataset, split, metric))));
  data.push(...chanceMarks(xs, cols.map(([, split, metric]) => (metric === 'accuracy' ? chanceOf(results, dataset, split) : undefined))));
  const split = results.config.classSplit as { seen?: string[]; heldOut?: string[] } | undefined;
  const sides = split?.seen && split.heldOut ? `<br><sup>trained on ${split.seen.join(', ')}; held out: ${split.heldOut.join(', ')}</sup>` : '';
  const layout = {
    ...baseLayout(`Zero-shot to held-out motions on ${dataset}, test split (${runLabel(results)})${sides}`),
    barmode: 'group',
    xaxis: { title: { text: 'test clips (each scored among its own side\'s motions)', font: AXIS_FONT } },
    yaxis: yPercent('%', { range: [0, 105] }),
    legend: LEGEND_BELOW,
    margin: { t: 80, b: 110, l: 70, r: 20 },
  };
  return finish({ name: 'video-heldout', figure: { data, layout }, width: 1000, height: 500 });
}

export const DENSE_METRICS: [string, string][] = [['miou', 'mIoU'], ['pixel-accuracy', 'pixel accuracy']];

/** The all-background reference (%) a dense run recorded (config.allBackground), by metric; undefined where it has none. */
export function allBackgroundOf(results: Results, metric: string): number | undefined {
  const r = results.config.allBackground as { miou?: number; pixelAccuracy?: number } | undefined;
  const v = metric === 'miou' ? r?.miou : metric === 'pixel-accuracy' ? r?.pixelAccuracy : undefined;
  return typeof v === 'number' ? v : undefined;
}

/**
 * DenseCLIP's comparison on world-scenes: mIoU and pixel accuracy of the FPN without language, with
 * the score map of hand-crafted prompts and with DenseCLIP (mean ± std over seeds), and as a short
 * black dash what predicting background everywhere scores.
 */
export function denseFigure(results: Results): NamedFigure {
  const methods = ['baseline', 'fixed-prompts', 'denseclip'].filter((m) => results.rows.some((r) => r.method === m));
  const xs = DENSE_METRICS.map((x) => x[1]);
  const data: Record<string, unknown>[] = methods.map((m) => bars(m, xs, DENSE_METRICS.map(([metric]) => find(results.summary, m, 'world-scenes', 'test', metric))));
  // the reference as a black line across each metric's group of bars (its values in the legend)
  const floor = DENSE_METRICS.map(([metric]) => allBackgroundOf(results, metric));
  const shapes = floor.flatMap((v, i) => (v === undefined ? [] : [{ type: 'line', xref: 'x', yref: 'y', x0: i - 0.42, x1: i + 0.42, y0: v, y1: v, line: { color: '#000000', width: 2.5 } }]));
  if (shapes.length) {
    const say = floor.map((v, i) => (v === undefined ? '' : `${DENSE_METRICS[i][1]} ${v.toFixed(1)}`)).filter((t) => t).join(', ');
    data.push({ type: 'scatter', mode: 'lines', name: `background everywhere (${say})`, x: [null], y: [null], line: { color: '#000000', width: 2.5 }, hoverinfo: 'skip' });
  }
  const size = results.config.imageSize;
  const layout = {
    ...baseLayout(`Semantic segmentation on world-scenes${typeof size === 'number' ? ` (${size} px)` : ''}, test split<br><sup>${runLabel(results)}</sup>`),
    barmode: 'group', shapes,
    xaxis: { title: { text: 'metric (mmseg: intersection and union accumulated over the split)', font: AXIS_FONT } },
    yaxis: yPercent('%', { range: [0, 105] }),
    legend: LEGEND_BELOW,
  };
  return finish({ name: 'dense', figure: { data, layout }, width: 900, height: 480 });
}

/** The figures of one experiment's results. */
export function figuresFor(results: Results): NamedFigure[] {
  switch (results.experiment) {
    case 'czsl': return [czslFigure(results)];
    case 'zeroshot': return [zeroshotFigure(results)];
    case 'fewshot': return [fewshotFigure(results)];
    case 'base2new': return [base2newFigure(results), ...[base2newDeltaFigure(results)].filter((f): f is NamedFigure => f !== null)];
    case 'transfer': return [transferFigure(results)];
    case 'video': return videoFigures(results);
    case 'dense': return [denseFigure(results)];
    default: throw new Error(`no figures for experiment "${results.experiment}" (have: zeroshot, fewshot, base2new, transfer, czsl, video, dense)`);
  }
}
