// promptlab repro fewshot: CoOp's few-shot curves (its Figure 3) on the world with MiniCLIP:
// accuracy against 1/2/4/8/16 shots for zero-shot CLIP (no shots), CoOp's linear probe and CoOp
// (16 random context vectors, class token at the end; epochs by the official shot rule:
// coopPresetForShots). CoOp trains on augmented views through the frozen image tower, as the official
// code does, unless `cachedFeatures`; the linear probe reads the test transform's raw features, as
// CoOp's lpclip does.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { sampleFewShot } from '../data/protocols';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { zeroshotAccuracyOf } from '../eval/features';
import { linearProbe } from '../eval/linear-probe';
import { coopPresetForShots } from '../methods/presets';
import { labelled, type ProgressCallback } from '../train/progress';
import { SplitFeatures } from './features-cache';
import type { ResultRow } from './record';
import { accuracyOn, buildMethod, describePreset, describeTraining, trainingSetup, trainOn } from './setup';

export const SHOTS = [1, 2, 4, 8, 16];

/** A quick run's epochs: a fifth of the preset's (at least 1). */
export function quickEpochs(epochs: number): number {
  return Math.max(1, Math.round(epochs / 5));
}

/** CoOp's preset for k shots on MiniCLIP, and the epochs a (quick) run trains it for. */
export function fewshotPreset(shots: number, quick: boolean) {
  const preset = coopPresetForShots('miniclip', shots);
  return { preset, epochs: quick ? quickEpochs(preset.optim.epochs) : preset.optim.epochs };
}

export function fewshotConfig(quick: boolean, opts: { cachedFeatures?: boolean; datasets?: readonly string[] } = {}) {
  const shots = quick ? [1, 4, 16] : SHOTS;
  return {
    shots,
    coop: Object.fromEntries(shots.map((k) => {
      const { preset, epochs } = fewshotPreset(k, quick);
      return [`${k}-shot`, describePreset(preset, epochs)];
    })),
    epochRule: "COOP.md's: 1 shot the ep50 config, 2-4 shots ep100, 8-16 shots the 200-epoch one (here 13 / 25 / 50 epochs; quick runs a fifth)",
    linearProbe: "CoOp's lpclip: scikit-learn's L-BFGS logistic regression on the raw image features, C searched on the few-shot val split (min(k, 4) per class) over 1e6..1e-6, then 8 rounds of binary search; the last round's classifier",
    ...describeTraining(coopPresetForShots('miniclip', 16), opts.datasets ?? WORLD_CLASSIFICATION, opts.cachedFeatures === true),
  };
}

export interface FewshotOptions {
  quick?: boolean;
  seeds?: number[];
  datasets?: readonly string[];
  shots?: number[];
  cachedFeatures?: boolean;
  log?: (s: string) => void;
  onProgress?: ProgressCallback;
}

export function runFewshot(model: ClipModel, tokenizer: ClipTokenizer, opts: FewshotOptions = {}): ResultRow[] {
  const quick = opts.quick === true;
  const cfg = fewshotConfig(quick);
  const log = opts.log ?? (() => undefined);
  const rows: ResultRow[] = [];
  for (const name of opts.datasets ?? WORLD_CLASSIFICATION) {
    const ds = getWorldDataset(name as (typeof WORLD_CLASSIFICATION)[number], { quick }) as ClassificationDataset;
    const feats = new SplitFeatures(model, ds, log);
    try {
      const test = ds.split('test');
      const testLabels = Int32Array.from(test.map((it) => it.label));
      const zs = 100 * zeroshotAccuracyOf(model, tokenizer, feats.all('test'), testLabels, ds.classNames, [ds.template]);
      for (const seed of opts.seeds ?? [1]) {
        rows.push({ method: 'zeroshot', dataset: name, split: 'test', metric: 'accuracy@0', seed, value: zs });
        for (const k of opts.shots ?? cfg.shots) {
          const fs = sampleFewShot(ds, k, seed);
          const lab = (items: { label: number }[]) => Int32Array.from(items.map((it) => it.label));
          const [trainRaw, valRaw] = [feats.rawOf('train', fs.train), feats.rawOf('val', fs.val)];
          let lp: number;
          try {
            lp = 100 * linearProbe({ features: trainRaw, labels: lab(fs.train) }, { features: valRaw, labels: lab(fs.val) }, { features: feats.raw('test'), labels: testLabels }).testAccuracy;
          } finally {
            tf.dispose([trainRaw, valRaw]);
          }
          const { preset, epochs } = fewshotPreset(k, quick);
          const setup = trainingSetup(preset, { dataset: name, seed, imageResolution: model.config.imageResolution, cachedFeatures: opts.cachedFeatures === true, epochs });
          const coop = buildMethod(preset, model, tokenizer, ds.classNames, seed);
          try {
            trainOn(coop, setup, { ds, items: fs.train, labels: lab(fs.train) }, feats, { onProgress: labelled(opts.onProgress, `${name} seed ${seed}, ${k} shots, CoOp`) });
            const acc = accuracyOn(coop, setup, feats.all('test'), testLabels);
            rows.push({ method: 'linear-probe', dataset: name, split: 'test', metric: `accuracy@${k}`, seed, value: lp });
            rows.push({ method: 'coop', dataset: name, split: 'test', metric: `accuracy@${k}`, seed, value: acc });
            log(`${name}, seed ${seed}, ${k} shots: zero-shot ${zs.toFixed(1)}, linear probe ${lp.toFixed(1)}, CoOp ${acc.toFixed(1)} (${epochs} epochs)`);
          } finally {
            coop.dispose();
          }
        }
      }
    } finally {
      feats.dispose();
    }
  }
  return rows;
}
