// promptlab repro base2new: CoCoOp's base-to-new generalisation (methods.md 2.4) on the world
// with MiniCLIP: 16 shots sampled on all classes, train on the base half, test on base and new;
// zero-shot CLIP, CoOp (n_ctx 4 from "a photo of a", the longer schedule) and CoCoOp; H from
// the averaged base and new accuracies. Image features are cached (augmentation off).
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { averageH, baseToNewSplit, harmonicMean, LabelledItem } from '../data/protocols';
import { getWorldDataset, WORLD_CLASSIFICATION } from '../data/world-benchmarks';
import { zeroshotAccuracyOf } from '../eval/features';
import { CoCoOp } from '../methods/cocoop';
import { CoOp } from '../methods/coop';
import type { PromptMethod } from '../methods/method';
import { getCoCoOpPreset, getCoOpPreset } from '../methods/presets';
import { evaluatePrompt, PromptTrainConfig, trainPrompt } from '../train/trainer';
import { SplitFeatures } from './features-cache';
import type { ResultRow } from './record';

export interface Base2NewOptions {
  quick?: boolean;
  seeds?: number[];
  shots?: number;
  datasets?: readonly string[];
  log?: (line: string) => void;
}

/** The experiment's configuration (what results.json records). */
export function base2newConfig(quick: boolean) {
  const coop = getCoOpPreset('world_coop_ctx4_init');
  const cocoop = getCoCoOpPreset('world_cocoop');
  // --quick: the same protocol with a fifth of the epochs, on the quick dataset variants
  const scale = quick ? 0.2 : 1;
  return {
    shots: 16,
    coop: { preset: coop.name, config: coop.config, optim: { ...coop.optim, epochs: Math.max(1, Math.round(coop.optim.epochs * scale)) } },
    cocoop: { preset: cocoop.name, config: cocoop.config, optim: { ...cocoop.optim, epochs: Math.max(1, Math.round(cocoop.optim.epochs * scale)) } },
    features: 'cached frozen image features (augmentation off)',
  };
}

/** CoOp or CoCoOp for these class names and seed, with its schedule, as a base-to-new configuration sets them. */
export function promptMethodOf(which: 'coop' | 'cocoop', cfg: ReturnType<typeof base2newConfig>, model: ClipModel, tokenizer: ClipTokenizer, classNames: readonly string[], seed: number): { method: PromptMethod; train: PromptTrainConfig; epochs: number } {
  const method: PromptMethod = which === 'coop'
    ? new CoOp(model, tokenizer, classNames, { ...cfg.coop.config, seed })
    : new CoCoOp(model, tokenizer, classNames, { ...cfg.cocoop.config, seed });
  const optim = which === 'coop' ? cfg.coop.optim : cfg.cocoop.optim;
  return { method, train: trainConfig(optim, seed), epochs: optim.epochs };
}

export function trainConfig(optim: { epochs: number; batchSize: number; lr: number; momentum: number; weightDecay: number; warmupEpochs: number; warmupLr: number }, seed: number): PromptTrainConfig {
  return { epochs: optim.epochs, batchSize: optim.batchSize, lr: optim.lr, momentum: optim.momentum, weightDecay: optim.weightDecay, warmupEpochs: optim.warmupEpochs, warmupLr: optim.warmupLr, augment: false, seed };
}

function evalOn(method: PromptMethod, features: tf.Tensor2D, items: LabelledItem[]): number {
  return 100 * evaluatePrompt({ method, data: { count: items.length, label: (i) => items[i].label, features } }).accuracy;
}

export function runBase2New(model: ClipModel, tokenizer: ClipTokenizer, opts: Base2NewOptions = {}): ResultRow[] {
  const quick = opts.quick === true;
  const cfg = base2newConfig(quick);
  const log = opts.log ?? (() => undefined);
  const rows: ResultRow[] = [];
  const add = (method: string, dataset: string, seed: number, base: number, novel: number) => {
    rows.push({ method, dataset, split: 'base', metric: 'accuracy', seed, value: base });
    rows.push({ method, dataset, split: 'new', metric: 'accuracy', seed, value: novel });
    rows.push({ method, dataset, split: 'all', metric: 'H', seed, value: harmonicMean(base, novel) });
    log(`  ${method}: base ${base.toFixed(1)}, new ${novel.toFixed(1)}, H ${harmonicMean(base, novel).toFixed(1)}`);
  };
  for (const name of opts.datasets ?? WORLD_CLASSIFICATION) {
    const ds = getWorldDataset(name as (typeof WORLD_CLASSIFICATION)[number], { quick }) as ClassificationDataset;
    const feats = new SplitFeatures(model, ds, log);
    try {
      for (const seed of opts.seeds ?? [1]) {
        log(`${name}, seed ${seed}: ${opts.shots ?? cfg.shots} shots, base-to-new`);
        const split = baseToNewSplit(ds, opts.shots ?? cfg.shots, seed);
        const test = ds.split('test');
        const baseTest = split.base.filter(test);
        const newTest = split.new.filter(test);
        const baseTestF = feats.of('test', baseTest.map((x) => x.item));
        const newTestF = feats.of('test', newTest.map((x) => x.item));
        const train = split.base.filter(split.fewShot.train);
        const trainF = feats.of('train', train.map((x) => x.item));
        const trainSet = { count: train.length, label: (i: number) => train[i].label, features: trainF };
        try {
          const zs = (names: string[], f: tf.Tensor2D, items: LabelledItem[]) => 100 * zeroshotAccuracyOf(model, tokenizer, f, Int32Array.from(items.map((x) => x.label)), names, [ds.template]);
          add('zeroshot', name, seed, zs(split.base.classNames, baseTestF, baseTest), zs(split.new.classNames, newTestF, newTest));
          for (const which of ['coop', 'cocoop'] as const) {
            const { method: m, train: config, epochs } = promptMethodOf(which, cfg, model, tokenizer, split.base.classNames, seed);
            try {
              const t0 = Date.now();
              const r = trainPrompt({ method: m, train: trainSet, config });
              const last = r.history[r.history.length - 1];
              log(`  ${which}: ${epochs} epochs in ${((Date.now() - t0) / 1000).toFixed(0)} s, train loss ${last.loss.toFixed(3)}, train accuracy ${(100 * last.accuracy).toFixed(1)}%`);
              const base = evalOn(m, baseTestF, baseTest);
              m.setClassNames(split.new.classNames);
              add(which, name, seed, base, evalOn(m, newTestF, newTest));
            } finally {
              m.dispose();
            }
          }
        } finally {
          tf.dispose([baseTestF, newTestF, trainF]);
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
