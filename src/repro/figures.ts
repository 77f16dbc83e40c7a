// `npm run figures`: regenerates every figure and table of the notebooks through the same
// experiment functions the notebooks call, notebook by notebook, into DIR/<notebook>/ (PNG and SVG
// through headless Chromium, standalone HTML, CSV and Markdown tables), with a copy of each
// experiment's results.json under DIR/results/. Experiments run where `promptlab repro` puts them
// (runs/<experiment>/<quick|full>/, with their run records) and results made there by the same
// configuration, model, data and clean commit (e.g. by the notebooks) are reused. A section may ask
// for one of an experiment's protocols (video's fewshot and zeroshot: runs/video/<protocol>/...), and
// for the committed full results (results/...), which are loaded, never run, as the notebooks show
// them beside their quick runs.
import { writeFileAtomic } from '../io/files';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../backend';
import { loadMiniClip, MINICLIP_DIR } from '../miniclip';
import { exportFigures } from '../viz/export';
import { FigureRenderer } from '../viz/chromium';
import { comparisonFigure, coopTrainingFigure, figuresFor, promptStudyFigures } from '../viz/figures';
import type { NamedFigure } from '../viz/plotly';
import { tableCsv, tableMarkdown, tablesFor, vocabularyTable, type Table } from '../viz/tables';
import { runCoOpWalkthrough } from './coop-walkthrough';
import { runCspWalkthrough } from './csp-walkthrough';
import { cspWalkthroughFigures } from '../viz/czsl-figures';
import { checkProtocol, committedResults, committedResultsDir, defaultProtocol, runExperiment, type ExperimentName } from './experiments';
import { runPromptStudy } from './prompts';
import { runVideoWalkthrough } from './video';
import { runDenseWalkthrough } from './dense';
import { denseWalkthroughFigures } from '../viz/dense-figures';
import { videoConfusionFigure } from '../viz/video-figures';
import { readResults, shownPath, type Results } from './record';
import type { ProgressCallback } from '../train/progress';

export interface FiguresOptions {
  out?: string;
  /** Full protocols (hours on a CPU) instead of the quick ones (minutes). */
  full?: boolean;
  model?: string;
  log?: (line: string) => void;
  /** Training progress of every experiment run. */
  onProgress?: ProgressCallback;
}

interface Outputs {
  figures: NamedFigure[];
  tables: Table[];
}

/** Which results of an experiment a section asks for. */
export interface ExperimentRequest {
  /** One of the experiment's protocols (video: closed, its default, fewshot or zeroshot); absent: the default. */
  protocol?: string;
  /** The committed full-protocol results (results/<experiment>[/<protocol>]/full), loaded, never run; default: a run (reused where it can be). */
  committed?: boolean;
}

export interface Context {
  quick: boolean;
  model: string;
  log: (line: string) => void;
  /** The results of an experiment (and protocol): each asked for once per `npm run figures`, the same promise after. */
  experiment(name: ExperimentName, request?: ExperimentRequest): Promise<Results>;
}

/**
 * The name a request's results go by in the context's cache and in DIR/results/: the experiment, its
 * protocol where it is not the default (video-fewshot), and -committed for the committed results.
 * The default protocol given by name is the same request as none given (video's closed: video).
 */
export function requestKey(name: ExperimentName, request: ExperimentRequest = {}): string {
  const protocol = request.protocol === undefined ? undefined : checkProtocol(name, request.protocol);
  const own = protocol !== undefined && protocol !== defaultProtocol(name) ? `-${protocol}` : '';
  return `${name}${own}${request.committed ? '-committed' : ''}`;
}

export interface ContextOptions {
  quick: boolean;
  /** The model folder (resolved). */
  model: string;
  /** Where the copies of the results go: DIR/results/<key>.json. */
  out: string;
  log: (line: string) => void;
  /** Runs (or reuses) an experiment under a protocol (undefined: its default). */
  run: (name: ExperimentName, protocol: string | undefined) => Promise<Results>;
  /** Loads the committed results of an experiment's protocol (default: committedResults). */
  committed?: (name: ExperimentName, protocol: string | undefined) => Results;
}

/**
 * The context the sections make their outputs with: each (experiment, protocol, run or committed)
 * is run or loaded once, cached under requestKey, and its results.json copied to DIR/results/<key>.json.
 */
export function figuresContext(opts: ContextOptions): Context {
  const cache = new Map<string, Promise<Results>>();
  const load = opts.committed ?? ((name: ExperimentName, protocol: string | undefined) => {
    const r = committedResults(name, protocol);
    opts.log(`  ${name}${protocol === undefined ? '' : ` --protocol ${protocol}`}: the committed results in ${shownPath(committedResultsDir(name, protocol))} (loaded, not run)`);
    return r;
  });
  return {
    quick: opts.quick,
    model: opts.model,
    log: opts.log,
    experiment(name, request = {}) {
      const key = requestKey(name, request);
      if (!cache.has(key)) {
        const protocol = request.protocol === undefined || request.protocol === defaultProtocol(name) ? undefined : request.protocol;
        const results = request.committed ? Promise.resolve().then(() => load(name, protocol)) : opts.run(name, protocol);
        cache.set(key, results.then((r) => {
          fs.mkdirSync(path.join(opts.out, 'results'), { recursive: true });
          writeFileAtomic(path.join(opts.out, 'results', `${key}.json`), JSON.stringify(r, null, 2) + '\n');
          return r;
        }));
      }
      return cache.get(key)!;
    },
  };
}

/** The video protocols whose committed full results notebook 05 shows beside the closed set, in its order. */
export const VIDEO_COMMITTED_PROTOCOLS = ['fewshot', 'zeroshot'] as const;

/**
 * Notebook 05's few-shot (accuracy against k clips per motion, per method) and held-out-motion
 * figures and tables, from the committed full results of those protocols: loaded, nothing trains.
 */
export async function videoProtocolOutputs(ctx: Context): Promise<Outputs> {
  const all: Results[] = [];
  for (const protocol of VIDEO_COMMITTED_PROTOCOLS) all.push(await ctx.experiment('video', { protocol, committed: true }));
  return { figures: all.flatMap((r) => figuresFor(r)), tables: all.flatMap((r) => tablesFor(r)) };
}

/** Runs `f` with the context's MiniCLIP loaded, and disposes it after. */
function withModel<T>(ctx: Context, f: (m: ReturnType<typeof loadMiniClip>) => T): T {
  const m = loadMiniClip(ctx.model);
  try {
    return f(m);
  } finally {
    m.model.dispose();
  }
}

/** The experiments notebook 06 and its comparison figure put side by side, in order. */
export const COMPARED_EXPERIMENTS: readonly ExperimentName[] = ['zeroshot', 'fewshot', 'base2new', 'transfer', 'czsl', 'dense', 'video'];

/** The notebooks and what each shows, in order. */
export const NOTEBOOK_SECTIONS: { notebook: string; title: string; make: (ctx: Context) => Promise<Outputs> }[] = [
  {
    notebook: '00-clip-zeroshot',
    title: 'CLIP zero-shot and prompt engineering',
    async make(ctx) {
      const results = await ctx.experiment('zeroshot');
      const study = withModel(ctx, ({ model, tokenizer }) => runPromptStudy(model, tokenizer, { dataset: 'world-shapes', quick: ctx.quick }));
      return { figures: [...figuresFor(results), ...promptStudyFigures(study)], tables: tablesFor(results) };
    },
  },
  {
    notebook: '01-coop',
    title: 'CoOp: few-shot curves',
    async make(ctx) {
      const results = await ctx.experiment('fewshot');
      const walk = withModel(ctx, ({ model, tokenizer }) => runCoOpWalkthrough(model, tokenizer, { dataset: 'world-shapes', shots: 16, seed: 1, quick: ctx.quick }));
      return { figures: [coopTrainingFigure(walk), ...figuresFor(results)], tables: tablesFor(results) };
    },
  },
  {
    notebook: '02-cocoop',
    title: 'CoCoOp: base-to-new generalisation, cross-dataset transfer and domain shift',
    async make(ctx) {
      const all = [await ctx.experiment('base2new'), await ctx.experiment('transfer')];
      return { figures: all.flatMap((r) => figuresFor(r)), tables: all.flatMap((r) => tablesFor(r)) };
    },
  },
  {
    notebook: '03-denseclip',
    title: 'DenseCLIP: pixel-text score maps and language-guided segmentation',
    async make(ctx) {
      const results = await ctx.experiment('dense');
      const walk = withModel(ctx, ({ model, tokenizer }) => runDenseWalkthrough(model, tokenizer, { quick: ctx.quick, scenes: 3 }));
      return { figures: [...figuresFor(results), ...denseWalkthroughFigures(walk)], tables: tablesFor(results) };
    },
  },
  {
    notebook: '04-csp',
    title: 'CSP: compositional zero-shot learning and recombination',
    async make(ctx) {
      const results = await ctx.experiment('czsl');
      const walk = withModel(ctx, ({ model, tokenizer }) => runCspWalkthrough(model, tokenizer, { quick: ctx.quick }));
      return { figures: [...figuresFor(results), ...cspWalkthroughFigures(walk)], tables: [...tablesFor(results), vocabularyTable(walk)] };
    },
  },
  {
    notebook: '05-video',
    title: 'Video prompting: time order, prompts and the temporal transformer; few-shot and held-out motions',
    async make(ctx) {
      const results = await ctx.experiment('video');
      const walk = withModel(ctx, ({ model, tokenizer }) => runVideoWalkthrough(model, tokenizer, { quick: ctx.quick }));
      const protocols = await videoProtocolOutputs(ctx);
      return { figures: [...figuresFor(results), videoConfusionFigure(walk), ...protocols.figures], tables: [...tablesFor(results), ...protocols.tables] };
    },
  },
  {
    notebook: '06-comparison',
    title: 'Every method so far',
    async make(ctx) {
      const all = [];
      for (const name of COMPARED_EXPERIMENTS) all.push(await ctx.experiment(name));
      return { figures: [comparisonFigure(all)], tables: all.flatMap((r) => tablesFor(r)) };
    },
  },
];

/** Writes figures (HTML; PNG and SVG with a renderer) and tables (CSV, Markdown) into dir; returns the files written. */
export async function writeOutputs(dir: string, { figures, tables }: Outputs, opts: { renderer?: FigureRenderer | null; log?: (line: string) => void } = {}): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const files = (await exportFigures(figures, dir, { renderer: opts.renderer, log: opts.log })).files;
  for (const t of tables) {
    for (const [ext, text] of [['csv', tableCsv(t)], ['md', tableMarkdown(t)]] as const) {
      const file = path.join(dir, `${t.name}.${ext}`);
      writeFileAtomic(file, text);
      files.push(file);
    }
  }
  return files;
}

/**
 * The figures and tables of a results folder, written beside its results.json (what `promptlab
 * repro`, `merge-results` and `plot` leave there). Without Chromium, HTML and tables only.
 */
export async function writeResultOutputs(dir: string, log?: (line: string) => void): Promise<string[]> {
  if (!fs.existsSync(path.join(dir, 'results.json'))) throw new Error(`${dir}: no results.json here (a folder written by promptlab repro or merge-results holds one)`);
  const results = readResults(dir);
  return writeOutputs(dir, { figures: figuresFor(results), tables: tablesFor(results) }, { log });
}

export interface FiguresSummary {
  out: string;
  files: string[];
  staticSkipped?: string;
  seconds: number;
}

export async function regenerateFigures(opts: FiguresOptions = {}): Promise<FiguresSummary> {
  const started = Date.now();
  const quick = opts.full !== true;
  const out = path.resolve(opts.out ?? 'figures');
  const log = opts.log ?? (() => undefined);
  const info = await initBackend();
  log(`figures: ${quick ? 'quick' : 'full'} runs on ${info.name}, writing to ${shownPath(out)}`);
  const ctx = figuresContext({
    quick,
    model: path.resolve(opts.model ?? MINICLIP_DIR),
    out,
    log,
    run: (name, protocol) => runExperiment(name, { quick, model: opts.model, reuse: true, ...(protocol === undefined ? {} : { protocol }), log: (l) => log(`  ${l}`), onProgress: opts.onProgress }),
  });
  let renderer: FigureRenderer | null = null;
  let staticSkipped: string | undefined;
  try {
    renderer = await FigureRenderer.open();
  } catch (e) {
    staticSkipped = (e as Error).message;
    log(`figures: no PNG/SVG: ${staticSkipped}`);
  }
  const files: string[] = [];
  try {
    for (const [i, section] of NOTEBOOK_SECTIONS.entries()) {
      const t0 = Date.now();
      log(`[${i + 1}/${NOTEBOOK_SECTIONS.length}] ${section.notebook}: ${section.title}`);
      const outputs = await section.make(ctx);
      files.push(...(await writeOutputs(path.join(out, section.notebook), outputs, { renderer, log: (l) => log(`  ${l}`) })));
      log(`  ${outputs.figures.length} figure(s), ${outputs.tables.length} table(s) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    await renderer?.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const count = (ext: string) => files.filter((f) => f.endsWith(ext)).length;
  log(`figures: wrote ${count('.png')} PNG, ${count('.svg')} SVG, ${count('.html')} HTML, ${count('.csv')} CSV and ${count('.md')} Markdown files to ${shownPath(out)} in ${Math.round(seconds)} s`);
  if (staticSkipped) log(`figures: PNG and SVG were skipped: ${staticSkipped}`);
  return { out, files, staticSkipped, seconds };
}
