// The papers' figures as plotly specs, built from results files (src/repro): the same builders serve
// the notebooks, `npm run figures` and anyone with a results.json. Every figure names its dataset(s)
// and model in the title, labels its axes, and keeps one colour per method across figures.
import * as path from 'path';
import type { CoOpWalkthrough } from '../repro/coop-walkthrough';
import type { PromptStudy } from '../repro/prompts';
import { trainedOnCachedFeatures, type Results, type SummaryRow } from '../repro/record';
import type { NamedFigure, PlotlyFigure } from './plotly';

export const METHOD_STYLE: Record<string, { label: string; color: string }> = {
  zeroshot: { label: 'Zero-shot CLIP', color: '#7f7f7f' },
  'zeroshot-ensemble': { label: 'Zero-shot CLIP (ensemble)', color: '#bcbd22' },
  'linear-probe': { label: 'Linear probe', color: '#2ca02c' },
  coop: { label: 'CoOp', color: '#1f77b4' },
  cocoop: { label: 'CoCoOp', color: '#ff7f0e' },
  csp: { label: 'CSP', color: '#d62728' },
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

function baseLayout(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: { text: title, font: { size: 16 } },
    font: { family: 'Helvetica, Arial, sans-serif', size: 12 },
    legend: { orientation: 'h', y: -0.2 },
    margin: { t: 80, b: 90, l: 70, r: 20 },
    plot_bgcolor: '#ffffff',
    ...extra,
  };
}

function yPercent(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: { text: title, font: AXIS_FONT }, range: [0, 100], gridcolor: '#e5e5e5', zeroline: false, ...extra };
}

/** Bars with error bars (std over seeds where there is more than one seed). */
function bars(method: string, xs: string[], rows: (SummaryRow | undefined)[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const std = rows.map((r) => (r && r.n > 1 ? r.std : 0));
  return {
    type: 'bar',
    name: methodLabel(method),
    x: xs,
    y: rows.map((r) => (r ? r.mean : null)),
    marker: { color: methodColor(method) },
    error_y: { type: 'data', array: std, visible: std.some((s) => s > 0) },
    text: rows.map((r) => (r ? r.mean.toFixed(1) : '')),
    textposition: 'outside',
    cliponaxis: false,
    ...extra,
  };
}

/** Zero-shot accuracy per benchmark: the hand-crafted template against the template ensemble. */
export function zeroshotFigure(results: Results): NamedFigure {
  const ds = [...datasetsOf(results), 'average'];
  const methods = ['zeroshot', 'zeroshot-ensemble'];
  const figure: PlotlyFigure = {
    data: methods.map((m) => bars(m, ds, ds.map((d) => find(results.summary, m, d, 'test', 'accuracy')))),
    layout: baseLayout(`Zero-shot test accuracy on the world benchmarks (${runLabel(results)})`, {
      barmode: 'group',
      xaxis: { title: { text: 'benchmark (test split)', font: AXIS_FONT } },
      yaxis: yPercent('accuracy (%)'),
    }),
  };
  return { name: 'zeroshot-accuracy', figure };
}

/** Accuracy of each template alone and of the ensemble, and what the logit scale does. */
export function promptStudyFigures(study: PromptStudy, model = 'MiniCLIP'): NamedFigure[] {
  const t = study.templates;
  const templates: PlotlyFigure = {
    data: [{
      type: 'bar',
      orientation: 'h',
      y: t.map((s) => s.template),
      x: t.map((s) => s.accuracy),
      marker: { color: t.map((s) => (s.template.startsWith('ensemble') ? methodColor('zeroshot-ensemble') : methodColor('zeroshot'))) },
      text: t.map((s) => s.accuracy.toFixed(1)),
      textposition: 'outside',
      cliponaxis: false,
      name: 'template',
    }],
    layout: baseLayout(`Prompt engineering: zero-shot accuracy per template (${study.dataset}, ${model})`, {
      showlegend: false,
      margin: { t: 80, b: 60, l: 260, r: 40 },
      xaxis: yPercent('test accuracy (%)'),
      yaxis: { title: { text: 'template', font: AXIS_FONT }, autorange: 'reversed', automargin: true },
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
      margin: { t: 80, b: 90, l: 70, r: 70 },
      shapes: learned ? [{ type: 'line', xref: 'x', yref: 'paper', x0: learned.scale, x1: learned.scale, y0: 0, y1: 1, line: { dash: 'dash', color: '#444', width: 1 } }] : [],
      annotations: learned ? [{ x: Math.log10(learned.scale), xref: 'x', yref: 'paper', y: 1.02, text: `learned: ${learned.scale.toFixed(1)}`, showarrow: false }] : [],
    }),
  };
  return [{ name: 'prompt-templates', figure: templates, height: 420 }, { name: 'logit-scale', figure: scales }];
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
      margin: { t: 80, b: 110, l: 70, r: 70 },
    }),
  };
  return { name: 'coop-training', figure };
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

/** CoOp's Figure 3: accuracy against shots per benchmark, CoOp and linear probe, zero-shot as a line. */
export function fewshotFigure(results: Results): NamedFigure {
  const keys = [...datasetsOf(results), 'average'];
  const shots = [...new Set(results.rows.map((r) => Number(r.metric.split('@')[1])).filter((k) => k > 0))].sort((a, b) => a - b);
  let first = true;
  const { data, layout } = panels(keys, (d, xaxis, yaxis) => {
    const line = (method: string, dash?: string) => {
      const rows = shots.map((k) => find(results.summary, method, d, 'test', `accuracy@${k}`));
      return {
        type: 'scatter', mode: 'lines+markers', name: methodLabel(method), legendgroup: method, showlegend: first,
        x: shots, y: rows.map((r) => (r ? r.mean : null)), xaxis, yaxis,
        line: { color: methodColor(method), ...(dash ? { dash } : {}) },
        error_y: { type: 'data', array: rows.map((r) => (r && r.n > 1 ? r.std : 0)), visible: rows.some((r) => r !== undefined && r.n > 1) },
      };
    };
    const zs = find(results.summary, 'zeroshot', d, 'test', 'accuracy@0');
    const out = [
      line('coop'),
      line('linear-probe'),
      { type: 'scatter', mode: 'lines', name: `${methodLabel('zeroshot')} (no shots)`, legendgroup: 'zeroshot', showlegend: first, x: [shots[0], shots[shots.length - 1]], y: [zs?.mean ?? null, zs?.mean ?? null], xaxis, yaxis, line: { color: methodColor('zeroshot'), dash: 'dash' } },
    ];
    first = false;
    return out;
  }, 'test accuracy (%)', 'shots per class', { xType: 'log', xTicks: shots });
  const figure: PlotlyFigure = { data, layout: { ...baseLayout(`Few-shot learning on the world benchmarks (${runLabel(results)})`), ...layout } };
  return { name: 'fewshot-curves', figure, width: Math.max(900, 260 * keys.length), height: 460 };
}

/** CoCoOp's base-to-new table as a figure: base and new accuracy and H per benchmark and method. */
export function base2newFigure(results: Results): NamedFigure {
  const ds = [...datasetsOf(results), 'average'];
  const methods = ['zeroshot', 'coop', 'cocoop'].filter((m) => results.rows.some((r) => r.method === m));
  const panelsSpec: [string, string, string][] = [['Base classes (seen in training)', 'base', 'accuracy'], ['New classes (unseen)', 'new', 'accuracy'], ['Harmonic mean H', 'all', 'H']];
  let first = true;
  const { data, layout } = panels(panelsSpec.map((p) => p[0]), (key, xaxis, yaxis) => {
    const [, split, metric] = panelsSpec.find((p) => p[0] === key)!;
    const out = methods.map((m) => bars(m, ds, ds.map((d) => find(results.summary, m, d, split, metric)), {
      xaxis, yaxis, legendgroup: m, showlegend: first, textfont: { size: 9 },
      // new classes drawn hatched, so base and new stay apart in print too
      marker: { color: methodColor(m), ...(split === 'new' ? { pattern: { shape: '/', fillmode: 'overlay', fgcolor: '#ffffff', fgopacity: 0.6, size: 8, solidity: 0.35 } } : {}) },
    }));
    first = false;
    return out;
  }, 'test accuracy / H (%)', 'benchmark');
  const figure: PlotlyFigure = {
    data,
    layout: { ...baseLayout(`Base-to-new generalisation, 16 shots (${runLabel(results)}); new classes hatched`), barmode: 'group', ...layout, legend: { orientation: 'h', y: -0.32 }, margin: { t: 80, b: 140, l: 70, r: 20 } },
  };
  return { name: 'base2new', figure, width: 1500, height: 540 };
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
    data: methods.map((m) => bars(m, cols.map((c) => c.label), cols.map((c) => find(results.summary, m, c.dataset, c.split, 'accuracy')), { textfont: { size: 10 } })),
    layout: baseLayout(`Trained on ${source}, tested elsewhere (${runLabel(results)})`, {
      barmode: 'group',
      xaxis: { title: { text: 'test benchmark (its role)', font: AXIS_FONT }, tickangle: 0 },
      yaxis: yPercent('test accuracy (%)'),
      legend: { orientation: 'h', y: -0.3 },
      margin: { t: 80, b: 130, l: 70, r: 20 },
    }),
  };
  return { name: 'transfer', figure, width: 1200, height: 500 };
}

/**
 * Every method implemented so far side by side, averaged over the benchmarks: zero-shot accuracy,
 * few-shot accuracy at the most shots, base / new / H, and transfer from one source to shifted
 * domains and other datasets.
 */
export function comparisonFigure(all: Results[]): NamedFigure {
  const cols: { label: string; pick: (m: string) => SummaryRow | undefined }[] = [];
  const z = all.find((r) => r.experiment === 'zeroshot');
  const f = all.find((r) => r.experiment === 'fewshot');
  const b = all.find((r) => r.experiment === 'base2new');
  const x = all.find((r) => r.experiment === 'transfer');
  const count = (r: Results) => `${datasetsOf(r).length} benchmarks`;
  if (z) cols.push({ label: `zero-shot,<br>all classes<br>(${count(z)})`, pick: (m) => (m === 'zeroshot' || m === 'zeroshot-ensemble' ? find(z.summary, m, 'average', 'test', 'accuracy') : undefined) });
  if (f) {
    const k = Math.max(...f.rows.map((r) => Number(r.metric.split('@')[1])));
    cols.push({ label: `${k} shots,<br>all classes<br>(${count(f)})`, pick: (m) => find(f.summary, m, 'average', 'test', m === 'zeroshot' ? 'accuracy@0' : `accuracy@${k}`) });
  }
  if (b) {
    cols.push({ label: `base classes<br>(${count(b)})`, pick: (m) => find(b.summary, m, 'average', 'base', 'accuracy') });
    cols.push({ label: `new classes<br>(${count(b)})`, pick: (m) => find(b.summary, m, 'average', 'new', 'accuracy') });
    cols.push({ label: `H of base<br>and new<br>(${count(b)})`, pick: (m) => find(b.summary, m, 'average', 'all', 'H') });
  }
  const source = x?.rows.find((r) => r.split === 'source')?.dataset ?? '?';
  if (x) {
    const targets = (split: string) => new Set(x.rows.filter((r) => r.split === split).map((r) => r.dataset)).size;
    if (targets('dg') > 0) cols.push({ label: `domain shift<br>(${targets('dg')} benchmark${targets('dg') === 1 ? '' : 's'})`, pick: (m) => find(x.summary, m, 'average', 'dg', 'accuracy') });
    if (targets('xd') > 0) cols.push({ label: `other datasets<br>(${targets('xd')} benchmark${targets('xd') === 1 ? '' : 's'})`, pick: (m) => find(x.summary, m, 'average', 'xd', 'accuracy') });
  }
  const cz = all.find((r) => r.experiment === 'czsl');
  if (cz) {
    cols.push({ label: 'unseen pairs,<br>closed world<br>(world-czsl)', pick: (m) => find(cz.summary, m, 'world-czsl', 'closed', 'unseen') });
    cols.push({ label: 'AUC, closed<br>world<br>(world-czsl)', pick: (m) => find(cz.summary, m, 'world-czsl', 'closed', 'auc') });
  }
  const methods = Object.keys(METHOD_STYLE).filter((m) => cols.some((c) => c.pick(m)));
  const model = all.length ? modelLabel(all[0]) : 'MiniCLIP';
  const quick = all.some((r) => r.config.quick);
  const cached = all.filter((r) => r.experiment !== 'zeroshot' && trainedOnCachedFeatures(r)).map((r) => r.experiment);
  const figure: PlotlyFigure = {
    data: methods.map((m) => bars(m, cols.map((c) => c.label), cols.map((c) => c.pick(m)))),
    layout: baseLayout(`Every method so far, averaged over the world benchmarks (${model}${quick ? ', quick runs' : ''}${cached.length ? `; ${cached.join(', ')} on cached features` : ''})`, {
      barmode: 'group',
      xaxis: { title: { text: x ? `protocol and split (domain shift and other datasets: the models trained on ${source})` : 'protocol and split', font: AXIS_FONT }, tickangle: 0, automargin: true },
      yaxis: yPercent('average test accuracy / H (%)'),
      legend: { orientation: 'h', y: -0.34 },
      margin: { t: 80, b: 150, l: 70, r: 20 },
    }),
  };
  return { name: 'comparison', figure, width: Math.max(1000, 190 * cols.length) };
}

const CZSL_METRICS: [string, string][] = [['seen', 'seen (S)'], ['unseen', 'unseen (U)'], ['hm', 'best HM'], ['auc', 'AUC']];

/** CSP's Table 1 as a figure: S, U, HM and AUC per method, closed and open world. */
export function czslFigure(results: Results): NamedFigure {
  const methods = ['zeroshot', 'coop', 'csp'].filter((m) => results.rows.some((r) => r.method === m));
  let first = true;
  const { data, layout } = panels(['closed world', 'open world'], (key, xaxis, yaxis) => {
    const split = key.startsWith('closed') ? 'closed' : 'open';
    const out = methods.map((m) => bars(m, CZSL_METRICS.map((x) => x[1]), CZSL_METRICS.map(([metric]) => find(results.summary, m, 'world-czsl', split, metric)), { xaxis, yaxis, legendgroup: m, showlegend: first, textfont: { size: 10 } }));
    first = false;
    return out;
  }, 'accuracy / HM / AUC (%)', 'metric (test split)');
  const figure: PlotlyFigure = { data, layout: { ...baseLayout(`Compositional zero-shot learning on world-czsl (${runLabel(results)})`), barmode: 'group', ...layout, legend: { orientation: 'h', y: -0.25 } } };
  return { name: 'czsl', figure, width: 1200, height: 480 };
}

/** The figures of one experiment's results. */
export function figuresFor(results: Results): NamedFigure[] {
  switch (results.experiment) {
    case 'czsl': return [czslFigure(results)];
    case 'zeroshot': return [zeroshotFigure(results)];
    case 'fewshot': return [fewshotFigure(results)];
    case 'base2new': return [base2newFigure(results)];
    case 'transfer': return [transferFigure(results)];
    default: throw new Error(`no figures for experiment "${results.experiment}" (have: zeroshot, fewshot, base2new, transfer)`);
  }
}
