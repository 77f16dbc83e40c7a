// How an experiment trains a prompt method from a named preset (src/methods/presets.ts): every field
// of the preset is read here, so a preset means what it says.
//
//   method config  -> the CoOp / CoCoOp constructed (buildMethod)
//   optim          -> the trainer's SGD, warm-up and cosine schedule, batch size; the test batch size
//   input          -> the image size (the model must take it) and the training transforms, less those
//                     that change the dataset's labels (inputFor)
//   name, backbone, source -> the run's record (describePreset)
//
// Training runs the frozen image tower on a fresh augmented view of every image at every step, as the
// official code does; `cachedFeatures` trains on the test-transform features computed once instead
// (much cheaper, no augmentation), and the run's record says so.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import { CoCoOp } from '../methods/cocoop';
import { CoOp } from '../methods/coop';
import { CompositionalPrompt, CSP, type PairIndex } from '../methods/csp';
import { CompositionalCoOp } from '../methods/czsl-coop';
import { l2normalize, type PromptMethod } from '../methods/method';
import { AUGMENTATIONS, inputFor, LABEL_CHANGING_TRANSFORMS, type MethodPreset } from '../methods/presets';
import type { ProgressCallback } from '../train/progress';
import { evaluatePrompt, trainPrompt, type PromptTrainConfig, type TrainAugment, type TrainPromptResult } from '../train/trainer';
import type { ImageSplits, SplitFeatures } from './features-cache';

export interface TrainingSetup {
  preset: string;
  method: MethodPreset['method'];
  train: PromptTrainConfig;
  imageSize: number;
  evalBatchSize: number;
  cachedFeatures: boolean;
}

/** Throws when a preset's fields contradict each other or name what promptlab does not implement. */
export function checkPreset(p: MethodPreset): void {
  const bad = (what: string) => new Error(`preset ${p.name}: ${what}`);
  const o = p.optim;
  if (o.name === 'sgd') {
    if (o.scheduler !== 'cosine') throw bad(`scheduler "${String((o as { scheduler: unknown }).scheduler)}" is not implemented with SGD (valid: cosine)`);
    if (o.warmupType !== 'constant') throw bad(`warm-up type "${o.warmupType}" is not implemented (valid: constant)`);
  } else if (o.name === 'adam') {
    if (o.scheduler !== 'constant') throw bad(`scheduler "${String((o as { scheduler: unknown }).scheduler)}" is not implemented with Adam (valid: constant)`);
    if (!Number.isInteger(o.gradAccumulation) || o.gradAccumulation < 1) throw bad(`gradAccumulation must be a positive integer, got ${o.gradAccumulation}`);
  } else {
    throw bad(`optimiser "${(o as { name: string }).name}" is not implemented (valid: sgd, adam)`);
  }
  if ((p.method === 'csp' || p.method === 'czsl-coop') !== (o.name === 'adam')) throw bad(`${p.method} trains with ${p.method === 'csp' || p.method === 'czsl-coop' ? 'adam' : 'sgd'} (the official code), not ${o.name}`);
  if (!Number.isInteger(o.testBatchSize) || o.testBatchSize < 1) throw bad(`testBatchSize must be a positive integer, got ${o.testBatchSize}`);
  const unknown = p.input.augment.filter((a) => !AUGMENTATIONS.includes(a));
  if (unknown.length) throw bad(`unknown training transform(s) ${unknown.join(', ')} (valid: ${AUGMENTATIONS.join(', ')})`);
  const crop = p.input.augment.includes('random_resized_crop');
  if (crop !== (p.input.cropScale !== undefined)) throw bad(crop ? 'random_resized_crop needs cropScale' : 'cropScale is only read with random_resized_crop');
  const words = (t: string) => (t.trim() ? t.trim().replace(/_/g, ' ').split(/\s+/).length : 0);
  if (p.method === 'coop' || p.method === 'cocoop') {
    const w = words(p.config.ctxInit);
    if (w && p.config.nCtx !== w) throw bad(`nCtx ${p.config.nCtx} with ctxInit "${p.config.ctxInit}": the official code sets n_ctx to its ${w} words`);
    if (p.method === 'coop' && w && p.config.csc) throw bad('class-specific context (csc) with ctxInit: the official code ignores csc when the context starts from words');
  } else if (p.method === 'csp') {
    if (!(p.config.attrDropout >= 0 && p.config.attrDropout < 1)) throw bad(`attrDropout must be in [0, 1), got ${p.config.attrDropout}`);
    if (words(p.config.template) < 3) throw bad(`the template "${p.config.template}" needs words before its attribute and object slots`);
  } else if (words(p.config.ctxInit) + 2 > words(p.config.template)) {
    throw bad(`ctxInit "${p.config.ctxInit}" does not fit before the slots of "${p.config.template}"`);
  }
}

/** The trainer's configuration, image size and evaluation batch of a preset for one dataset and seed. */
export function trainingSetup(preset: MethodPreset, opts: { dataset: string; seed: number; imageResolution: number; cachedFeatures: boolean; epochs?: number }): TrainingSetup {
  checkPreset(preset);
  const input = inputFor(preset, opts.dataset);
  if (input.size !== opts.imageResolution) {
    throw new Error(`preset ${preset.name} trains at ${input.size} px, but the model takes ${opts.imageResolution} px images (choose a preset made for this model)`);
  }
  const o = preset.optim;
  const epochs = opts.epochs ?? o.epochs;
  const augment: TrainAugment | null = opts.cachedFeatures || input.augment.length === 0
    ? null
    : { crop: input.cropScale && input.augment.includes('random_resized_crop') ? [input.cropScale[0], input.cropScale[1]] : null, flip: input.augment.includes('random_flip') };
  const train: PromptTrainConfig = o.name === 'sgd'
    ? { epochs, batchSize: o.batchSize, lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, warmupEpochs: o.warmupEpochs, warmupLr: o.warmupLr, augment, seed: opts.seed }
    : { optimizer: 'adam', schedule: 'constant', gradAccumulation: o.gradAccumulation, epochs, batchSize: o.batchSize, lr: o.lr, momentum: 0, weightDecay: o.weightDecay, warmupEpochs: 0, warmupLr: 0, augment, seed: opts.seed };
  return { preset: preset.name, method: preset.method, train, imageSize: input.size, evalBatchSize: o.testBatchSize, cachedFeatures: opts.cachedFeatures };
}

/** The preset's method for these class names, its random start seeded (CoOp, CoCoOp). */
export function buildMethod(preset: MethodPreset, model: ClipModel, tokenizer: ClipTokenizer, classNames: readonly string[], seed: number): PromptMethod {
  checkPreset(preset);
  if (preset.method === 'coop') return new CoOp(model, tokenizer, classNames, { ...preset.config, seed });
  if (preset.method === 'cocoop') return new CoCoOp(model, tokenizer, classNames, { ...preset.config, seed });
  throw new Error(`preset ${preset.name}: ${preset.method} learns attribute-object pairs; build it with buildCompositional`);
}

/** The preset's compositional method (CSP, or its CoOp baseline) over these attributes, objects and candidate pairs. */
export function buildCompositional(preset: MethodPreset, model: ClipModel, tokenizer: ClipTokenizer, attrs: readonly string[], objs: readonly string[], pairs: readonly PairIndex[], seed: number): CompositionalPrompt {
  checkPreset(preset);
  if (preset.method === 'csp') return new CSP(model, tokenizer, attrs, objs, pairs, { ...preset.config, seed });
  if (preset.method === 'czsl-coop') return new CompositionalCoOp(model, tokenizer, attrs, objs, pairs, preset.config);
  throw new Error(`preset ${preset.name}: ${preset.method} classifies class names; build it with buildMethod`);
}

/** What a run records of a preset: where it comes from, and what it sets. */
export function describePreset(p: MethodPreset, epochs = p.optim.epochs) {
  return { preset: p.name, backbone: p.backbone, source: p.source, config: p.config, optim: { ...p.optim, epochs }, input: p.input };
}

/** The training input of a run, as results.json records it (per dataset: the transforms applied). */
export function describeTraining(preset: MethodPreset, datasets: readonly string[], cachedFeatures: boolean) {
  const views = (d: string) => {
    const input = inputFor(preset, d);
    const dropped = LABEL_CHANGING_TRANSFORMS[d];
    const list = input.augment.map((a) => (a === 'random_resized_crop' && input.cropScale ? `random_resized_crop (scale ${input.cropScale[0]}-${input.cropScale[1]})` : a));
    return `${list.length ? list.join(' + ') : 'none (the test transform)'}${dropped ? `; ${dropped.drop.join(' and ')} left out: ${dropped.why}` : ''}`;
  };
  return {
    cachedFeatures,
    features: cachedFeatures
      ? 'cached: the frozen image features of the test transform, computed once (no augmentation; --cached-features)'
      : 'the frozen image tower on a fresh augmented view of each training image at every step (the official pipeline)',
    augmentation: cachedFeatures ? 'none (cached features)' : Object.fromEntries(datasets.map((d) => [d, views(d)])),
  };
}

/** Training images with their labels (in the method's class order). */
export interface TrainItems<I extends { index: number }> {
  ds: ImageSplits<I>;
  items: readonly I[];
  labels: ArrayLike<number>;
}

/**
 * Trains the method on the items as the setup says: augmented views through the frozen image tower
 * (the images rendered or decoded once), or the cached features of `feats`.
 */
export function trainOn<I extends { index: number }>(method: PromptMethod, setup: TrainingSetup, data: TrainItems<I>, feats: SplitFeatures<I>, opts: { onProgress?: ProgressCallback; log?: (s: string) => void } = {}): TrainPromptResult {
  const { items, labels } = data;
  if (labels.length !== items.length) throw new Error(`trainOn: ${items.length} items but ${labels.length} labels`);
  const base = { method, config: setup.train, imageSize: setup.imageSize, onProgress: opts.onProgress, log: opts.log };
  if (setup.cachedFeatures || setup.train.augment === null) {
    // without augmentation every step would see the test transform's features: the same numbers, once
    const features = feats.of('train', items);
    try {
      return trainPrompt({ ...base, train: { count: items.length, label: (i) => labels[i], features } });
    } finally {
      features.dispose();
    }
  }
  const images = items.map((it) => data.ds.image(it, 'train'));
  const model = feats.model;
  return trainPrompt({
    ...base,
    train: { count: items.length, label: (i) => labels[i], image: (i) => images[i] },
    encodeImages: (pixels) => tf.tidy(() => l2normalize(model.encodeImage(pixels))),
  });
}

/** Test accuracy (%) of the method on cached test features (the test transform is deterministic). */
export function accuracyOn(method: PromptMethod, setup: TrainingSetup, features: tf.Tensor2D, labels: ArrayLike<number>): number {
  return 100 * evaluatePrompt({ method, data: { count: labels.length, label: (i) => labels[i], features }, batchSize: setup.evalBatchSize }).accuracy;
}
