// The paper experiments by name: one entry point shared by `promptlab repro`, `npm run figures` and
// the notebooks. Each run loads the model, runs the experiment's protocol, and writes its results
// (DIR/results.json in the pinned format, one record per seed) with the environment and the
// checksums of the data and model it used.
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../backend';
import type { ClassificationDataset } from '../data/dataset';
import type { DescribedDataset } from '../data/manifest';
import { subsampleClasses } from '../data/protocols';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { loadClip, resolveModel } from '../clip/resolve';
import { MINICLIP_DIR } from '../miniclip';
import type { ProgressCallback } from '../train/progress';
import { base2newConfig, runBase2New } from './base2new';
import { checkShots, checkVariants, defaultVariants, fewshotConfig, protocolShots, runFewshot, type CoOpVariant } from './fewshot';
import { describeData, describeModel, environment, readResults, recordedPath, REPO_ROOT, Results, shownPath, trainedOnCachedFeatures, writeResults, type DataRecord, type Environment, type ModelRecord } from './record';
import { runTransfer, TRANSFER_DATASETS, transferConfig, transferRoles } from './transfer';
import { czslConfig, runCzsl } from './czsl';
import { denseConfig, denseDataset, runDense } from './dense';
import { checkVideoRun, runVideo, videoConfig, videoRunOf, type VideoRun } from './video';
import { checkVideoProtocol, MOTION_CLASS_SPLIT, VIDEO_PROTOCOLS } from './video-protocols';
import { runZeroshot } from './zeroshot';
import { officialBackbone, RealRun } from './real-runs';

export const EXPERIMENTS = ['zeroshot', 'fewshot', 'base2new', 'transfer', 'czsl', 'video', 'dense'] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number];

export interface ExperimentOptions {
  /** The smaller run of the same protocol (minutes on a CPU). */
  quick?: boolean;
  /** zeroshot: the benchmarks' generation seeds (default [0]); training experiments: few-shot and init seeds (default [1] quick, [1, 2, 3] full). */
  seeds?: number[];
  /** World benchmarks to run on (default: defaultDatasets(experiment, quick)); with `data`, CoOp's dataset names (default: its 11). */
  datasets?: readonly string[];
  /**
   * Model folder, weights file, or a released model's name (ViT-B/16, RN50, ...) fetched into the
   * user cache (src/clip/resolve.ts; default: the shipped MiniCLIP).
   */
  model?: string;
  /**
   * A data root holding the papers' classification datasets in CoOp's layout (zeroshot, fewshot,
   * base2new, transfer; src/repro/real-runs.ts): they replace the world benchmarks, and the official
   * presets the world's.
   */
  data?: string;
  /**
   * Train prompts on the test transform's image features, computed once, instead of on a fresh
   * augmented view of each image at every step (the papers' way, and the default). Recorded in
   * results.json (config.cachedFeatures). Zero-shot has no training and ignores it.
   */
  cachedFeatures?: boolean;
  /** fewshot: CoOp's variants to train (default: all four in full runs, 'end' in quick runs). */
  variants?: readonly string[];
  /** fewshot: the shot counts to measure, some of the protocol's (default: all of them; checkShots). */
  shots?: readonly number[];
  /** video: the protocol, closed (the default), fewshot or zeroshot (held-out motions); src/repro/video.ts. */
  protocol?: string;
  /** video, closed protocol: temporal crops per test clip whose softmax is averaged (the official --valEnsemble; default 1). */
  valEnsemble?: number;
  /** Results folder (default runs/<experiment>/<quick|full>; video's other protocols runs/video/<protocol>/<quick|full>). */
  out?: string;
  log?: (line: string) => void;
  /** Training progress (epoch, step, loss, ETA) of every prompt-training run. */
  onProgress?: ProgressCallback;
  /**
   * Return the results already in `out` instead of running, when they were made by the same
   * experiment configuration, model files, data and clean git commit as now (notebook 06 and
   * `npm run figures` reuse what notebooks 00-02 ran). Default false.
   */
  reuse?: boolean;
}

/**
 * How notebooks run: quick unless asked for the full protocols (PROMPTLAB_FULL=1) or a GPU backend is
 * in use; PROMPTLAB_QUICK=1 (headless CI runs) always means quick.
 */
export async function runMode(): Promise<{ quick: boolean; reason: string }> {
  const backend = (await initBackend()).name;
  if (process.env.PROMPTLAB_QUICK === '1') return { quick: true, reason: 'PROMPTLAB_QUICK=1' };
  if (process.env.PROMPTLAB_FULL === '1') return { quick: false, reason: 'PROMPTLAB_FULL=1' };
  if (backend === 'node-gpu') return { quick: false, reason: 'a GPU backend (node-gpu) is in use' };
  return { quick: true, reason: `the ${backend} backend runs on the CPU; set PROMPTLAB_FULL=1 for the full protocols` };
}

export function isExperiment(name: string): name is ExperimentName {
  return (EXPERIMENTS as readonly string[]).includes(name);
}

export function defaultSeeds(experiment: ExperimentName, quick: boolean): number[] {
  return experiment === 'zeroshot' ? [0] : quick ? [1] : [1, 2, 3];
}

/**
 * Every classification benchmark (transfer: the source world-shapes first, then its targets), except
 * that the quick runs of the training experiments leave out world-colors: its 80 classes make a CoOp
 * or CoCoOp step, and CoCoOp's evaluation, about 8 times as costly as the others' and would take
 * most of a quick run (it stays in the full runs and in quick zeroshot).
 */
export function defaultDatasets(experiment: ExperimentName, quick: boolean): readonly string[] {
  if (experiment === 'czsl') return ['world-czsl'];
  if (experiment === 'video') return ['world-motion'];
  if (experiment === 'dense') return ['world-scenes'];
  const all = experiment === 'transfer' ? TRANSFER_DATASETS : WORLD_CLASSIFICATION;
  return quick && experiment !== 'zeroshot' ? all.filter((d) => d !== 'world-colors') : all;
}

/** The protocol a run follows when none is given, and that a results.json recording none followed: video's closed set; the other experiments have one protocol (undefined). */
export function defaultProtocol(experiment: string): string | undefined {
  return experiment === 'video' ? 'closed' : undefined;
}

/** A protocol given for an experiment, checked: one of video's (closed, fewshot, zeroshot); the other experiments take none. */
export function checkProtocol(experiment: ExperimentName, protocol: string): string {
  if (experiment !== 'video') throw new Error(`${experiment}: --protocol is a video option (its protocols: ${VIDEO_PROTOCOLS.join(', ')}); ${experiment} has one protocol`);
  return checkVideoProtocol(protocol);
}

/**
 * The protocol a results config records (config.protocol), or the experiment's default where it
 * records none; a value that is not a name (edited by hand) as its JSON, so that it matches no protocol.
 */
export function recordedProtocol(experiment: string, config: Record<string, unknown>): string | undefined {
  const p = config.protocol;
  return p === undefined ? defaultProtocol(experiment) : typeof p === 'string' ? p : JSON.stringify(p);
}

/** The folders under an experiment's that hold a protocol's runs: video's other protocols have their own (fewshot/, zeroshot/). */
function protocolFolders(experiment: ExperimentName, protocol?: string): string[] {
  return experiment === 'video' && protocol !== undefined && protocol !== 'closed' ? [checkVideoProtocol(protocol)] : [];
}

/** Where the committed full-protocol results live: results/<experiment>/full in the repository (video's other protocols: results/video/<protocol>/full). */
export function committedResultsDir(experiment: ExperimentName, protocol?: string): string {
  return path.join(REPO_ROOT, 'results', experiment, ...protocolFolders(experiment, protocol), 'full');
}

/**
 * The committed full-protocol results of an experiment (every benchmark, seeds 1-3, made once on
 * the shipped MiniCLIP; results/README.md says how), as the notebooks show them beside their quick
 * runs without running anything.
 */
export function committedResults(experiment: string, protocol?: string): Results {
  if (!isExperiment(experiment)) throw new Error(`unknown experiment "${experiment}" (available: ${EXPERIMENTS.join(', ')})`);
  const dir = committedResultsDir(experiment, protocol);
  if (!fs.existsSync(path.join(dir, 'results.json'))) {
    const flag = protocolFolders(experiment, protocol).map((p) => ` --protocol ${p}`).join('');
    throw new Error(`no committed results for ${experiment}${flag ? ` (its ${protocol} protocol)` : ''} in ${shownPath(dir)}: run \`promptlab repro ${experiment}${flag} --out ${shownPath(dir)}\` (hours on a CPU) to make them`);
  }
  return readResults(dir);
}

export function defaultOut(experiment: ExperimentName, quick: boolean, protocol?: string): string {
  return path.resolve('runs', experiment, ...protocolFolders(experiment, protocol), quick ? 'quick' : 'full');
}

function dataRecords(experiment: ExperimentName, datasets: readonly string[], quick: boolean, seeds: number[]): DataRecord[] {
  // zeroshot's seeds pick the benchmarks' generation seed; the others train on the seed-0 benchmarks
  const genSeeds = experiment === 'zeroshot' ? seeds : [0];
  const variant = quick ? 'quick' : 'full';
  // dense renders world-scenes at 256 px (src/repro/dense.ts): its record hashes those pixels
  return genSeeds.flatMap((seed) => datasets.map((name) => describeData((experiment === 'dense' ? denseDataset(quick) : getWorldDataset(name, { quick, seed })) as DescribedDataset, variant)));
}

/**
 * Chance accuracy (%) of each classification benchmark, per split the experiments report: test (all
 * classes), base and new (CoCoOp's halves of the classes). Figures draw it; czsl has none (its
 * metrics are not accuracies over a fixed label set), nor dense (its floor, predicting background
 * everywhere, is in its config as allBackground).
 */
export function chanceLevels(experiment: ExperimentName, datasets: readonly string[], quick: boolean, videoProtocol?: string): Record<string, Record<string, number>> | undefined {
  if (experiment === 'czsl' || experiment === 'dense') return undefined;
  if (experiment === 'video') return videoProtocol === 'zeroshot' ? { 'world-motion': { base: 100 / MOTION_CLASS_SPLIT.seen.length, new: 100 / MOTION_CLASS_SPLIT.heldOut.length } } : { 'world-motion': { test: 100 / getWorldDataset('world-motion', { quick }).classNames.length } };
  return Object.fromEntries(datasets.map((d) => {
    const ds = getWorldDataset(d, { quick }) as ClassificationDataset;
    const n = (which: 'all' | 'base' | 'new') => subsampleClasses(ds, which).classNames.length;
    return [d, { test: 100 / n('all'), base: 100 / n('base'), new: 100 / n('new') }];
  }));
}

/** The results in `dir` when they were made by this configuration, model, data, backend and clean commit; else null. */
export function reusable(dir: string, experiment: string, config: { quick: boolean; seeds: number[]; datasets: string[]; cachedFeatures: boolean; variants?: string[]; shots?: number[] }, data: DataRecord[], model: ModelRecord, now: Environment = environment()): Results | null {
  let prior: Results;
  try {
    prior = readResults(dir);
  } catch {
    return null; // nothing there, or not results
  }
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const ok = prior.experiment === experiment
    && same({ quick: prior.config.quick, seeds: prior.config.seeds, datasets: prior.config.datasets, cachedFeatures: trainedOnCachedFeatures(prior), ...(config.variants ? { variants: Object.keys((prior.config.variants as object | undefined) ?? { coop: 1 }) } : {}), ...(config.shots ? { shots: prior.config.shots } : {}) }, { ...config, ...(config.variants ? { variants: config.variants.map((v) => (v === 'end' ? 'coop' : `coop-${v}`)) } : {}) })
    && same(prior.data, data) && same(prior.model?.files, model.files)
    && prior.env.backend === now.backend && (prior.env.frozen ?? null) === (now.frozen ?? null)
    && now.git.commit !== null && prior.env.git.commit === now.git.commit && prior.env.git.dirty === false && now.git.dirty === false;
  return ok ? prior : null;
}

/** Runs one experiment end to end and writes its results; returns them. */
export async function runExperiment(experiment: string, opts: ExperimentOptions = {}): Promise<Results> {
  if (!isExperiment(experiment)) {
    throw new Error(`unknown experiment "${experiment}" (available: ${EXPERIMENTS.join(', ')})`);
  }
  const quick = opts.quick === true;
  const cachedFeatures = experiment !== 'zeroshot' && opts.cachedFeatures === true;
  const seeds = opts.seeds ?? defaultSeeds(experiment, quick);
  const resolved = resolveModel(opts.model, MINICLIP_DIR); // a released name not fetched yet fails here, before any data is read
  const real = opts.data === undefined ? null : new RealRun(experiment, opts.data, opts.datasets, opts.log ?? (() => undefined));
  const datasets = real ? real.names : opts.datasets ?? defaultDatasets(experiment, quick);
  const valid: readonly string[] = experiment === 'czsl' ? ['world-czsl'] : experiment === 'video' ? ['world-motion'] : experiment === 'dense' ? ['world-scenes'] : WORLD_CLASSIFICATION;
  for (const d of real ? [] : datasets) {
    if (!valid.includes(d)) throw new Error(`${experiment}: unknown dataset "${d}" (valid: ${valid.join(', ')})`);
  }
  if (experiment === 'transfer' && !real) transferRoles(datasets); // the first is the source, the rest its targets: checked before anything runs (RealRun checks real ones)
  if (opts.variants && experiment !== 'fewshot') throw new Error(`${experiment}: --variants is a fewshot option (CoOp's variants in its Figure 3)`);
  const variants: CoOpVariant[] | undefined = experiment === 'fewshot' ? checkVariants(opts.variants ?? defaultVariants(quick)) : undefined;
  if ((opts.protocol !== undefined || opts.valEnsemble !== undefined) && experiment !== 'video') throw new Error(`${experiment}: --protocol and --val-ensemble are video options (its protocols and the official multi-crop evaluation)`);
  const videoRun: VideoRun | undefined = experiment === 'video' ? checkVideoRun({ protocol: opts.protocol, valEnsemble: opts.valEnsemble }, quick) : undefined;
  if (opts.shots && experiment !== 'fewshot') throw new Error(`${experiment}: --shots is a fewshot option (the shot counts of its curve); ${experiment} has none to choose`);
  const shots: number[] | undefined = experiment === 'fewshot' ? checkShots(opts.shots ?? protocolShots(quick), quick) : undefined;
  const out = path.resolve(opts.out ?? defaultOut(experiment, quick, videoRun?.protocol));
  const modelDir = resolved.source;
  const log = opts.log ?? (() => undefined);
  const info = await initBackend();
  const env = environment(); // the code and machine this run starts with
  const data = real ? real.records(quick) : dataRecords(experiment, datasets, quick, seeds);
  const modelRecord = describeModel(modelDir, resolved.companions); // a weights file's tokenizer (and a Hugging Face folder's config) hashed with it
  if (opts.reuse) {
    const prior = reusable(out, experiment, { quick, seeds, datasets: [...datasets], cachedFeatures, ...(variants ? { variants } : {}), ...(shots ? { shots } : {}) }, data, modelRecord, env);
    // a video run's protocol and crops must match too (a config without them: closed, one crop)
    if (prior && (!videoRun || JSON.stringify(videoRunOf(prior.config)) === JSON.stringify({ protocol: videoRun.protocol, valEnsemble: videoRun.valEnsemble }))) {
      log(`${experiment}: reusing ${shownPath(path.join(out, 'results.json'))} (same configuration, model, data and commit)`);
      return prior;
    }
  }
  const training = experiment === 'zeroshot' ? '' : experiment === 'video' ? '; training on frozen frame features' : experiment === 'dense' ? '; training on 256 px scenes with random flips' : cachedFeatures ? '; training on cached features' : '; training on augmented views';
  log(`${experiment}: backend ${info.name}; model ${shownPath(modelDir)}; ${quick ? 'quick' : 'full'} run, seeds ${seeds.join(',')}${training}`);
  const { model, tokenizer } = loadClip(resolved, log);
  const frozen = await model.startFrozenTowers(); // tfjs workers over the cores (values unchanged), or onnxruntime (PROMPTLAB_FROZEN=onnx)
  if (frozen) log(`${experiment}: ${frozen}`);
  const backbone = real ? officialBackbone(model.config) : null;
  if (real && !backbone) log(`${experiment}: ${resolved.label} is none of the official configs' backbones (RN50, RN101, ViT-B/32, ViT-B/16): their vit_b16 configs are used (the same optimiser and input; they differ only in the backbone they name)`);
  const started = Date.now();
  try {
    const run = { quick, seeds, log, datasets, cachedFeatures, variants, onProgress: opts.onProgress, ...(real ? real.runOptions(backbone ?? 'vit_b16') : {}) };
    const runners = { zeroshot: runZeroshot, fewshot: runFewshot, base2new: runBase2New, transfer: runTransfer, czsl: runCzsl, video: runVideo, dense: runDense };
    // base-to-new's `shots` is its one shot count; few-shot's are the counts of its curve that this run measures
    const rows = experiment === 'fewshot' ? runFewshot(model, tokenizer, { ...run, shots }) : videoRun ? runVideo(model, tokenizer, { ...run, protocol: videoRun.protocol, valEnsemble: videoRun.valEnsemble }) : runners[experiment](model, tokenizer, run);
    const configs = { zeroshot: () => ({}), fewshot: fewshotConfig, base2new: base2newConfig, transfer: transferConfig, czsl: czslConfig, video: (q: boolean) => videoConfig(q, videoRun), dense: denseConfig };
    const extra = real ? real.config(quick, { cachedFeatures, variants, shots, backbone: backbone ?? 'vit_b16' }) : configs[experiment](quick, { cachedFeatures, datasets, variants, shots });
    const chance = real ? real.chance() : chanceLevels(experiment, datasets, quick, videoRun?.protocol);
    const config = { model: recordedPath(modelDir), quick, seeds, datasets: [...datasets], ...extra, ...(chance ? { chance } : {}), seconds: Math.round((Date.now() - started) / 1000) };
    const results = writeResults(out, experiment, config, rows, { data, model: modelRecord }, env);
    log(`${experiment}: wrote ${shownPath(path.join(out, 'results.json'))} (${config.seconds} s)`);
    return results;
  } finally {
    await model.stopFrozenTowers();
    model.dispose();
  }
}
