// promptlab repro base2new: CoCoOp's base-to-new generalisation (its Table 1) on the world with
// MiniCLIP: 16 shots sampled on all classes, train on the base half, test on base and new; zero-shot
// CLIP, CoOp (n_ctx 4 from "a photo of a", the longer schedule) and CoCoOp; H from the averaged base
// and new accuracies. Training sees augmented views through the frozen image tower, as the official
// code does, unless `cachedFeatures`.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { averageH, baseToNewSplit, harmonicMean, LabelledItem } from '../data/protocols';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { zeroshotAccuracyOf } from '../eval/features';
import type { PromptMethod } from '../methods/method';
import { getCoCoOpPreset, getCoOpPreset, type MethodPreset } from '../methods/presets';
import { labelled, type ProgressCallback } from '../train/progress';
import { SplitFeatures } from './features-cache';
import { quickEpochs } from './fewshot';
import type { ResultRow } from './record';
import { accuracyOn, buildMethod, describePreset, describeTraining, trainingSetup, trainOn, type TrainingSetup } from './setup';

export interface Base2NewOptions {
  quick?: boolean;
  seeds?: number[];
  shots?: number;
  datasets?: readonly string[];
  cachedFeatures?: boolean;
  log?: (line: string) => void;
  onProgress?: ProgressCallback;
  /** The dataset of a name (default: the world benchmark); `--data` gives real ones. */
  dataset?: (name: string) => ClassificationDataset;
  /** Train with the official configs of the CoCoOp paper (real data) instead of the world's presets. */
  official?: boolean;
}

/**
 * The official configs of CoCoOp's base-to-new protocol (scripts/cocoop/base2new_train.sh): CoCoOp
 * vit_b16_c4_ep10_batch1_ctxv1; CoOp vit_b16_ctxv1, on ImageNet vit_b16_ep50_ctxv1.
 */
export function officialBase2NewPresetNames(dataset: string): Record<'coop' | 'cocoop', string> {
  return { coop: dataset.toLowerCase() === 'imagenet' ? 'vit_b16_ep50_ctxv1' : 'vit_b16_ctxv1', cocoop: 'vit_b16_c4_ep10_batch1_ctxv1' };
}

/**
 * The presets of the base-to-new (and transfer) protocol and their epochs (a fifth in quick runs):
 * the world's, or with `official` the CoCoOp paper's configs for `dataset`.
 */
export function base2newPresets(quick: boolean, official?: { dataset: string }): Record<'coop' | 'cocoop', { preset: MethodPreset; epochs: number }> {
  const names = official ? officialBase2NewPresetNames(official.dataset) : { coop: 'world_coop_ctx4_init', cocoop: 'world_cocoop' };
  const coop = getCoOpPreset(names.coop);
  const cocoop = getCoCoOpPreset(names.cocoop);
  const epochs = (p: MethodPreset) => (quick ? quickEpochs(p.optim.epochs) : p.optim.epochs);
  return { coop: { preset: coop, epochs: epochs(coop) }, cocoop: { preset: cocoop, epochs: epochs(cocoop) } };
}

/** The experiment's configuration (what results.json records). */
export function base2newConfig(quick: boolean, opts: { cachedFeatures?: boolean; datasets?: readonly string[] } = {}, official = false) {
  const p = base2newPresets(quick, official ? { dataset: '' } : undefined);
  // ImageNet's CoOp config is recorded whichever datasets run, so that parts of one run (merge-results) agree
  const imagenet = official ? base2newPresets(quick, { dataset: 'imagenet' }) : null;
  return {
    shots: 16,
    coop: describePreset(p.coop.preset, p.coop.epochs),
    ...(imagenet ? { coopImageNet: describePreset(imagenet.coop.preset, imagenet.coop.epochs) } : {}),
    cocoop: describePreset(p.cocoop.preset, p.cocoop.epochs),
    ...describeTraining(p.coop.preset, opts.datasets ?? WORLD_CLASSIFICATION, opts.cachedFeatures === true),
  };
}

/** CoOp or CoCoOp for these class names and seed, with its training setup for the dataset. */
export function promptMethodOf(which: 'coop' | 'cocoop', quick: boolean, model: ClipModel, tokenizer: ClipTokenizer, classNames: readonly string[], o: { dataset: string; seed: number; cachedFeatures: boolean; official?: boolean }): { method: PromptMethod; setup: TrainingSetup } {
  const { preset, epochs } = base2newPresets(quick, o.official ? { dataset: o.dataset } : undefined)[which];
  const setup = trainingSetup(preset, { ...o, imageResolution: model.config.imageResolution, epochs });
  return { method: buildMethod(preset, model, tokenizer, classNames, o.seed), setup };
}

export function runBase2New(model: ClipModel, tokenizer: ClipTokenizer, opts: Base2NewOptions = {}): ResultRow[] {
  const quick = opts.quick === true;
  const log = opts.log ?? (() => undefined);
  const cachedFeatures = opts.cachedFeatures === true;
  const rows: ResultRow[] = [];
  const add = (method: string, dataset: string, seed: number, base: number, novel: number) => {
    rows.push({ method, dataset, split: 'base', metric: 'accuracy', seed, value: base });
    rows.push({ method, dataset, split: 'new', metric: 'accuracy', seed, value: novel });
    rows.push({ method, dataset, split: 'all', metric: 'H', seed, value: harmonicMean(base, novel) });
    log(`  ${method}: base ${base.toFixed(1)}, new ${novel.toFixed(1)}, H ${harmonicMean(base, novel).toFixed(1)}`);
  };
  for (const name of opts.datasets ?? WORLD_CLASSIFICATION) {
    const ds = opts.dataset ? opts.dataset(name) : getWorldDataset(name as (typeof WORLD_CLASSIFICATION)[number], { quick }) as ClassificationDataset;
    const feats = new SplitFeatures(model, ds, log);
    try {
      for (const seed of opts.seeds ?? [1]) {
        const shots = opts.shots ?? 16;
        log(`${name}, seed ${seed}: ${shots} shots, base-to-new`);
        const split = baseToNewSplit(ds, shots, seed);
        const test = ds.split('test');
        const baseTest = split.base.filter(test);
        const newTest = split.new.filter(test);
        const labels = (items: LabelledItem[]) => Int32Array.from(items.map((x) => x.label));
        const baseTestF = feats.of('test', baseTest.map((x) => x.item));
        const newTestF = feats.of('test', newTest.map((x) => x.item));
        const train = split.base.filter(split.fewShot.train);
        try {
          const zs = (names: string[], f: tf.Tensor2D, items: LabelledItem[]) => 100 * zeroshotAccuracyOf(model, tokenizer, f, labels(items), names, [ds.template]);
          add('zeroshot', name, seed, zs(split.base.classNames, baseTestF, baseTest), zs(split.new.classNames, newTestF, newTest));
          for (const which of ['coop', 'cocoop'] as const) {
            const { method: m, setup } = promptMethodOf(which, quick, model, tokenizer, split.base.classNames, { dataset: name, seed, cachedFeatures, official: opts.official === true });
            try {
              const t0 = Date.now();
              const r = trainOn(m, setup, { ds, items: train.map((x) => x.item), labels: labels(train) }, feats, { onProgress: labelled(opts.onProgress, `${name} seed ${seed}, base classes, ${which}`) });
              const last = r.history[r.history.length - 1];
              log(`  ${which}: ${setup.train.epochs} epochs in ${((Date.now() - t0) / 1000).toFixed(0)} s, train loss ${last.loss.toFixed(3)}, train accuracy ${(100 * last.accuracy).toFixed(1)}%`);
              const base = accuracyOn(m, setup, baseTestF, labels(baseTest));
              m.setClassNames(split.new.classNames);
              add(which, name, seed, base, accuracyOn(m, setup, newTestF, labels(newTest)));
            } finally {
              m.dispose();
            }
          }
        } finally {
          tf.dispose([baseTestF, newTestF]);
        }
      }
    } finally {
      feats.dispose();
    }
  }
  return [...rows, ...base2newAverageRows(rows)];
}

/** The papers' average row: H from the averaged base and new accuracies, per method and seed. */
export function base2newAverageRows(rows: readonly ResultRow[]): ResultRow[] {
  const out: ResultRow[] = [];
  const keys = new Map<string, { method: string; seed: number }>();
  for (const r of rows) if (r.dataset !== 'average') keys.set(JSON.stringify([r.method, r.seed]), { method: r.method, seed: r.seed });
  for (const { method, seed } of keys.values()) {
    const acc = (split: string) => new Map(rows.filter((r) => r.method === method && r.seed === seed && r.split === split && r.metric === 'accuracy' && r.dataset !== 'average').map((r) => [r.dataset, r.value]));
    const base = acc('base');
    const novel = acc('new');
    const pairs = [...base.keys()].filter((d) => novel.has(d)).map((d) => ({ base: base.get(d)!, new: novel.get(d)! }));
    if (pairs.length > 0) out.push({ method, dataset: 'average', split: 'all', metric: 'H', seed, value: averageH(pairs).h });
  }
  return out;
}
