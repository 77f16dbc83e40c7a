// The prompt-learning training loop, for any PromptMethod (CoOp, CoCoOp, ...), as the official code
// trains them through Dassl (methods.md 1.3, 2.3):
//
//   * each epoch a seeded permutation of the training items (RandomSampler), cut into batches with
//     drop_last = (number of items >= batch size);
//   * forward method.logits, mean cross-entropy, gradients of exactly method.trainableVariables();
//   * SGD (momentum, coupled weight decay) at the epoch's learning rate: a constant warm-up, then a
//     cosine over the epochs, stepped once per epoch;
//   * training views from RandomResizedCrop and/or a horizontal flip as `augment` says, through the
//     frozen image tower at every step; with `augment: null`, the test transform, or cached features;
//   * the last epoch's prompts are the result (TEST.FINAL_MODEL = "last_step").
//
// Checkpoints (safetensors: the method's variables by index, the momentum buffers, metadata) are
// written every `checkpointEvery` epochs and at the end; a run finding a checkpoint of the same
// configuration in its folder resumes from it, with the same result as an uninterrupted run (the data
// order and the augmentation of each epoch depend only on (seed, epoch)). A loss that is not finite
// stops the run with an Error naming the step and the last good checkpoint.
import { removeStaleTemporaries } from '../io/files';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { variableGradsFreeing } from '../clip/backprop';
import type { RawImage } from '../clip/image';
import { toClipInput } from '../clip/preprocess';
import { streamFor, uniform } from '../random';
import { readSafetensors, TensorToWrite, writeSafetensors } from '../clip/safetensors';
import { crossEntropy, PromptMethod } from '../methods/method';
import { augmentImage } from './augment';
import { ProgressCallback } from './progress';
import { coopLr } from './schedule';
import { Adam } from './adam';
import { SGD } from './sgd';

export interface PromptTrainConfig {
  epochs: number;
  batchSize: number;
  /** Base learning rate (the cosine's peak). */
  lr: number;
  momentum: number;
  /** torch.optim.SGD (CoOp, CoCoOp; default) or torch.optim.Adam with its default betas and eps (CSP). */
  optimizer?: 'sgd' | 'adam';
  /** CoOp's constant warm-up then cosine per epoch (default), or a constant rate (CSP). */
  schedule?: 'warmup-cosine' | 'constant';
  /** Batches whose gradients are summed (each loss divided by it) before a step, and a step at each epoch's end (CSP's gradient_accumulation_steps); default 1. */
  gradAccumulation?: number;
  /** Coupled (L2) weight decay, added to the gradient as torch's SGD and Adam do. */
  weightDecay: number;
  /** Epochs at the constant `warmupLr` before the cosine starts. */
  warmupEpochs: number;
  warmupLr: number;
  /** The training views of every image, drawn anew each epoch (needs `train.image`); null: none (cached features or the test transform). */
  augment: TrainAugment | null;
  seed: number;
  /** Write a checkpoint every this many epochs (always after the last one); default: only at the end. */
  checkpointEvery?: number;
}

/** Dassl's training transforms: RandomResizedCrop with this area range (null: none) and RandomHorizontalFlip (p 0.5). */
export interface TrainAugment {
  crop: readonly [number, number] | null;
  flip: boolean;
}

/** The official pipeline: random_resized_crop (scale 0.08-1) + random_flip. */
export const OFFICIAL_AUGMENT: TrainAugment = { crop: [0.08, 1], flip: true };

/** The official CoOp configuration (rn50.yaml and Dassl defaults; 200 epochs for 8 and 16 shots). */
export const COOP_TRAIN_CONFIG: PromptTrainConfig = {
  epochs: 200, batchSize: 32, lr: 0.002, momentum: 0.9, weightDecay: 5e-4, warmupEpochs: 1, warmupLr: 1e-5, augment: OFFICIAL_AUGMENT, seed: 1,
};

/** The official CoCoOp configuration (vit_b16_c4_ep10_batch1_ctxv1). */
export const COCOOP_TRAIN_CONFIG: PromptTrainConfig = { ...COOP_TRAIN_CONFIG, epochs: 10, batchSize: 1 };

/** The training items, by index 0..count-1. */
export interface TrainSet {
  count: number;
  label(i: number): number;
  /** The decoded image (for augmentation, or the test transform when neither `features` nor augmentation). */
  image?(i: number): RawImage;
  /** Cached normalised image features [count, E] (only without augmentation). Not disposed here. */
  features?: tf.Tensor2D;
}

export interface TrainPromptOptions {
  method: PromptMethod;
  train: TrainSet;
  config: PromptTrainConfig;
  /** Side of the images fed to the model (its input resolution); default 224. */
  imageSize?: number;
  /**
   * Frozen image encoder, pixels NCHW -> normalised features [B, E], run outside the gradient tape;
   * without it, pixels go to method.logits({ pixels }).
   */
  encodeImages?: (pixels: tf.Tensor4D) => tf.Tensor2D;
  /** Folder for checkpoint.safetensors (resumed from when it holds one of this configuration). */
  checkpointDir?: string;
  /** Stop (with a checkpoint) after this many epochs in all, though config.epochs is larger. */
  stopAfterEpochs?: number;
  onProgress?: ProgressCallback;
  /** Epoch summaries, resume and checkpoint notices. */
  log?: (line: string) => void;
}

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  lr: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Training accuracy over the epoch's items, in [0, 1]. */
  accuracy: number;
  seconds: number;
}

export interface TrainPromptResult {
  /** One record per completed epoch, from the first (a resumed run includes the checkpoint's epochs). */
  history: EpochRecord[];
  epochsDone: number;
  /** The checkpoint written last (null without a checkpointDir). */
  checkpoint: string | null;
  /** The epoch a checkpoint resumed this run from, or null for a fresh start. */
  resumedFromEpoch: number | null;
}

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
const FORMAT = 'promptlab-prompt-checkpoint';

/** The config fields that decide the result, in a fixed order (checkpointEvery does not). */
function canonicalConfig(c: PromptTrainConfig): string {
  const { epochs, batchSize, lr, momentum, weightDecay, warmupEpochs, warmupLr, seed } = c;
  const augment = c.augment ? { crop: c.augment.crop ? [...c.augment.crop] : null, flip: c.augment.flip } : null;
  const extra = { ...(c.optimizer && c.optimizer !== 'sgd' ? { optimizer: c.optimizer } : {}), ...(c.schedule && c.schedule !== 'warmup-cosine' ? { schedule: c.schedule } : {}), ...((c.gradAccumulation ?? 1) !== 1 ? { gradAccumulation: c.gradAccumulation } : {}) };
  return JSON.stringify({ epochs, batchSize, lr, momentum, weightDecay, warmupEpochs, warmupLr, augment, seed, ...extra });
}

/** The optimisers the loop can drive, with their state exposed for checkpoints. */
type PromptOptimizer = SGD | Adam;

function makeOptimizer(vars: tf.Variable[], c: PromptTrainConfig): PromptOptimizer {
  if ((c.optimizer ?? 'sgd') === 'adam') return new Adam(vars, { weightDecay: c.weightDecay });
  return new SGD(vars, { momentum: c.momentum, weightDecay: c.weightDecay });
}

/** The order the items are visited in during (0-based) `epoch`: a seeded Fisher-Yates shuffle. */
export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const r = streamFor(seed, 'epoch-order', epoch);
  for (let i = count - 1; i > 0; i--) {
    const j = r.int(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Batches per epoch: Dassl's drop_last = len(data) >= batch_size. */
export function batchesPerEpoch(count: number, batchSize: number): number {
  return count >= batchSize ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/** Labels as an Int32Array, each checked to be a class of the method. */
function readLabels(set: { count: number; label(i: number): number }, classes: number, what: string): Int32Array {
  const labels = new Int32Array(set.count);
  for (let i = 0; i < set.count; i++) {
    const y = set.label(i);
    if (!Number.isInteger(y) || y < 0 || y >= classes) throw new Error(`${what}: item ${i} has label ${y}, not a class index in [0, ${classes})`);
    labels[i] = y;
  }
  return labels;
}

/** FNV-1a over the labels: a resumed run must see the same training set. */
function labelFingerprint(labels: Int32Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < labels.length; i++) h = Math.imul(h ^ labels[i], 0x01000193);
  return `${labels.length}:${(h >>> 0).toString(16)}`;
}

interface Batch {
  input: { features: tf.Tensor2D } | { pixels: tf.Tensor4D };
  labels: Int32Array;
}

/** Builds the model input of the items `idx`: gathered features, or transformed (and maybe encoded) pixels. */
function makeInput(
  set: TrainSet,
  idx: ArrayLike<number>,
  mode: 'features' | 'augment' | 'test',
  size: number,
  aug: { rng: () => number; augment: TrainAugment } | null,
  encodeImages: ((pixels: tf.Tensor4D) => tf.Tensor2D) | undefined,
): Batch['input'] {
  const n = idx.length;
  if (mode === 'features') {
    return { features: tf.tidy(() => tf.gather(set.features as tf.Tensor2D, tf.tensor1d(Array.from(idx), 'int32'))) };
  }
  const per = 3 * size * size;
  const data = new Float32Array(n * per);
  for (let b = 0; b < n; b++) {
    const img = (set.image as (i: number) => RawImage)(idx[b]);
    data.set(aug ? augmentImage(img, size, aug.rng, { scale: aug.augment.crop, flipProbability: aug.augment.flip ? 0.5 : 0 }) : toClipInput(img, { size }), b * per);
  }
  const pixels = tf.tensor4d(data, [n, 3, size, size]);
  if (!encodeImages) return { pixels };
  try {
    return { features: tf.tidy(() => encodeImages(pixels)) };
  } finally {
    pixels.dispose();
  }
}

function disposeInput(input: Batch['input']): void {
  if ('features' in input) input.features.dispose();
  else input.pixels.dispose();
}

interface Resumed {
  epoch: number;
  variables: Float32Array[];
  buffers: (Float32Array | null)[];
  optimizerStep: number;
  history: EpochRecord[];
}

function saveCheckpoint(file: string, vars: tf.Variable[], opt: PromptOptimizer, meta: Record<string, string>, epoch: number, history: EpochRecord[]): void {
  const tensors: Record<string, TensorToWrite> = {};
  vars.forEach((v, i) => { tensors[`variable.${i}`] = { dtype: 'F32', shape: v.shape, data: v.dataSync() }; });
  const state = opt.state();
  state.buffers.forEach((b, i) => { if (b) tensors[`optimizer.momentum.${i}`] = { dtype: 'F32', shape: vars[i % vars.length].shape, data: b }; });
  writeSafetensors(file, tensors, {
    ...meta,
    epoch: String(epoch),
    optimizer_step: String(state.step),
    history: JSON.stringify(history),
  });
}

function loadCheckpoint(file: string, vars: tf.Variable[], meta: Record<string, string>): Resumed {
  const f = readSafetensors(file);
  const m = f.metadata;
  if (m.format !== FORMAT) throw new Error(`${file}: not a promptlab prompt-training checkpoint; delete it or use another checkpoint folder`);
  for (const key of ['method', 'config', 'variables', 'train_set']) {
    if (m[key] !== meta[key]) {
      throw new Error(`${file}: made with another ${key === 'train_set' ? 'training set' : key} (${m[key]} vs ${meta[key]}); delete it or use another checkpoint folder to start afresh`);
    }
  }
  const variables = vars.map((v, i) => {
    const t = f.tensors.get(`variable.${i}`);
    if (!t || t.data.length !== v.size) throw new Error(`${file}: variable ${i} is missing or has the wrong size`);
    return t.data as Float32Array;
  });
  // SGD keeps one momentum buffer per variable, Adam two (the moments): as many as the file holds
  const count = [...f.tensors.keys()].filter((k) => k.startsWith('optimizer.momentum.')).reduce((n, k) => Math.max(n, Number(k.split('.')[2]) + 1), 0);
  const buffers = Array.from({ length: Math.max(count, vars.length) }, (_, i) => {
    const v = vars[i % vars.length];
    const t = f.tensors.get(`optimizer.momentum.${i}`);
    if (t && t.data.length !== v.size) throw new Error(`${file}: optimizer buffer ${i} has the wrong size`);
    return t ? (t.data as Float32Array) : null;
  });
  const whole = (key: string) => {
    const v = m[key];
    if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new Error(`${file}: its ${key} is ${JSON.stringify(v)}, not a whole number; the checkpoint is damaged (delete it, or use another checkpoint folder)`);
    return Number(v);
  };
  let history: EpochRecord[];
  try {
    history = JSON.parse(m.history ?? '[]') as EpochRecord[];
  } catch (e) {
    throw new Error(`${file}: its history is not valid JSON (${(e as Error).message}); the checkpoint is damaged`);
  }
  if (!Array.isArray(history)) throw new Error(`${file}: its history is not a list; the checkpoint is damaged`);
  return { epoch: whole('epoch'), variables, buffers, optimizerStep: whole('optimizer_step'), history };
}

function checkConfig(c: PromptTrainConfig): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
  if (!positiveInt(c.epochs)) throw new Error(`trainPrompt: epochs must be a positive integer, got ${c.epochs}`);
  if (!positiveInt(c.batchSize)) throw new Error(`trainPrompt: batchSize must be a positive integer, got ${c.batchSize}`);
  if (!(c.lr >= 0) || !(c.warmupLr >= 0)) throw new Error(`trainPrompt: invalid learning rates ${c.lr} / ${c.warmupLr}`);
  if (!Number.isInteger(c.warmupEpochs) || c.warmupEpochs < 0) throw new Error(`trainPrompt: warmupEpochs must be a non-negative integer, got ${c.warmupEpochs}`);
  if (c.checkpointEvery !== undefined && !positiveInt(c.checkpointEvery)) throw new Error(`trainPrompt: checkpointEvery must be a positive integer, got ${c.checkpointEvery}`);
  if (c.augment !== null && (typeof c.augment !== 'object' || typeof c.augment.flip !== 'boolean')) {
    throw new Error(`trainPrompt: augment must be null or { crop: [lo, hi] | null, flip: boolean }, got ${JSON.stringify(c.augment)}`);
  }
  const crop = c.augment?.crop;
  if (crop && !(crop.length === 2 && crop[0] > 0 && crop[0] <= crop[1] && crop[1] <= 1)) {
    throw new Error(`trainPrompt: augment.crop must be an area range [lo, hi] with 0 < lo <= hi <= 1, got [${crop}]`);
  }
}

/** Trains (or resumes training) the method's variables in place; returns the per-epoch history. */
export function trainPrompt(opts: TrainPromptOptions): TrainPromptResult {
  const { method, train, config } = opts;
  checkConfig(config);
  const log = opts.log ?? (() => undefined);
  const size = opts.imageSize ?? 224;
  const count = train.count;
  if (!Number.isInteger(count) || count < 1) throw new Error(`trainPrompt: the training set is empty (count ${count})`);
  let mode: 'features' | 'augment' | 'test';
  if (config.augment) {
    if (!train.image) throw new Error('trainPrompt: augmentation needs train.image (cached features cannot be augmented)');
    mode = 'augment';
  } else if (train.features) {
    if (train.features.rank !== 2 || train.features.shape[0] !== count) {
      throw new Error(`trainPrompt: train.features has shape [${train.features.shape}], expected [${count}, E]`);
    }
    mode = 'features';
  } else {
    if (!train.image) throw new Error('trainPrompt: the training set has neither features nor images');
    mode = 'test';
  }
  const labels = readLabels(train, method.classNames.length, 'trainPrompt');
  const vars = method.trainableVariables();
  if (vars.length === 0) throw new Error(`trainPrompt: ${method.name} has no trainable variables`);
  for (const v of vars) if (v.dtype !== 'float32') throw new Error(`trainPrompt: variable ${v.name} is ${v.dtype}, not float32`);

  const meta: Record<string, string> = {
    format: FORMAT,
    method: method.name,
    config: canonicalConfig(config),
    variables: JSON.stringify(vars.map((v) => v.shape)),
    train_set: labelFingerprint(labels),
    seed: String(config.seed),
  };
  const ckpt = opts.checkpointDir ? path.join(opts.checkpointDir, CHECKPOINT_FILE) : null;
  if (opts.checkpointDir) {
    fs.mkdirSync(opts.checkpointDir, { recursive: true });
    removeStaleTemporaries(opts.checkpointDir); // a checkpoint a killed run left half-written
  }

  const opt = makeOptimizer(vars, config);
  const accumulate = config.gradAccumulation ?? 1;
  try {
    let startEpoch = 0;
    let history: EpochRecord[] = [];
    let lastGood: { file: string; epoch: number } | null = null;
    let resumedFromEpoch: number | null = null;
    if (ckpt && fs.existsSync(ckpt)) {
      const r = loadCheckpoint(ckpt, vars, meta);
      tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(r.variables[i], v.shape, 'float32'))));
      opt.loadState({ step: r.optimizerStep, buffers: r.buffers });
      startEpoch = r.epoch;
      history = r.history.slice(0, r.epoch);
      lastGood = { file: ckpt, epoch: r.epoch };
      resumedFromEpoch = r.epoch;
      log(`resumed from ${ckpt} at epoch ${r.epoch}/${config.epochs}`);
    }

    const stop = Math.min(config.epochs, opts.stopAfterEpochs ?? config.epochs);
    const steps = batchesPerEpoch(count, config.batchSize);
    const totalSteps = steps * config.epochs;
    const t0 = Date.now();
    let stepsThisRun = 0;
    for (let epoch = startEpoch; epoch < stop; epoch++) {
      const started = Date.now();
      const lr = config.schedule === 'constant' ? config.lr : coopLr(epoch, config.lr, config.epochs, config.warmupEpochs, config.warmupLr);
      let pending: tf.Tensor[] | null = null; // summed gradients of the batches since the last step
      const order = epochOrder(count, config.seed, epoch);
      const aug = mode === 'augment' ? { rng: uniform(config.seed, 'augment', epoch), augment: config.augment as TrainAugment } : null;
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (let s = 0; s < steps; s++) {
        const idx = order.subarray(s * config.batchSize, Math.min(count, (s + 1) * config.batchSize));
        const y = Int32Array.from(idx, (i) => labels[i]);
        const input = makeInput(train, idx, mode, size, aug, opts.encodeImages);
        const kept: { pred?: tf.Tensor } = {};
        let lossValue: number;
        let predicted: Int32Array;
        try {
          const { value, grads } = variableGradsFreeing(() => {
            const logits = method.logits(input);
            kept.pred = tf.keep(tf.argMax(logits, 1));
            const loss = crossEntropy(logits, y);
            return accumulate === 1 ? loss : (tf.div(loss, accumulate) as tf.Scalar);
          }, vars);
          try {
            lossValue = value.dataSync()[0] * accumulate;
            predicted = (kept.pred as tf.Tensor).dataSync() as Int32Array;
            if (!Number.isFinite(lossValue)) {
              const where = lastGood
                ? `the last good checkpoint is ${lastGood.file} (epoch ${lastGood.epoch})`
                : ckpt ? `no checkpoint had been written yet (${ckpt})` : 'no checkpoint folder was given';
              throw new Error(
                `prompt training diverged: the loss is ${lossValue} at epoch ${epoch + 1}/${config.epochs}, step ${s + 1}/${steps}; ${where}. ` +
                'Lower the learning rate and resume.',
              );
            }
            const g = vars.map((v) => grads[v.name]);
            if (accumulate === 1) {
              opt.apply(g, lr);
            } else {
              const sum: tf.Tensor[] = pending === null ? g.map((t) => tf.keep(t.clone())) : tf.tidy(() => (pending as tf.Tensor[]).map((p, i) => tf.keep(tf.add(p, g[i]))));
              if (pending) tf.dispose(pending);
              pending = sum;
              if ((s + 1) % accumulate === 0 || s + 1 === steps) {
                opt.apply(pending, lr);
                tf.dispose(pending);
                pending = null;
              }
            }
          } finally {
            tf.dispose([value, ...Object.values(grads)]);
          }
        } finally {
          disposeInput(input);
          kept.pred?.dispose();
        }
        lossSum += lossValue;
        for (let b = 0; b < y.length; b++) if (predicted[b] === y[b]) correct++;
        seen += y.length;
        stepsThisRun++;
        if (opts.onProgress) {
          const rate = stepsThisRun / Math.max(1e-3, (Date.now() - t0) / 1000);
          const done = epoch * steps + s + 1;
          opts.onProgress({
            epoch: epoch + 1, epochs: config.epochs, step: s + 1, steps,
            loss: lossSum / (s + 1), accuracy: correct / seen, lr,
            stepsPerSecond: rate, etaSeconds: (totalSteps - done) / rate, epochDone: s + 1 === steps,
          });
        }
      }
      const rec: EpochRecord = { epoch: epoch + 1, lr, loss: lossSum / steps, accuracy: correct / seen, seconds: (Date.now() - started) / 1000 };
      history.push(rec);
      log(`epoch ${rec.epoch}/${config.epochs}  loss ${rec.loss.toFixed(4)}  acc ${(100 * rec.accuracy).toFixed(1)}%  lr ${lr.toExponential(2)}  ${rec.seconds.toFixed(1)}s`);
      const every = config.checkpointEvery;
      if (ckpt && ((every !== undefined && (epoch + 1) % every === 0) || epoch + 1 === stop)) {
        saveCheckpoint(ckpt, vars, opt, meta, epoch + 1, history);
        lastGood = { file: ckpt, epoch: epoch + 1 };
        log(`checkpoint ${ckpt} (epoch ${epoch + 1})`);
      }
    }
    return { history, epochsDone: Math.max(stop, startEpoch), checkpoint: lastGood?.file ?? null, resumedFromEpoch };
  } finally {
    opt.dispose();
  }
}

export interface EvalSet {
  count: number;
  label(i: number): number;
  image?(i: number): RawImage;
  features?: tf.Tensor2D;
}

export interface EvaluatePromptOptions {
  method: PromptMethod;
  data: EvalSet;
  /** Default 100 (the official test batch). */
  batchSize?: number;
  imageSize?: number;
  encodeImages?: (pixels: tf.Tensor4D) => tf.Tensor2D;
}

/** Top-1 accuracy (in [0, 1]), mean cross-entropy and predictions of the method on a labelled set, with the test transform. */
export function evaluatePrompt(opts: EvaluatePromptOptions): { accuracy: number; loss: number; predictions: Int32Array } {
  const { method, data } = opts;
  const bs = opts.batchSize ?? 100;
  const size = opts.imageSize ?? 224;
  if (!Number.isInteger(bs) || bs < 1) throw new Error(`evaluatePrompt: invalid batch size ${bs}`);
  const mode = data.features ? 'features' : 'test';
  if (mode === 'test' && !data.image) throw new Error('evaluatePrompt: the set has neither features nor images');
  const labels = readLabels(data, method.classNames.length, 'evaluatePrompt');
  const predictions = new Int32Array(data.count);
  let correct = 0;
  let lossSum = 0;
  for (let start = 0; start < data.count; start += bs) {
    const idx = new Int32Array(Math.min(bs, data.count - start)).map((_, k) => start + k);
    const y = labels.subarray(start, start + idx.length);
    const input = makeInput(data, idx, mode, size, null, opts.encodeImages);
    try {
      const [p, l] = tf.tidy(() => {
        const logits = method.logits(input);
        return [tf.argMax(logits, 1), crossEntropy(logits, y)];
      });
      predictions.set(p.dataSync() as Int32Array, start);
      lossSum += l.dataSync()[0] * idx.length;
      tf.dispose([p, l]);
    } finally {
      disposeInput(input);
    }
  }
  for (let i = 0; i < data.count; i++) if (predictions[i] === labels[i]) correct++;
  return { accuracy: data.count ? correct / data.count : 0, loss: data.count ? lossSum / data.count : 0, predictions };
}
