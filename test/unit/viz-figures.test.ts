// The figure and table builders (src/viz): every figure names its dataset(s) and model, labels its
// axes and keeps base and new classes visibly apart; tables carry every number of the summary.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { figuresContext, requestKey, videoProtocolOutputs } from '../../src/repro/figures';
import type { ExperimentName } from '../../src/repro/experiments';
import { readResults, summarise, type Results, type ResultRow } from '../../src/repro/record';
import { base2newDeltaFigure, base2newFigure, chanceOf, comparisonFigure, fewshotFigure, figuresFor, promptStudyFigures, transferFigure, zeroshotFigure } from '../../src/viz/figures';
import type { PlotlyFigure } from '../../src/viz/plotly';
import { tableCsv, tableHtml, tableMarkdown, tablesFor } from '../../src/viz/tables';

function results(experiment: string, rows: ResultRow[], quick = true): Results {
  return {
    experiment,
    config: { model: '/somewhere/models/miniclip', quick, seeds: [...new Set(rows.map((r) => r.seed))] },
    env: { node: '20.0.0', backend: 'wasm', tfjs: '4.22.0', cpu: 'cpu', cpus: 2, gpu: null, platform: 'linux x64', git: { commit: null, dirty: null } },
    rows,
    summary: summarise(rows),
  };
}

const DATASETS = ['world-shapes', 'world-patterns'];
const rows = (method: string, split: string, metric: string, f: (d: number, s: number) => number, seeds = [1, 2]): ResultRow[] =>
  DATASETS.flatMap((dataset, d) => seeds.map((seed) => ({ method, dataset, split, metric, seed, value: f(d, seed) })));

const zeroshot = results('zeroshot', [...rows('zeroshot', 'test', 'accuracy', (d) => 40 + d, [0]), ...rows('zeroshot-ensemble', 'test', 'accuracy', (d) => 42 + d, [0])]);
const fewshot = results('fewshot', [
  ...rows('zeroshot', 'test', 'accuracy@0', (d) => 40 + d),
  ...[1, 4, 16].flatMap((k) => [...rows('coop', 'test', `accuracy@${k}`, (d, s) => 40 + k + d + s), ...rows('linear-probe', 'test', `accuracy@${k}`, (d, s) => 20 + 2 * k + s)]),
]);
const base2new = results('base2new', ['zeroshot', 'coop', 'cocoop'].flatMap((m, i) => [
  ...rows(m, 'base', 'accuracy', (d, s) => 50 + i + s),
  ...rows(m, 'new', 'accuracy', (d, s) => 60 - i + s),
  ...rows(m, 'all', 'H', (d, s) => 55 + s),
]));

const ROLES: [string, string][] = [['world-shapes', 'source'], ['world-sketches', 'dg'], ['world-patterns', 'xd'], ['world-positions', 'xd']];
const transfer = results('transfer', ['zeroshot', 'coop', 'cocoop'].flatMap((method, i) => ROLES.flatMap(([dataset, split], d) => [1, 2].map((seed) => ({ method, dataset, split, metric: 'accuracy', seed, value: 10 * d + i + seed })))));

function text(fig: PlotlyFigure): string {
  return JSON.stringify(fig);
}

function axisTitles(fig: PlotlyFigure): string[] {
  return Object.entries(fig.layout).filter(([k]) => /^[xy]axis\d*$/.test(k)).map(([, v]) => ((v as { title?: { text?: string } }).title?.text ?? ''));
}

describe('figures', () => {
  it('zero-shot: bars per benchmark and the average, both templates, titled with the model', () => {
    const { name, figure } = zeroshotFigure(zeroshot);
    assert.strictEqual(name, 'zeroshot-accuracy');
    assert.deepStrictEqual(figure.data.map((t) => t.name), ['Zero-shot CLIP', 'Zero-shot CLIP (ensemble)']);
    assert.deepStrictEqual(figure.data[0].x, [...DATASETS, 'average']);
    assert.deepStrictEqual(figure.data[0].y, [40, 41, 40.5]);
    assert.match(text(figure), /MiniCLIP, quick run, 1 seed/);
    assert.ok(axisTitles(figure).every((t) => t.length > 0), 'every axis has a title');
  });

  it('few-shot: a panel per benchmark plus the average, shots on a log axis, std over seeds as error bars', () => {
    const { figure } = fewshotFigure(fewshot);
    const panels = (figure.layout.annotations as { text: string }[]).map((a) => a.text);
    assert.deepStrictEqual(panels, ['<b>world-shapes</b>', '<b>world-patterns</b>', '<b>average</b>']);
    const coop = figure.data.filter((t) => t.name === 'CoOp');
    assert.strictEqual(coop.length, 3);
    assert.deepStrictEqual(coop[0].x, [1, 4, 16]);
    assert.deepStrictEqual(coop[0].y, [42.5, 45.5, 57.5]);
    assert.ok((coop[0].error_y as { array: number[] }).array.every((s) => Math.abs(s - Math.SQRT1_2) < 1e-9));
    assert.strictEqual(coop.filter((t) => t.showlegend).length, 1, 'one legend entry per method');
    assert.strictEqual((figure.layout.xaxis as { type: string }).type, 'log');
    assert.ok(figure.data.some((t) => t.name === 'Zero-shot CLIP (no shots)'));
    assert.match(text(figure), /2 seeds/);
  });

  it('base-to-new: base, new and H panels, new classes hatched, every method in the legend once', () => {
    const { figure } = base2newFigure(base2new);
    const panels = (figure.layout.annotations as { text: string }[]).map((a) => a.text).filter((t) => t.startsWith('<b>'));
    assert.deepStrictEqual(panels, ['<b>Base classes (seen in training)</b>', '<b>New classes (unseen)</b>', '<b>Harmonic mean H</b>']);
    assert.strictEqual(figure.data.length, 9);
    const hatched = figure.data.filter((t) => (t.marker as { pattern?: unknown }).pattern);
    assert.deepStrictEqual(hatched.map((t) => t.xaxis), ['x2', 'x2', 'x2']);
    assert.deepStrictEqual(figure.data.filter((t) => t.showlegend).map((t) => t.name), ['Zero-shot CLIP', 'CoOp', 'CoCoOp']);
    assert.ok(axisTitles(figure).filter((t) => t.length > 0).length >= 4);
  });

  it('transfer: a bar group per test benchmark named with its role, the cross-dataset average last', () => {
    const { figure } = transferFigure(transfer);
    assert.deepStrictEqual(figure.data.map((t) => t.name), ['Zero-shot CLIP', 'CoOp', 'CoCoOp']);
    assert.deepStrictEqual(figure.data[1].x, ['world-shapes<br>(source)', 'world-sketches<br>(domain shift)', 'world-patterns<br>(other dataset)', 'world-positions<br>(other dataset)', 'average of the<br>other datasets']);
    assert.deepStrictEqual(figure.data[1].y, [2.5, 12.5, 22.5, 32.5, 27.5]);
    assert.match(text(figure), /Trained on world-shapes/);
    assert.ok(axisTitles(figure).every((t) => t.length > 0));
  });

  it('comparison: the averages of every experiment, per method, in a classification panel', () => {
    const { figure } = comparisonFigure([zeroshot, fewshot, base2new]);
    assert.deepStrictEqual(figure.data[0].x, ['zero-shot,<br>all classes<br>(2 benchmarks)', '16 shots,<br>all classes<br>(2 benchmarks)', 'base classes<br>(2 benchmarks)', 'new classes<br>(2 benchmarks)', 'H of base<br>and new<br>(2 benchmarks)']);
    const coop = figure.data.find((t) => t.name === 'CoOp')!;
    assert.deepStrictEqual(coop.y, [null, 58, 52.5, 60.5, 56.5]);
    assert.ok(figure.data.every((t) => t.xaxis === 'x' && t.legendgroup === 'classification'), 'one panel when only classification ran');
    const withTransfer = comparisonFigure([zeroshot, fewshot, base2new, transfer]).figure;
    const x = withTransfer.data.find((t) => t.name === 'CoOp')!;
    assert.deepStrictEqual((x.x as string[]).slice(5), ['domain shift<br>(1 benchmark)', 'other datasets<br>(2 benchmarks)']);
    assert.match(text(withTransfer), /trained on world-shapes/);
    assert.deepStrictEqual((x.y as number[]).slice(5), [12.5, 27.5]);
  });

  it('comparison: a panel each for segmentation and video, with their own methods and baselines', () => {
    const dense = results('dense', ['baseline', 'fixed-prompts', 'denseclip'].flatMap((method, i) => [1, 2].map((seed) => ({ method, dataset: 'world-scenes', split: 'test', metric: 'miou', seed, value: 10 + i + seed }))));
    const video = results('video', ['zeroshot', 'prompt', 'videoprompt'].flatMap((method, i) => [1, 2].map((seed) => ({ method, dataset: 'world-motion', split: 'test', metric: 'accuracy', seed, value: 20 * i + seed }))));
    const { figure, width } = comparisonFigure([zeroshot, dense, video]);
    const panel = (axis: string) => figure.data.filter((t) => t.xaxis === axis).map((t) => [t.name, t.x, t.y]);
    assert.deepStrictEqual(panel('x'), [['Zero-shot CLIP', ['zero-shot,<br>all classes<br>(2 benchmarks)'], [40.5]], ['Zero-shot CLIP (ensemble)', ['zero-shot,<br>all classes<br>(2 benchmarks)'], [42.5]]]);
    assert.deepStrictEqual(panel('x2'), [['FPN on CLIP features (no language)', ['mIoU<br>(world-scenes)'], [11.5]], ['Score map of hand-crafted prompts', ['mIoU<br>(world-scenes)'], [12.5]], ['DenseCLIP', ['mIoU<br>(world-scenes)'], [13.5]]]);
    assert.deepStrictEqual(panel('x3'), [['Zero-shot CLIP', ['top-1<br>(world-motion)'], [1.5]], ['Prompts (mean of frames)', ['top-1<br>(world-motion)'], [21.5]], ['Prompts + temporal transformer', ['top-1<br>(world-motion)'], [41.5]]]);
    // the panels side by side without overlapping, every one on the same 0-100 scale
    const domains = ['xaxis', 'xaxis2', 'xaxis3'].map((k) => (figure.layout[k] as { domain: [number, number] }).domain);
    domains.slice(1).forEach((d, i) => assert.ok(d[0] > domains[i][1], `panel ${i + 2} starts after panel ${i + 1} ends`));
    assert.ok(domains[2][1] <= 1 + 1e-9);
    assert.strictEqual((figure.layout.yaxis3 as { matches: string }).matches, 'y');
    assert.match(String((figure.layout.yaxis as { title: { text: string } }).title.text), /mIoU/);
    assert.ok((width ?? 0) >= 1100);
    // video trains on frozen frame features by design: not the "cached features" caveat of the prompt learners
    assert.doesNotMatch(text(figure), /cached features/);
  });

  it('few-shot with CoOp\'s four variants and chance: a line per variant named by its context and class position, chance dotted', () => {
    const variants = ['coop', 'coop-middle', 'coop-end-csc', 'coop-middle-csc'];
    const r = results('fewshot', [
      ...rows('zeroshot', 'test', 'accuracy@0', (d) => 40 + d),
      ...[1, 2].flatMap((k) => [...rows('linear-probe', 'test', `accuracy@${k}`, () => 30), ...variants.flatMap((m, i) => rows(m, 'test', `accuracy@${k}`, () => 50 + i))]),
    ]);
    r.config.chance = { 'world-shapes': { test: 10 }, 'world-patterns': { test: 20 } };
    const { figure } = fewshotFigure(r);
    const legend = figure.data.filter((t) => t.showlegend).map((t) => t.name);
    assert.deepStrictEqual(legend, ['CoOp (unified context, class token at the end)', 'CoOp (unified, middle)', 'CoOp (class-specific, end)', 'CoOp (class-specific, middle)', 'Linear probe', 'Zero-shot CLIP (no shots)', 'chance (1 / classes)']);
    assert.deepStrictEqual(figure.data.filter((t) => t.name === 'CoOp (class-specific, middle)').map((t) => t.y), [[53, 53], [53, 53], [53, 53]]);
    // chance per panel; the average panel's is the mean of the benchmarks'
    assert.deepStrictEqual(figure.data.filter((t) => t.name === 'chance (1 / classes)').map((t) => (t.y as number[])[0]), [10, 20, 15]);
    assert.strictEqual(chanceOf(r, 'average', 'test'), 15);
    // a run without recorded chance levels draws none
    assert.ok(!fewshotFigure(fewshot).figure.data.some((t) => t.name === 'chance (1 / classes)'));
  });

  it('base-to-new: chance on base and new; CoCoOp − CoOp paired by seed on a fitted axis', () => {
    const r = { ...base2new, config: { ...base2new.config, chance: { 'world-shapes': { test: 10, base: 20, new: 20 }, 'world-patterns': { test: 20, base: 100 / 3, new: 50 } } } };
    const { figure } = base2newFigure(r);
    const chance = figure.data.filter((t) => t.name === 'chance (1 / classes)');
    assert.deepStrictEqual(chance.map((t) => t.xaxis), ['x', 'x2']);
    assert.deepStrictEqual(chance[1].y, [20, 50, 35]);
    const delta = base2newDeltaFigure(r)!;
    assert.deepStrictEqual(delta.figure.data.map((t) => t.name), ['Δ base', 'Δ new', 'Δ H']);
    // CoCoOp's base is CoOp's + 1, its new CoOp's - 1, their H equal, seed by seed
    assert.deepStrictEqual(delta.figure.data.map((t) => t.y), [[1, 1, 1], [-1, -1, -1], [0, 0, 0]]);
    const range = (delta.figure.layout.yaxis as { range: number[] }).range;
    assert.ok(range[0] < -1 && range[0] > -5 && range[1] > 1 && range[1] < 5, `fitted to the differences and their labels, not 0-100: ${range}`);
    assert.deepStrictEqual(figuresFor(r).map((f) => f.name), ['base2new', 'base2new-delta']);
    assert.strictEqual(base2newDeltaFigure(results('base2new', rows('coop', 'base', 'accuracy', () => 1))), null);
  });

  it('every bar has its value, drawn beyond its error bar in dark text, and no chance line crosses a label', () => {
    const chanceRun = (r: Results, chance: Record<string, Record<string, number>>): Results => ({ ...r, config: { ...r.config, chance } });
    // short bars (2 %, 4 %) right under chance (5 %): their labels must be lifted over the line
    const low = results('zeroshot', [...rows('zeroshot', 'test', 'accuracy', (d) => 2 + 2 * d, [0]), ...rows('zeroshot-ensemble', 'test', 'accuracy', (d) => 90 - d, [0])]);
    const figs = [
      zeroshotFigure(chanceRun(low, { 'world-shapes': { test: 5 }, 'world-patterns': { test: 5 } })),
      base2newFigure(chanceRun(base2new, { 'world-shapes': { base: 50, new: 55 }, 'world-patterns': { base: 52, new: 61 } })),
      transferFigure(transfer), base2newDeltaFigure(base2new)!,
    ];
    for (const { name, figure, height } of figs) {
      const bars = figure.data.filter((t) => t.type === 'bar') as { x: string[]; y: (number | null)[]; text: string[]; textposition: string; xaxis?: string; yaxis?: string; error_y: { array: number[]; visible: boolean } }[];
      const notes = figure.layout.annotations as { text: string; x: number; y: number; xref: string; yref: string; textangle?: number; yanchor: string; font?: { color?: string } }[];
      const margin = figure.layout.margin as { t: number; b: number };
      const plotPx = Math.min(height ?? 500, 500) - margin.t - margin.b;
      for (const b of bars) {
        assert.strictEqual(b.textposition, 'none', `${name}: no text drawn on the bar itself`);
        b.y.forEach((v, i) => {
          if (v === null) return;
          assert.ok(b.text[i] !== '', `${name} ${b.x[i]}: a value`);
          const label = notes.find((a) => a.text === b.text[i] && a.xref === (b.xaxis ?? 'x') && a.yref === (b.yaxis ?? 'y') && Math.abs(a.x - i) < 0.5 && a.textangle === -90);
          assert.ok(label, `${name} ${b.x[i]} ${b.text[i]}: labelled`);
          assert.strictEqual(label.font?.color, '#222222');
          const e = b.error_y.visible ? b.error_y.array[i] : 0;
          if (v >= 0) assert.ok(label.y >= v + e && label.yanchor === 'bottom', `${name} ${b.x[i]}: above its error bar`);
          else assert.ok(label.y <= v - e && label.yanchor === 'top', `${name} ${b.x[i]}: below its error bar`);
          // the label's extent in data units, from the axis span and the plot's height
          const yk = (b.yaxis ?? 'y') === 'y' ? 'yaxis' : `yaxis${(b.yaxis as string).slice(1)}`;
          const axis = figure.layout[yk] as { range?: number[]; matches?: string };
          const range = (axis.matches ? (figure.layout.yaxis as { range: number[] }) : axis).range!;
          const len = ((b.text[i].length * 0.56 * 11 + 4) * (range[1] - range[0])) / plotPx;
          const [lo, hi] = v >= 0 ? [label.y, label.y + len] : [label.y - len, label.y];
          assert.ok(hi <= range[1] + 1e-9 && lo >= range[0] - 1e-9, `${name} ${b.x[i]}: inside the y range`);
          const chance = figure.data.filter((t) => t.legendgroup === 'chance' && (t.xaxis ?? 'x') === (b.xaxis ?? 'x')).map((t) => (t.y as (number | null)[])[i]);
          for (const c of chance) if (typeof c === 'number') assert.ok(c < lo || c > hi, `${name} ${b.x[i]}: chance ${c} crosses the label ${b.text[i]} at ${lo.toFixed(1)}-${hi.toFixed(1)}`);
        });
      }
    }
    // the 2 % bar under chance: its label starts above the line
    const z = figs[0].figure.layout.annotations as { text: string; y: number }[];
    assert.ok(z.find((a) => a.text === '2.0')!.y > 5);
  });

  it('titles and subtitles are wrapped to the width a notebook draws at (900 px), never clipped', () => {
    const split = { seen: ['moving left', 'moving right', 'growing', 'shrinking', 'bouncing'], heldOut: ['moving up', 'moving down', 'rotating clockwise', 'rotating counterclockwise', 'changing colour'] };
    const held = results('video', [{ method: 'videoprompt', dataset: 'world-motion', split: 'base', metric: 'accuracy', seed: 1, value: 30 }]);
    const fig = figuresFor({ ...held, config: { ...held.config, protocol: 'zeroshot', classSplit: split } })[0];
    assert.strictEqual(fig.name, 'video-heldout');
    const all = [fig, zeroshotFigure(zeroshot), base2newFigure(base2new), base2newDeltaFigure(base2new)!, transferFigure(transfer), fewshotFigure(fewshot)];
    for (const f of all) {
      const title = f.figure.layout.title as { text: string; font: { size: number }; yanchor: string };
      const width = Math.min(f.width ?? 900, 900) - 40;
      for (const line of title.text.split('<br>')) {
        const sup = line.startsWith('<sup>');
        const chars = line.replace(/<[^>]*>/g, '').length;
        assert.ok(chars * 0.56 * title.font.size * (sup ? 0.7 : 1) <= width, `${f.name}: "${line}" is wider than ${width} px`);
      }
      assert.strictEqual(title.yanchor, 'top');
      const lines = title.text.split('<br>').length;
      assert.ok((f.figure.layout.margin as { t: number }).t >= 10 + 20 * lines, `${f.name}: the top margin holds ${lines} title lines`);
    }
    const text = (fig.figure.layout.title as { text: string }).text;
    assert.ok(text.split('<br>').filter((l) => l.startsWith('<sup>')).length >= 2, 'the long held-out subtitle is wrapped');
    assert.match(text.replace(/<\/sup><br><sup>/g, ' '), /trained on moving left, .* changing colour/);
  });

  it('legends sit at the figure\'s foot in pixels, under the x-axis titles, with the margin to hold both', () => {
    const all = [zeroshotFigure(zeroshot), base2newFigure(base2new), transferFigure(transfer), fewshotFigure(fewshot), ...promptStudyFigures({ dataset: 'd', chance: 10, templates: [{ template: 'a', accuracy: 40 }], scales: [{ scale: 1, accuracy: 40, confidence: 20, nll: 2, learned: true }] } as never)];
    for (const f of all) {
      const layout = f.figure.layout as { legend: Record<string, unknown>; showlegend?: boolean; margin: { b: number } };
      if (layout.showlegend === false) continue;
      assert.deepStrictEqual([layout.legend.yref, layout.legend.y, layout.legend.yanchor], ['container', 0, 'bottom'], f.name);
      // tick labels (~20 px), the axis title (~25 px) and a legend row (~25 px)
      assert.ok(layout.margin.b >= 100, `${f.name}: margin.b ${layout.margin.b}`);
    }
  });

  it('base-to-new: benchmark names rotated steeply enough that neighbours never overlap at 900 px', () => {
    const { figure } = base2newFigure(base2new);
    const xs = Object.entries(figure.layout).filter(([k]) => /^xaxis\d*$/.test(k)).map(([, v]) => v as { tickangle: number; automargin: boolean });
    assert.strictEqual(xs.length, 3);
    const slot = (900 - 90) / 3 / 6; // px per benchmark with six benchmarks in a notebook
    for (const x of xs) {
      assert.ok(Math.abs(x.tickangle) >= 60 && x.automargin);
      assert.ok(slot * Math.sin((Math.abs(x.tickangle) * Math.PI) / 180) >= 2 * 12, 'rotated labels at least two line heights apart');
    }
  });

  it('prompt study: a dot per template and the ensemble on an axis fitted to their spread; the learned logit scale marked', () => {
    const study = {
      dataset: 'world-shapes',
      chance: 10,
      templates: [{ template: 'a photo of a {}.', accuracy: 40 }, { template: 'a {}.', accuracy: 30 }, { template: 'ensemble of 2', accuracy: 41 }],
      scales: [1, 15, 100].map((scale) => ({ scale, learned: scale === 15, accuracy: 40, confidence: scale, nll: 1 / scale })),
    };
    const [templates, scales] = promptStudyFigures(study);
    assert.deepStrictEqual(templates.figure.data[0].y, ['a photo of a {}.', 'a {}.', 'ensemble of 2']);
    assert.match(text(scales.figure), /learned: 15\.0/);
    assert.match(text(templates.figure), /world-shapes, MiniCLIP/);
    // 30..41 with 2.75 points of padding either side; chance (10) is outside it and not drawn
    const xaxis = templates.figure.layout.xaxis as { range: number[]; title: { text: string } };
    assert.deepStrictEqual(xaxis.range, [27.25, 43.75]);
    assert.match(xaxis.title.text, /spans 27-44, not 0-100 \(chance: 10\.0\)/);
    assert.deepStrictEqual(templates.figure.layout.shapes, []);
  });

  it('figuresFor refuses an experiment it has no figures for, naming the ones it has', () => {
    assert.throws(() => figuresFor({ ...zeroshot, experiment: 'nosuch' }), /no figures for experiment "nosuch" \(have: zeroshot, fewshot, base2new, transfer, czsl, video, dense\)/);
  });
});

describe('tables', () => {
  it('pivot a benchmark per row and a column per method/split, mean ± std over seeds, average last', () => {
    const [t] = tablesFor(base2new);
    const md = tableMarkdown(t);
    const lines = md.trim().split('\n');
    assert.match(lines[0], /Base-to-new generalisation, 16 shots \(%\), MiniCLIP/);
    assert.strictEqual(lines[2], '| benchmark | Zero-shot CLIP base | Zero-shot CLIP new | Zero-shot CLIP H | CoOp base | CoOp new | CoOp H | CoCoOp base | CoCoOp new | CoCoOp H | Δ base (CoCoOp − CoOp) | Δ new (CoCoOp − CoOp) | Δ H (CoCoOp − CoOp) |');
    // the run's order, as in the figures (world-shapes was run first), not alphabetical
    assert.match(lines[4], /^\| world-shapes \| 51\.5 ± 0\.7 \| 61\.5 ± 0\.7 \| 56\.5 ± 0\.7 \| 52\.5 ± 0\.7 /);
    assert.match(lines[4], /\| 1\.0 ± 0\.0 \| -1\.0 ± 0\.0 \| 0\.0 ± 0\.0 \|$/);
    assert.match(lines[5], /^\| world-patterns \|/);
    assert.match(lines[lines.length - 1], /^\| average \|/);
    const csv = tableCsv(t).trim().split('\n');
    assert.strictEqual(csv.length, 4);
    assert.strictEqual(csv[0].split(',').length, 13);
    assert.match(tableHtml(t), /<caption>Base-to-new generalisation/);
  });

  it('transfer: one row per benchmark in the run\'s order with its role, the cross-dataset average last', () => {
    const [t] = tablesFor(transfer);
    const lines = tableMarkdown(t).trim().split('\n');
    assert.match(lines[0], /Trained on world-shapes \(16 shots\), tested on each benchmark/);
    assert.strictEqual(lines[2], '| benchmark | role | Zero-shot CLIP | CoOp | CoCoOp |');
    assert.deepStrictEqual(lines.slice(4).map((l) => l.split(' | ').slice(0, 2).join(' ')), ['| world-shapes source', '| world-sketches dg', '| world-patterns xd', '| world-positions xd', '| average xd']);
    assert.match(lines[lines.length - 1], /\| 27\.5 ± 0\.7 \| 28\.5 ± 0\.7 \|$/);
  });

  it('few-shot and zero-shot tables; a cell with a comma, a quote or a line break is quoted in CSV', () => {
    const [few] = tablesFor(fewshot);
    assert.deepStrictEqual(few.frame.columns, ['benchmark', 'Zero-shot CLIP', 'Linear probe 1-shot', 'Linear probe 4-shot', 'Linear probe 16-shot', 'CoOp 1-shot', 'CoOp 4-shot', 'CoOp 16-shot']);
    const [zs] = tablesFor(zeroshot);
    assert.match(tableMarkdown(zs), /\| world-shapes \| 40\.0 \| 42\.0 \|/);
    const bad = tablesFor(results('zeroshot', rows('zeroshot', 'test', 'accuracy', () => 1, [0]).map((r) => ({ ...r, dataset: 'a,b' }))))[0];
    assert.match(tableCsv(bad), /\n"a,b",/);
    const quoted = tablesFor(results('zeroshot', rows('zeroshot', 'test', 'accuracy', () => 1, [0]).map((r) => ({ ...r, dataset: 'say "hi"\nthere' }))))[0];
    assert.match(tableCsv(quoted), /\n"say ""hi""\nthere",/);
    // plain cells are written as before (the committed CSVs were written by danfojs' toCSV)
    const committed = path.join(__dirname, '..', '..', 'results', 'zeroshot', 'full');
    assert.strictEqual(tableCsv(tablesFor(readResults(committed))[0]), fs.readFileSync(path.join(committed, 'zeroshot-accuracy.csv'), 'utf8'));
  });
});

describe('npm run figures: the context', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-figures-ctx-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const quiet = () => undefined;
  /** A video run's results, recording its protocol as repro does (none for the default). */
  const withProtocol = (protocol?: string): Results => {
    const r = results('video', [{ method: 'videoprompt', dataset: 'world-motion', split: 'test', metric: 'accuracy', seed: 1, value: 30 }]);
    return { ...r, config: { ...r.config, ...(protocol === undefined ? {} : { protocol }) } };
  };

  it('runs each experiment once per protocol: the cache and the results copies are keyed by protocol, the default by name being none', async () => {
    const calls: string[] = [];
    const ctx = figuresContext({
      quick: true, model: '/m', out: tmp, log: quiet,
      run: async (name: ExperimentName, protocol: string | undefined) => {
        calls.push(`${name} ${protocol ?? '-'}`);
        return name === 'video' ? withProtocol(protocol) : results(name, []);
      },
      committed: () => { throw new Error('nothing committed is asked for here'); },
    });
    const closed = ctx.experiment('video');
    assert.strictEqual(ctx.experiment('video'), closed, 'asked again: the same promise');
    assert.strictEqual(ctx.experiment('video', { protocol: 'closed' }), closed, 'the default protocol by name is the same request');
    const few = await ctx.experiment('video', { protocol: 'fewshot' });
    const held = await ctx.experiment('video', { protocol: 'zeroshot' });
    await ctx.experiment('video', { protocol: 'fewshot' });
    await ctx.experiment('zeroshot');
    assert.deepStrictEqual(calls, ['video -', 'video fewshot', 'video zeroshot', 'zeroshot -']);
    assert.strictEqual((await closed).config.protocol, undefined);
    assert.strictEqual(few.config.protocol, 'fewshot');
    assert.strictEqual(held.config.protocol, 'zeroshot');
    assert.deepStrictEqual(fs.readdirSync(path.join(tmp, 'results')).sort(), ['video-fewshot.json', 'video-zeroshot.json', 'video.json', 'zeroshot.json']);
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(tmp, 'results', 'video-fewshot.json'), 'utf8')).config.protocol, 'fewshot');
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(tmp, 'results', 'video.json'), 'utf8')).config.protocol, undefined);
    // a protocol an experiment does not have is refused before anything runs
    assert.throws(() => ctx.experiment('zeroshot', { protocol: 'fewshot' }), /zeroshot: --protocol is a video option \(its protocols: closed, fewshot, zeroshot\)/);
    assert.throws(() => ctx.experiment('video', { protocol: 'open' }), /video: unknown protocol "open" \(valid: closed, fewshot, zeroshot/);
    assert.strictEqual(calls.length, 4);
    assert.deepStrictEqual([requestKey('video'), requestKey('video', { protocol: 'closed' }), requestKey('video', { protocol: 'fewshot' }), requestKey('video', { protocol: 'fewshot', committed: true })], ['video', 'video', 'video-fewshot', 'video-fewshot-committed']);
  });

  it('committed results are loaded per protocol, never run, and cached apart from the runs', async () => {
    const loads: string[] = [];
    const ctx = figuresContext({
      quick: true, model: '/m', out: path.join(tmp, 'committed'), log: quiet,
      run: async (name: ExperimentName, protocol: string | undefined) => withProtocol(protocol),
      committed: (name: ExperimentName, protocol: string | undefined) => {
        loads.push(`${name} ${protocol ?? '-'}`);
        return { ...withProtocol(protocol), config: { ...withProtocol(protocol).config, quick: false } };
      },
    });
    const run = await ctx.experiment('video', { protocol: 'fewshot' });
    const committed = await ctx.experiment('video', { protocol: 'fewshot', committed: true });
    await ctx.experiment('video', { protocol: 'fewshot', committed: true });
    await ctx.experiment('video', { committed: true });
    assert.deepStrictEqual(loads, ['video fewshot', 'video -']);
    assert.strictEqual(run.config.quick, true);
    assert.strictEqual(committed.config.quick, false);
    assert.deepStrictEqual(fs.readdirSync(path.join(tmp, 'committed', 'results')).sort(), ['video-committed.json', 'video-fewshot-committed.json', 'video-fewshot.json']);
  });

  it("notebook 05's few-shot and held-out figures and tables come from the committed full results, with nothing run", async () => {
    const ctx = figuresContext({
      quick: true, model: '/m', out: path.join(tmp, 'video'), log: quiet,
      run: () => { throw new Error('notebook 05\'s protocol figures must not run anything'); },
    });
    const { figures, tables } = await videoProtocolOutputs(ctx);
    assert.deepStrictEqual(figures.map((f) => f.name), ['video-fewshot', 'video-heldout']);
    assert.deepStrictEqual(tables.map((t) => t.name), ['video-fewshot', 'video-heldout']);
    const root = path.join(__dirname, '..', '..', 'results', 'video');
    for (const [protocol, name] of [['fewshot', 'video-fewshot'], ['zeroshot', 'video-heldout']]) {
      const committed = readResults(path.join(root, protocol, 'full'));
      // the committed run as it is: its figure, and its copy under DIR/results/
      assert.deepStrictEqual(figures.find((f) => f.name === name), figuresFor(committed)[0]);
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(tmp, 'video', 'results', `video-${protocol}-committed.json`), 'utf8')), committed);
    }
    // few-shot: accuracy against k = 2, 4, 8, 16 for each method, zero-shot CLIP and chance (10%) flat across
    const few = figures[0].figure;
    assert.match(text(few), /full run, 3 seeds/);
    const accuracy = (few.data as { name: string; x: number[]; y: (number | null)[]; xaxis?: string }[]).filter((t) => t.xaxis === 'x' || t.xaxis === undefined);
    for (const m of ['Prompts (mean of frames)', 'Prompts + temporal transformer']) {
      const t = accuracy.find((x) => x.name === m)!;
      assert.deepStrictEqual(t.x, [2, 4, 8, 16], m);
      assert.ok(t.y.every((v) => typeof v === 'number'), m);
    }
    assert.deepStrictEqual(accuracy.find((x) => x.name === 'chance (1 / classes)')!.y, [10, 10]);
    // held out: a bar per method on each side, chance (20%: five motions a side) marked on the accuracies
    const held = figures[1].figure;
    const bars = (held.data as { type: string; name: string; text?: string[] }[]).filter((t) => t.type === 'bar');
    assert.deepStrictEqual(bars.map((b) => b.name), ['Zero-shot CLIP', 'Prompts (mean of frames)', 'Prompts + temporal transformer']);
    assert.ok(bars.some((b) => (b.text ?? []).some((v) => v !== '')), 'value labels on the bars');
    assert.deepStrictEqual((held.data as { name: string; y: (number | null)[] }[]).find((t) => t.name === 'chance (1 / classes)')!.y, [20, 20, null]);
  });
});
