// Notebook 01's single CoOp run, step by step: k shots of one benchmark, CoOp with the world preset
// for k shots (16 context vectors from N(0, 0.02), class token at the end) trained on augmented views
// through the frozen image tower (or cached features), against zero-shot CLIP with the hand-crafted
// template, and the nearest words of what it learned.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { fillTemplate } from '../data/dataset';
import { sampleFewShot } from '../data/protocols';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { zeroshotAccuracyOf } from '../eval/features';
import { formatInterpretation, interpretPrompt, READABLE_TOKEN_NOTE, type ContextWords } from '../eval/interpret';
import type { CoOp } from '../methods/coop';
import type { ProgressCallback } from '../train/progress';
import type { EpochRecord } from '../train/trainer';
import { SplitFeatures } from './features-cache';
import { fewshotPreset } from './fewshot';
import { accuracyOn, buildMethod, trainingSetup, trainOn } from './setup';

export interface CoOpWalkthrough {
  dataset: string;
  shots: number;
  seed: number;
  preset: string;
  epochs: number;
  /** Whether CoOp trained on cached features (else on augmented views). */
  cachedFeatures: boolean;
  /** The hand-crafted prompt of the first class, and CoOp's prompt with X for each context vector. */
  handPrompt: string;
  learnedPrompt: string;
  /** Test accuracy (%) of zero-shot CLIP and of CoOp. */
  zeroshot: number;
  coop: number;
  history: EpochRecord[];
  words: ContextWords[];
  wordsText: string;
}

export function runCoOpWalkthrough(
  model: ClipModel,
  tokenizer: ClipTokenizer,
  opts: { dataset?: string; shots?: number; seed?: number; quick?: boolean; cachedFeatures?: boolean; onProgress?: ProgressCallback; log?: (s: string) => void } = {},
): CoOpWalkthrough {
  const name = opts.dataset ?? 'world-shapes';
  if (!(WORLD_CLASSIFICATION as readonly string[]).includes(name)) throw new Error(`CoOp walkthrough: unknown dataset "${name}" (valid: ${WORLD_CLASSIFICATION.join(', ')})`);
  const shots = opts.shots ?? 16;
  const seed = opts.seed ?? 1;
  const quick = opts.quick === true;
  const ds = getWorldDataset(name, { quick }) as ClassificationDataset;
  const { preset, epochs } = fewshotPreset(shots, quick);
  const cachedFeatures = opts.cachedFeatures === true;
  const setup = trainingSetup(preset, { dataset: name, seed, imageResolution: model.config.imageResolution, cachedFeatures, epochs });
  const feats = new SplitFeatures(model, ds, opts.log);
  const coop = buildMethod(preset, model, tokenizer, ds.classNames, seed) as CoOp;
  try {
    const split = sampleFewShot(ds, shots, seed);
    const test = ds.split('test');
    const testF = feats.all('test');
    const testLabels = Int32Array.from(test.map((t) => t.label));
    const zeroshot = 100 * zeroshotAccuracyOf(model, tokenizer, testF, testLabels, ds.classNames, [ds.template]);
    const history = trainOn(coop, setup, { ds, items: split.train, labels: split.train.map((it) => it.label) }, feats, { onProgress: opts.onProgress }).history;
    const acc = accuracyOn(coop, setup, testF, testLabels);
    const words = interpretPrompt(coop.ctx, model.text.tokenEmbedding, tokenizer);
    // the scale distances compare with: how long a token embedding is on average
    const tokenNorm = tf.tidy(() => tf.mean(tf.norm(model.text.tokenEmbedding, 'euclidean', 1)).dataSync()[0]);
    return {
      dataset: name,
      shots,
      seed,
      preset: preset.name,
      epochs,
      cachedFeatures,
      handPrompt: fillTemplate(ds.template, ds.classNames[0]),
      learnedPrompt: fillTemplate(`${Array(coop.nCtx).fill('X').join(' ')} {}.`, ds.classNames[0]),
      zeroshot,
      coop: acc,
      history,
      words,
      wordsText: `${formatInterpretation(words)}\n(Token embeddings are ${tokenNorm.toFixed(2)} long on average. ${READABLE_TOKEN_NOTE})`,
    };
  } finally {
    coop.dispose();
    feats.dispose();
  }
}
