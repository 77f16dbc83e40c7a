// Contrastive pretraining of a CLIP from scratch (promptlab pretrain): AdamW, warm-up + cosine,
// seeded data order, checkpoints every N steps and exact resume after a kill, progress lines.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ClipConfig } from '../clip/config';
import { ClipModel } from '../clip/model';
import { clipInitStateDict } from '../clip/random';
import { readSafetensors, readSafetensorsHeader, TensorToWrite, writeSafetensors } from '../clip/safetensors';
import type { StateDict } from '../clip/weights';
import type { TokenizedBatch } from '../clip/tokenizer';
import { ADAMW_DEFAULTS, AdamW, decays, warmupCosine } from './adamw';
import { infoNceLoss, MAX_LOGIT_SCALE } from './contrastive';

/** Image-caption pairs; batch(step) must depend only on (its own seed, step), so resume is exact. */
export interface PairSource {
  batch(step: number, batchSize: number): { pixels: Float32Array; shape: [number, number, number, number]; captions: string[] };
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
  return Number(meta.step);
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
  return { sd, m, v, step: Number(meta.step) };
}

/** Runs (or resumes) pretraining; returns the trained model (trainable; the caller disposes it). */
export function pretrain(run: PretrainRun): { model: ClipModel; history: StepRecord[] } {
  const { train } = run;
  const log = run.log ?? (() => undefined);
  fs.mkdirSync(run.dir, { recursive: true });
  const ckpt = path.join(run.dir, CHECKPOINT);
  const resumed = fs.existsSync(ckpt) ? loadCheckpoint(ckpt, run) : null;
  const model = new ClipModel(run.model, resumed?.sd ?? clipInitStateDict(run.model, train.seed), resumed ? ckpt : 'init', true);
  const opt = new AdamW(
    model.trainableVariables().map(({ key, variable }) => ({ key, variable, decay: decays(key, variable.rank) })),
    { ...ADAMW_DEFAULTS, weightDecay: train.weightDecay },
  );
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
  const history: StepRecord[] = [];
  const logFile = path.join(run.dir, 'log.jsonl');
  const stop = Math.min(run.stopAt ?? train.steps, train.steps);
  const t0 = Date.now();
  for (let step = opt.step; step < stop; step++) {
    const started = Date.now();
    const b = run.source.batch(step, train.batchSize);
    const pixels = tf.tensor4d(b.pixels, b.shape);
    const text = run.tokenize(b.captions);
    const { value, grads } = tf.variableGrads(() => infoNceLoss(model, pixels, text), vars);
    const loss = value.dataSync()[0];
    if (!Number.isFinite(loss)) {
      tf.dispose([pixels, value, ...Object.values(grads)]);
      model.updateRunningStats(); // drop the batch statistics
      throw new Error(`pretraining diverged: loss is ${loss} at step ${step + 1}; the last good checkpoint is ${ckpt} (step ${opt.step}). Lower the learning rate (--lr) and resume.`);
    }
    const lr = warmupCosine(step, train.lr, train.warmup, train.steps);
    opt.apply(vars.map((v) => grads[v.name]), lr);
    model.updateRunningStats();
    tf.tidy(() => model.logitScaleParam instanceof tf.Variable && model.logitScaleParam.assign(tf.minimum(model.logitScaleParam, MAX_LOGIT_SCALE)));
    tf.dispose([pixels, value, ...Object.values(grads)]);
    const rec: StepRecord = { step: step + 1, loss, lr, logitScale: model.logitScale, seconds: (Date.now() - started) / 1000 };
    history.push(rec);
    fs.appendFileSync(logFile, JSON.stringify(rec) + '\n');
    if ((step + 1) % train.checkpointEvery === 0 || step + 1 === stop) saveCheckpoint(ckpt, model, opt, run);
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

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}
