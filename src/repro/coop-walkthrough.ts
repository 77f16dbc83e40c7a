// Notebook 01's single CoOp run, step by step: k shots of one benchmark, CoOp with the world preset
// (16 context vectors from N(0, 0.02), class token at the end) trained on cached frozen features,
// against zero-shot CLIP with the hand-crafted template, and the nearest words of what it learned.
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { fillTemplate } from '../data/dataset';
import { sampleFewShot } from '../data/protocols';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { zeroshotAccuracyOf } from '../eval/features';
import { formatInterpretation, interpretPrompt, type ContextWords } from '../eval/interpret';
import { CoOp } from '../methods/coop';
import { getCoOpPreset } from '../methods/presets';
import type { ProgressCallback } from '../train/progress';
import { evaluatePrompt, trainPrompt, type EpochRecord } from '../train/trainer';
import { SplitFeatures } from './features-cache';
import { epochsForShots } from './fewshot';

export interface CoOpWalkthrough {
  dataset: string;
  shots: number;
  seed: number;
  preset: string;
  epochs: number;
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
  opts: { dataset?: string; shots?: number; seed?: number; quick?: boolean; onProgress?: ProgressCallback; log?: (s: string) => void } = {},
): CoOpWalkthrough {
  const name = opts.dataset ?? 'world-shapes';
  if (!(WORLD_CLASSIFICATION as readonly string[]).includes(name)) throw new Error(`CoOp walkthrough: unknown dataset "${name}" (valid: ${WORLD_CLASSIFICATION.join(', ')})`);
  const shots = opts.shots ?? 16;
  const seed = opts.seed ?? 1;
  const quick = opts.quick === true;
  const ds = getWorldDataset(name, { quick }) as ClassificationDataset;
  const preset = getCoOpPreset('world_coop_ctx16');
  const o = preset.optim;
  const epochs = epochsForShots(quick ? Math.round(o.epochs / 5) : o.epochs, shots);
  const feats = new SplitFeatures(model, ds, opts.log);
  const coop = new CoOp(model, tokenizer, ds.classNames, { ...preset.config, seed });
  try {
    const split = sampleFewShot(ds, shots, seed);
    const trainF = feats.of('train', split.train);
    const test = ds.split('test');
    const testF = feats.all('test');
    const zeroshot = 100 * zeroshotAccuracyOf(model, tokenizer, testF, Int32Array.from(test.map((t) => t.label)), ds.classNames, [ds.template]);
    let history: EpochRecord[];
    try {
      history = trainPrompt({
        method: coop,
        train: { count: split.train.length, label: (i) => split.train[i].label, features: trainF },
        config: { epochs, batchSize: o.batchSize, lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, warmupEpochs: o.warmupEpochs, warmupLr: o.warmupLr, augment: false, seed },
        onProgress: opts.onProgress,
      }).history;
    } finally {
      trainF.dispose();
    }
    const acc = 100 * evaluatePrompt({ method: coop, data: { count: test.length, label: (i) => test[i].label, features: testF } }).accuracy;
    const words = interpretPrompt(coop.ctx, model.text.tokenEmbedding, tokenizer);
    return {
      dataset: name,
      shots,
      seed,
      preset: preset.name,
      epochs,
      handPrompt: fillTemplate(ds.template, ds.classNames[0]),
      learnedPrompt: `${Array(coop.nCtx).fill('X').join(' ')} ${ds.classNames[0]}.`,
      zeroshot,
      coop: acc,
      history,
      words,
      wordsText: formatInterpretation(words),
    };
  } finally {
    coop.dispose();
    feats.dispose();
  }
}
