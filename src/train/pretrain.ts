// Contrastive pretraining of a CLIP from scratch (promptlab pretrain): AdamW, warm-up + cosine,
// seeded data order, checkpoints every N steps and exact resume after a kill, progress lines.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ClipConfig } from '../clip/config';
import { variableGradsFreeing } from '../clip/backprop';
import { ClipModel } from '../clip/model';
import { clipInitStateDict, clipShapes } from '../clip/random';
import { removeStaleTemporaries, writeFileAtomic } from '../io/files';
import { readSafetensors, readSafetensorsHeader, TensorToWrite, writeSafetensors } from '../clip/safetensors';
import type { StateDict } from '../clip/weights';
import type { TokenizedBatch } from '../clip/tokenizer';
import { ADAMW_DEFAULTS, AdamW, decays, warmupCosine } from './adamw';
import { l2normalize } from '../methods/method';
import { SOLO, type Collective } from './collective';
import { infoNceFromFeatures, MAX_LOGIT_SCALE } from './contrastive';

/**
 * Image-caption pairs; batch(step) must depend only on (its own seed, step), so resume is exact.
 * `from`/`to` (default 0 / batchSize) ask for the pairs [from, to) of the step's batch only, the
 * share of one data-parallel worker.
 */
export interface PairSource {
  batch(step: number, batchSize: number, from?: number, to?: number): { pixels: Float32Array; shape: [number, number, number, number]; captions: string[] };
}

export interface PretrainConfig {
  steps: number;
  batchSize: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  seed: number;
  checkpointEvery: number;
  logEvery: number;
  /**
   * Images per BatchNorm group: the image tower normalises each group of the batch with its own
   * statistics (ghost batch norm; default the whole batch). A data-parallel run needs whole groups per
   * worker, and gives the same model as one worker with the same groups.
   */
  bnGroup?: number;
}

export const PRETRAIN_DEFAULTS: PretrainConfig = { steps: 1500, batchSize: 128, lr: 2e-3, warmup: 100, weightDecay: 0.1, seed: 0, checkpointEvery: 50, logEvery: 10 };

export interface PretrainRun {
  model: ClipConfig;
  train: PretrainConfig;
  source: PairSource;
  tokenize: (captions: string[]) => TokenizedBatch;
  /** Folder for checkpoint.safetensors (resumed from when present) and log.jsonl. */
  dir: string;
  /** Stop after this step count even if `train.steps` is larger (to test resume); default train.steps. */
  stopAt?: number;
  log?: (line: string) => void;
}

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  logitScale: number;
  seconds: number;
}

const CHECKPOINT = 'checkpoint.safetensors';

function toWrite(sd: StateDict): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const [k, t] of sd) out[k] = { dtype: 'F32', shape: t.shape, data: t.data };
  return out;
}

/** Writes model weights, optimiser moments and the step atomically. */
function saveCheckpoint(file: string, model: ClipModel, opt: AdamW, run: PretrainRun): void {
  const tensors = toWrite(model.stateDict());
  opt.m.forEach((m, i) => { tensors[`optimizer.m.${i}`] = { dtype: 'F32', shape: m.shape, data: m.dataSync() }; });
  opt.v.forEach((v, i) => { tensors[`optimizer.v.${i}`] = { dtype: 'F32', shape: v.shape, data: v.dataSync() }; });
  writeSafetensors(file, tensors, {
    format: 'promptlab-pretrain-checkpoint',
    step: String(opt.step),
    model_config: JSON.stringify(run.model),
    train_config: JSON.stringify(run.train),
  });
}

/**
 * The step of the checkpoint in `dir` (0 when there is none), after checking from its header that it
 * was made by this model and training configuration (all but `steps`); throws naming what differs.
 */
export function checkpointStep(dir: string, run: Pick<PretrainRun, 'model' | 'train'>): number {
  const file = path.join(dir, CHECKPOINT);
  if (!fs.existsSync(file)) return 0;
  const meta = readSafetensorsHeader(file).metadata;
  checkMetadata(file, meta, run);
  return stepOf(file, meta);
}

function stepOf(file: string, meta: Record<string, string>): number {
  const step = Number(meta.step);
  if (typeof meta.step !== 'string' || !/^\d+$/.test(meta.step) || !Number.isSafeInteger(step)) throw new Error(`${file}: its step is ${JSON.stringify(meta.step)}, not a whole number; the checkpoint is damaged (delete it, or use another --out to start afresh)`);
  return step;
}

/**
 * Keeps one row per step of a training log, up to `step` (the checkpoint resumed from): the rows a
 * killed sitting wrote after its last checkpoint are run again, and would otherwise appear twice
 * (where a log already repeats a step, the later row is kept: it is the run that continued).
 */
export function trimLog(file: string, step: number): void {
  if (!fs.existsSync(file)) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const byStep = new Map<number, string>();
  for (const line of lines) {
    let row: { step?: unknown };
    try {
      row = JSON.parse(line) as { step?: unknown };
    } catch {
      continue; // a line cut by the kill
    }
    if (typeof row.step === 'number' && row.step <= step) byStep.set(row.step, line);
  }
  const kept = [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([, l]) => l);
  if (kept.length === lines.length && kept.every((l, i) => l === lines[i])) return;
  writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}

function checkMetadata(file: string, meta: Record<string, string>, run: Pick<PretrainRun, 'model' | 'train'>): void {
  if (meta.format !== 'promptlab-pretrain-checkpoint') throw new Error(`${file}: not a promptlab pretraining checkpoint`);
  if (meta.model_config !== JSON.stringify(run.model) || JSON.stringify({ ...JSON.parse(meta.train_config), steps: 0 }) !== JSON.stringify({ ...run.train, steps: 0 })) {
    const was = { ...JSON.parse(meta.model_config), ...JSON.parse(meta.train_config) } as Record<string, unknown>;
    const now = { ...run.model, ...run.train } as Record<string, unknown>;
    const diff = Object.keys(now).filter((k) => k !== 'steps' && JSON.stringify(was[k]) !== JSON.stringify(now[k])).map((k) => `${k} ${JSON.stringify(was[k])} there, ${JSON.stringify(now[k])} now`);
    throw new Error(`${file}: made with another model or training config (${diff.join('; ')}); pass the same options to resume, or delete it / use another --out to start afresh`);
  }
}

function loadCheckpoint(file: string, run: PretrainRun): { sd: StateDict; m: Float32Array[]; v: Float32Array[]; step: number } {
  const f = readSafetensors(file);
  const meta = f.metadata;
  checkMetadata(file, meta, run);
  const sd: StateDict = new Map();
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (const [name, t] of f.tensors) {
    const mm = /^optimizer\.([mv])\.(\d+)$/.exec(name);
    if (mm) (mm[1] === 'm' ? m : v)[Number(mm[2])] = t.data as Float32Array;
    else sd.set(name, { shape: t.shape, data: t.data as Float32Array });
  }
  return { sd, m, v, step: stepOf(file, meta) };
}

/** The pairs [from, to) of each step's batch that `rank` of `size` computes, and its BatchNorm group size. */
export function rankShare(train: PretrainConfig, rank: number, size: number): { from: number; to: number; group: number } {
  const group = train.bnGroup ?? train.batchSize;
  if (!Number.isInteger(group) || group < 1 || train.batchSize % group !== 0) {
    throw new Error(`pretrain: the BatchNorm group (${group}) must divide the batch size (${train.batchSize})`);
  }
  const groups = train.batchSize / group;
  if (groups % size !== 0) {
    throw new Error(`pretrain: ${size} workers cannot share ${groups} BatchNorm group(s) of ${group} images evenly; choose a batch size and --bn-group with a multiple of ${size} groups`);
  }
  const per = (groups / size) * group;
  return { from: rank * per, to: (rank + 1) * per, group };
}

/**
 * The symmetric InfoNCE loss of a global batch of which this rank holds `pixels`/`text` (its share):
 * each group of `group` images through the image tower with its own BatchNorm statistics, the
 * normalised embeddings of every rank gathered (the others' as constants, so each rank's gradient is
 * its own share's contribution), the logits over the whole batch. Runs inside tf.variableGrads.
 */
export function shardedInfoNce(model: ClipModel, pixels: tf.Tensor4D, text: TokenizedBatch, group: number, collective: Collective): tf.Scalar {
  const n = pixels.shape[0];
  const parts: tf.Tensor2D[] = [];
  for (let g = 0; g < n; g += group) parts.push(model.encodeImage(n === group ? pixels : pixels.slice([g, 0, 0, 0], [group, -1, -1, -1])));
  const img = l2normalize(parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor2D));
  const txt = l2normalize(model.encodeText(text));
  let imgAll = img;
  let txtAll = txt;
  if (collective.size > 1) {
    const e = img.shape[1];
    const local = new Float32Array(2 * n * e);
    local.set(img.dataSync());
    local.set(txt.dataSync(), n * e);
    const all = collective.allGather(local);
    const of = (r: number, which: 0 | 1, mine: tf.Tensor2D) => {
      if (r === collective.rank) return mine;
      const m = all[r].length / (2 * e);
      return tf.tensor2d(all[r].subarray(which * m * e, (which + 1) * m * e), [m, e]);
    };
    imgAll = tf.concat(all.map((_, r) => of(r, 0, img)), 0) as tf.Tensor2D;
    txtAll = tf.concat(all.map((_, r) => of(r, 1, txt)), 0) as tf.Tensor2D;
  }
  return infoNceFromFeatures(imgAll, txtAll, model.logitScaleParam);
}

/**
 * Runs (or resumes) pretraining; returns the trained model (trainable; the caller disposes it). With a
 * `collective` of several ranks (src/train/workers.ts) each rank computes its share of every batch;
 * the gradients are summed in rank order, the BatchNorm statistics of every group folded in order, and
 * each rank applies the same update to its replica; rank 0 alone writes the checkpoints and the log.
 */
export function pretrain(run: PretrainRun, collective: Collective = SOLO): { model: ClipModel; history: StepRecord[] } {
  const { train } = run;
  const lead = collective.rank === 0;
  const log = lead ? run.log ?? (() => undefined) : () => undefined;
  const share = rankShare(train, collective.rank, collective.size);
  fs.mkdirSync(run.dir, { recursive: true });
  const ckpt = path.join(run.dir, CHECKPOINT);
  const resumed = fs.existsSync(ckpt) ? loadCheckpoint(ckpt, run) : null;
  const model = new ClipModel(run.model, resumed?.sd ?? clipInitStateDict(run.model, train.seed), resumed ? ckpt : 'init', true);
  const params = model.trainableVariables();
  const opt = new AdamW(params.map(({ key, variable }) => ({ key, variable, decay: decays(key, variable.rank) })), { ...ADAMW_DEFAULTS, weightDecay: train.weightDecay });
  if (resumed) {
    tf.tidy(() => {
      opt.m.forEach((m, i) => m.assign(tf.tensor(resumed.m[i], m.shape)));
      opt.v.forEach((v, i) => v.assign(tf.tensor(resumed.v[i], v.shape)));
    });
    opt.step = resumed.step;
    log(`resumed from ${ckpt} at step ${resumed.step}`);
  }
  model.setTraining(true);
  const vars = opt.params.map((p) => p.variable);
  // every rank computes the whole loss, so the logit scale's gradient is whole on each: counted once
  const replicated = params.map((p) => p.key === 'logit_scale');
  const history: StepRecord[] = [];
  const logFile = path.join(run.dir, 'log.jsonl');
  if (lead) {
    removeStaleTemporaries(run.dir); // checkpoint.safetensors.tmp-<pid> of a killed sitting
    trimLog(logFile, opt.step);
  }
  const stop = Math.min(run.stopAt ?? train.steps, train.steps);
  const t0 = Date.now();
  for (let step = opt.step; step < stop; step++) {
    const started = Date.now();
    const b = run.source.batch(step, train.batchSize, share.from, share.to);
    const pixels = tf.tensor4d(b.pixels, b.shape);
    const text = run.tokenize(b.captions);
    // tfjs's gradients, freed as the backward goes (src/clip/backprop.ts: the same bits, a lower peak)
    const { value, grads } = variableGradsFreeing(() => shardedInfoNce(model, pixels, text, share.group, collective), vars);
    const loss = value.dataSync()[0];
    let gradList = vars.map((v) => grads[v.name]);
    if (collective.size > 1) {
      const summed = collective.allReduceSum(flatten(gradList, replicated, collective.rank));
      tf.dispose(gradList);
      gradList = unflatten(summed, vars);
    }
    const stats = model.takeBatchStats();
    const allStats = collective.size > 1 ? concatArrays(collective.allGather(stats)) : stats;
    tf.dispose([pixels, value]);
    if (!Number.isFinite(loss)) {
      tf.dispose(gradList); // the batch statistics are dropped too
      throw new Error(`pretraining diverged: loss is ${loss} at step ${step + 1}; the last good checkpoint is ${ckpt} (step ${opt.step}). Lower the learning rate (--lr) and resume.`);
    }
    const lr = warmupCosine(step, train.lr, train.warmup, train.steps);
    opt.apply(gradList, lr);
    model.foldBatchStats(allStats);
    tf.tidy(() => model.logitScaleParam instanceof tf.Variable && model.logitScaleParam.assign(tf.minimum(model.logitScaleParam, MAX_LOGIT_SCALE)));
    tf.dispose(gradList);
    const rec: StepRecord = { step: step + 1, loss, lr, logitScale: model.logitScale, seconds: (Date.now() - started) / 1000 };
    history.push(rec);
    if (lead) {
      fs.appendFileSync(logFile, JSON.stringify(rec) + '\n');
      if ((step + 1) % train.checkpointEvery === 0 || step + 1 === stop) saveCheckpoint(ckpt, model, opt, run);
    }
    if ((step + 1) % train.logEvery === 0 || step + 1 === stop) {
      const done = step + 1 - (resumed?.step ?? 0);
      const rate = done / ((Date.now() - t0) / 1000);
      const eta = (train.steps - step - 1) / rate;
      log(`step ${step + 1}/${train.steps}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  scale ${Math.exp(rec.logitScale).toFixed(1)}  ${rate.toFixed(3)} steps/s  ETA ${formatSeconds(eta)}`);
    }
  }
  model.setTraining(false);
  opt.dispose();
  return { model, history };
}

/** Every gradient in one array; a replicated one (the same on every rank) is sent by rank 0 only. */
function flatten(grads: tf.Tensor[], replicated: boolean[], rank: number): Float32Array {
  const out = new Float32Array(grads.reduce((n, g) => n + g.size, 0));
  let at = 0;
  grads.forEach((g, i) => {
    if (!replicated[i] || rank === 0) out.set(g.dataSync(), at);
    at += g.size;
  });
  return out;
}

function unflatten(flat: Float32Array, like: tf.Variable[]): tf.Tensor[] {
  let at = 0;
  return like.map((v) => {
    const t = tf.tensor(flat.subarray(at, at + v.size), v.shape, 'float32');
    at += v.size;
    return t;
  });
}

function concatArrays(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The weights of the checkpoint in `dir` (what a data-parallel run leaves; its rank 0 wrote them). */
export function checkpointModel(dir: string): ClipModel {
  const file = path.join(dir, CHECKPOINT);
  const f = readSafetensors(file);
  if (f.metadata.format !== 'promptlab-pretrain-checkpoint') throw new Error(`${file}: not a promptlab pretraining checkpoint`);
  const sd: StateDict = new Map();
  for (const [name, t] of f.tensors) if (!name.startsWith('optimizer.')) sd.set(name, { shape: t.shape, data: t.data as Float32Array });
  return new ClipModel(JSON.parse(f.metadata.model_config) as ClipConfig, sd, file);
}

/** Floats a rank exchanges at most in one step: every gradient, or its share's embeddings, or its BatchNorm statistics. */
export function exchangeCapacity(model: ClipConfig, train: PretrainConfig): number {
  const params = [...clipShapes(model).values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  return Math.max(params, 2 * train.batchSize * model.embedDim);
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}
