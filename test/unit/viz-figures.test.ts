// The figure and table builders (src/viz): every figure names its dataset(s) and model, labels its
// axes and keeps base and new classes visibly apart; tables carry every number of the summary.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
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
    const panels = (figure.layout.annotations as { text: string }[]).map((a) => a.text);
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
    assert.strictEqual((delta.figure.layout.yaxis as { range?: unknown }).range, undefined, 'fitted, not 0-100');
    assert.deepStrictEqual(figuresFor(r).map((f) => f.name), ['base2new', 'base2new-delta']);
    assert.strictEqual(base2newDeltaFigure(results('base2new', rows('coop', 'base', 'accuracy', () => 1))), null);
  });

  it('bar values sit inside the bars (never on the error bars), hidden when too small to read', () => {
    const { figure } = zeroshotFigure(zeroshot);
    assert.ok(figure.data.filter((t) => t.type === 'bar').every((t) => t.textposition === 'inside'));
    assert.deepStrictEqual(figure.layout.uniformtext, { minsize: 9, mode: 'hide' });
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
