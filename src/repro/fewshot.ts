// promptlab repro fewshot: CoOp's few-shot curves (methods.md 1.5) on the world with MiniCLIP:
// accuracy against 1/2/4/8/16 shots for zero-shot CLIP (no shots), the linear probe and CoOp
// (16 random context vectors, class token at the end; epochs by the official shot rule, scaled).
// Image features are cached (augmentation off).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { sampleFewShot } from '../data/protocols';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { zeroshotAccuracyOf } from '../eval/features';
import { linearProbe } from '../eval/linear-probe';
import { CoOp } from '../methods/coop';
import { getCoOpPreset } from '../methods/presets';
import { evaluatePrompt, trainPrompt } from '../train/trainer';
import { SplitFeatures } from './features-cache';
import type { ResultRow } from './record';

export const SHOTS = [1, 2, 4, 8, 16];

/** The official rule (1 shot: 50 epochs, 2-4: 100, 8-16: 200) as a fraction of the preset's epochs. */
export function epochsForShots(presetEpochs: number, shots: number): number {
  const fraction = shots <= 1 ? 0.25 : shots <= 4 ? 0.5 : 1;
  return Math.max(1, Math.round(presetEpochs * fraction));
}

export function fewshotConfig(quick: boolean) {
  const p = getCoOpPreset('world_coop_ctx16');
  return {
    shots: quick ? [1, 4, 16] : SHOTS,
    coop: { preset: p.name, config: p.config, optim: { ...p.optim, epochs: quick ? Math.round(p.optim.epochs / 5) : p.optim.epochs } },
    epochRule: '1 shot: 1/4 of the epochs, 2-4 shots: 1/2, 8-16: all (the official 50/100/200)',
    linearProbe: 'logistic regression, L2 strength chosen on the few-shot val split (min(k, 4) per class)',
    features: 'cached frozen image features (augmentation off)',
  };
}

export function runFewshot(model: ClipModel, tokenizer: ClipTokenizer, opts: { quick?: boolean; seeds?: number[]; datasets?: readonly string[]; shots?: number[]; log?: (s: string) => void } = {}): ResultRow[] {
  const quick = opts.quick === true;
  const cfg = fewshotConfig(quick);
  const log = opts.log ?? (() => undefined);
  const rows: ResultRow[] = [];
  for (const name of opts.datasets ?? WORLD_CLASSIFICATION) {
    const ds = getWorldDataset(name as (typeof WORLD_CLASSIFICATION)[number], { quick }) as ClassificationDataset;
    const feats = new SplitFeatures(model, ds, log);
    try {
      const test = ds.split('test');
      const testF = feats.all('test');
      const testLabels = Int32Array.from(test.map((it) => it.label));
      const zs = 100 * zeroshotAccuracyOf(model, tokenizer, testF, testLabels, ds.classNames, [ds.template]);
      for (const seed of opts.seeds ?? [1]) {
        rows.push({ method: 'zeroshot', dataset: name, split: 'test', metric: 'accuracy@0', seed, value: zs });
        for (const k of opts.shots ?? cfg.shots) {
          const fs = sampleFewShot(ds, k, seed);
          const trainF = feats.of('train', fs.train);
          const valF = feats.of('val', fs.val);
          const lab = (items: { label: number }[]) => Int32Array.from(items.map((it) => it.label));
          const lp = linearProbe({ features: trainF, labels: lab(fs.train) }, { features: valF, labels: lab(fs.val) }, { features: testF, labels: testLabels }, ds.classNames.length);
          const coop = new CoOp(model, tokenizer, ds.classNames, { ...cfg.coop.config, seed });
          try {
            const epochs = epochsForShots(cfg.coop.optim.epochs, k);
            const o = cfg.coop.optim;
            trainPrompt({
              method: coop,
              train: { count: fs.train.length, label: (i) => fs.train[i].label, features: trainF },
              config: { epochs, batchSize: o.batchSize, lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, warmupEpochs: o.warmupEpochs, warmupLr: o.warmupLr, augment: false, seed },
            });
            const acc = 100 * evaluatePrompt({ method: coop, data: { count: test.length, label: (i) => test[i].label, features: testF } }).accuracy;
            rows.push({ method: 'linear-probe', dataset: name, split: 'test', metric: `accuracy@${k}`, seed, value: 100 * lp.testAccuracy });
            rows.push({ method: 'coop', dataset: name, split: 'test', metric: `accuracy@${k}`, seed, value: acc });
            log(`${name}, seed ${seed}, ${k} shots: zero-shot ${zs.toFixed(1)}, linear probe ${(100 * lp.testAccuracy).toFixed(1)}, CoOp ${acc.toFixed(1)} (${epochs} epochs)`);
          } finally {
            coop.dispose();
            tf.dispose([trainF, valF]);
          }
        }
      }
    } finally {
      feats.dispose();
    }
  }
  return rows;
}
