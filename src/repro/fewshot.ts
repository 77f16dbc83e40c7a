// promptlab repro fewshot: CoOp's few-shot curves (its Figure 3) on the world with MiniCLIP:
// accuracy against 1/2/4/8/16 shots for zero-shot CLIP (no shots), CoOp's linear probe and CoOp's
// four variants (16 random context vectors; one context for all classes or one per class, the class
// token at the end or in the middle; epochs by the official shot rule: coopPresetForShots). CoOp trains on augmented views through the frozen image tower, as the official
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
import { coopPresetForShots, type OfficialBackboneKey } from '../methods/presets';
import { labelled, type ProgressCallback } from '../train/progress';
import { SplitFeatures } from './features-cache';
import type { ResultRow } from './record';
import { accuracyOn, buildMethod, describePreset, describeTraining, trainingSetup, trainOn } from './setup';

export const SHOTS = [1, 2, 4, 8, 16];

/** The shot counts a run of the protocol measures: 1, 4, 16 in quick runs, CoOp's 1, 2, 4, 8, 16 in full ones. */
export function protocolShots(quick: boolean): number[] {
  return quick ? [1, 4, 16] : [...SHOTS];
}

/**
 * The shot counts a run is given (`--shots 1,4`, a sweep's `shots=` key), checked against the
 * protocol's and put in its order: a run of some shots measures exactly the rows that a run of all
 * of them measures for those shots, so runs split by shots merge into one.
 */
export function checkShots(shots: readonly number[], quick: boolean): number[] {
  const valid = protocolShots(quick);
  const protocol = `fewshot's ${quick ? 'quick' : 'full'} protocol (valid: ${valid.join(', ')})`;
  if (shots.length === 0) throw new Error(`fewshot: no shot counts given; name some of ${protocol}`);
  const bad = shots.filter((k) => !valid.includes(k));
  if (bad.length) throw new Error(`fewshot: ${bad.join(', ')} ${bad.length === 1 ? 'is not a shot count' : 'are not shot counts'} of ${protocol}`);
  return valid.filter((k) => shots.includes(k));
}

/** CoOp's variants in its Figure 3 (COOP.md's four runs per shot): unified or class-specific context (CSC), class token at the end or in the middle. */
export const COOP_VARIANTS = {
  end: { csc: false, classTokenPosition: 'end' },
  middle: { csc: false, classTokenPosition: 'middle' },
  'end-csc': { csc: true, classTokenPosition: 'end' },
  'middle-csc': { csc: true, classTokenPosition: 'middle' },
} as const;
export type CoOpVariant = keyof typeof COOP_VARIANTS;
export const ALL_COOP_VARIANTS = Object.keys(COOP_VARIANTS) as CoOpVariant[];

/** The results' method name of a variant: 'coop' for the default (unified, end), else 'coop-<variant>'. */
export function variantMethod(v: CoOpVariant): string {
  return v === 'end' ? 'coop' : `coop-${v}`;
}

/** The variants a run trains by default: all four in full runs, the default one in quick runs. */
export function defaultVariants(quick: boolean): CoOpVariant[] {
  return quick ? ['end'] : [...ALL_COOP_VARIANTS];
}

export function checkVariants(variants: readonly string[]): CoOpVariant[] {
  const bad = variants.filter((v) => !(v in COOP_VARIANTS));
  if (bad.length || variants.length === 0) throw new Error(`fewshot: unknown CoOp variant${bad.length === 1 ? '' : 's'} "${bad.join(', ')}" (valid: ${ALL_COOP_VARIANTS.join(', ')})`);
  return [...new Set(variants)] as CoOpVariant[];
}

/** A quick run's epochs: a fifth of the preset's (at least 1). */
export function quickEpochs(epochs: number): number {
  return Math.max(1, Math.round(epochs / 5));
}

/**
 * CoOp's preset for k shots on MiniCLIP (or, with an official backbone, the official config of that
 * backbone for the dataset: ImageNet takes the ep50 ones), and the epochs a (quick) run trains it for.
 */
export function fewshotPreset(shots: number, quick: boolean, variant: CoOpVariant = 'end', backbone: OfficialBackboneKey | 'miniclip' = 'miniclip', dataset = '') {
  const base = coopPresetForShots(backbone, shots, dataset);
  const preset = { ...base, config: { ...base.config, ...COOP_VARIANTS[variant] } };
  return { preset, epochs: quick ? quickEpochs(preset.optim.epochs) : preset.optim.epochs };
}

/** A run's configuration as results.json records it: `shots` are those it measured (default: the protocol's), `coop` the preset of each. */
export function fewshotConfig(quick: boolean, opts: { cachedFeatures?: boolean; datasets?: readonly string[]; variants?: readonly CoOpVariant[]; backbone?: OfficialBackboneKey; shots?: readonly number[] } = {}) {
  const shots = opts.shots ? [...opts.shots] : protocolShots(quick);
  const variants = opts.variants ?? defaultVariants(quick);
  const backbone = opts.backbone ?? 'miniclip';
  return {
    shots,
    variants: Object.fromEntries(variants.map((v) => [variantMethod(v), COOP_VARIANTS[v]])),
    coop: Object.fromEntries(shots.map((k) => {
      const { preset, epochs } = fewshotPreset(k, quick, 'end', backbone);
      return [`${k}-shot`, describePreset(preset, epochs)];
    })),
    epochRule: backbone === 'miniclip'
      ? "COOP.md's: 1 shot the ep50 config, 2-4 shots ep100, 8-16 shots the 200-epoch one (here 13 / 25 / 50 epochs; quick runs a fifth)"
      : `COOP.md's: 1 shot the ep50 config, 2-4 shots ep100, 8-16 shots the 200-epoch one; ImageNet the ep50 one at every shot count (${backbone}'s official configs${quick ? '; quick runs a fifth of the epochs' : ''})`,
    linearProbe: "CoOp's lpclip: scikit-learn's L-BFGS logistic regression on the raw image features, C searched on the few-shot val split (min(k, 4) per class) over 1e6..1e-6, then 8 rounds of binary search; the last round's classifier",
    ...describeTraining(coopPresetForShots(backbone, 16), opts.datasets ?? WORLD_CLASSIFICATION, opts.cachedFeatures === true),
  };
}

export interface FewshotOptions {
  quick?: boolean;
  seeds?: number[];
  datasets?: readonly string[];
  /** The shot counts to measure (default: the protocol's, protocolShots(quick)); runExperiment checks them with checkShots. */
  shots?: readonly number[];
  /** CoOp's variants to train (default: defaultVariants(quick)). */
  variants?: readonly CoOpVariant[];
  cachedFeatures?: boolean;
  log?: (s: string) => void;
  onProgress?: ProgressCallback;
  /** The dataset of a name (default: the world benchmark); `--data` gives real ones. */
  dataset?: (name: string) => ClassificationDataset;
  /** Train with this backbone's official CoOp configs (default: the world's presets for MiniCLIP). */
  backbone?: OfficialBackboneKey;
}

export function runFewshot(model: ClipModel, tokenizer: ClipTokenizer, opts: FewshotOptions = {}): ResultRow[] {
  const quick = opts.quick === true;
  const shots = opts.shots ?? protocolShots(quick);
  const variants = checkVariants(opts.variants ?? defaultVariants(quick));
  const log = opts.log ?? (() => undefined);
  const rows: ResultRow[] = [];
  for (const name of opts.datasets ?? WORLD_CLASSIFICATION) {
    const ds = opts.dataset ? opts.dataset(name) : getWorldDataset(name as (typeof WORLD_CLASSIFICATION)[number], { quick }) as ClassificationDataset;
    const feats = new SplitFeatures(model, ds, log);
    try {
      const test = ds.split('test');
      const testLabels = Int32Array.from(test.map((it) => it.label));
      const zs = 100 * zeroshotAccuracyOf(model, tokenizer, feats.all('test'), testLabels, ds.classNames, [ds.template]);
      for (const seed of opts.seeds ?? [1]) {
        rows.push({ method: 'zeroshot', dataset: name, split: 'test', metric: 'accuracy@0', seed, value: zs });
        // every random stream of a (dataset, seed, k) cell is named by them, never drawn on from one
        // cell to the next: the k-shot sample by (seed, 'few-shot') on this dataset, CoOp's context by
        // the seed, batches and augmentation by (seed, epoch); so a run of some shot counts measures
        // bit for bit the rows a run of all of them measures for those (merge-results relies on it)
        for (const k of shots) {
          const fs = sampleFewShot(ds, k, seed);
          const lab = (items: { label: number }[]) => Int32Array.from(items.map((it) => it.label));
          const [trainRaw, valRaw] = [feats.rawOf('train', fs.train), feats.rawOf('val', fs.val)];
          let lp: number;
          try {
            lp = 100 * linearProbe({ features: trainRaw, labels: lab(fs.train) }, { features: valRaw, labels: lab(fs.val) }, { features: feats.raw('test'), labels: testLabels }).testAccuracy;
          } finally {
            tf.dispose([trainRaw, valRaw]);
          }
          rows.push({ method: 'linear-probe', dataset: name, split: 'test', metric: `accuracy@${k}`, seed, value: lp });
          const accs: string[] = [];
          let epochs = 0;
          for (const v of variants) {
            const p = fewshotPreset(k, quick, v, opts.backbone ?? 'miniclip', name);
            epochs = p.epochs;
            const setup = trainingSetup(p.preset, { dataset: name, seed, imageResolution: model.config.imageResolution, cachedFeatures: opts.cachedFeatures === true, epochs });
            const coop = buildMethod(p.preset, model, tokenizer, ds.classNames, seed);
            try {
              trainOn(coop, setup, { ds, items: fs.train, labels: lab(fs.train) }, feats, { onProgress: labelled(opts.onProgress, `${name} seed ${seed}, ${k} shots, CoOp ${v}`) });
              const acc = accuracyOn(coop, setup, feats.all('test'), testLabels);
              rows.push({ method: variantMethod(v), dataset: name, split: 'test', metric: `accuracy@${k}`, seed, value: acc });
              accs.push(`CoOp ${v} ${acc.toFixed(1)}`);
            } finally {
              coop.dispose();
            }
          }
          log(`${name}, seed ${seed}, ${k} shots: zero-shot ${zs.toFixed(1)}, linear probe ${lp.toFixed(1)}, ${accs.join(', ')} (${epochs} epochs)`);
        }
      }
    } finally {
      feats.dispose();
    }
  }
  return rows;
}
