// promptlab repro transfer: CoCoOp's cross-dataset transfer and domain generalisation (methods.md
// 2.4, the paper's tables 2 and 3), on the world with MiniCLIP or, with --data ROOT, on the papers'
// datasets. One model per method and seed is trained on the source (all its classes, 16 shots) and
// evaluated, unchanged, on the source's test split, on its domain-shifted versions (same classes,
// other styles: 'dg') and on the other benchmarks with their own full class sets ('xd'). CoOp and
// CoCoOp use the base-to-new presets, as the official xd_train.sh does (on real data the official
// configs for the source: CoOp vit_b16_ep50_ctxv1 on ImageNet, CoCoOp vit_b16_c4_ep10_batch1_ctxv1).
// On real data the source is ImageNet (16 shots of its 1000 classes), the 'xd' targets CoOp's 10 other
// datasets and the 'dg' targets ImageNetV2, -Sketch, -A and -R, each evaluated with its own class list
// (A and R: their 200 classes, the wnid folders present), as CoOp's datasets/imagenet_*.py build them.
// Training sees augmented views through the frozen image tower unless `cachedFeatures`.
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { crossDatasetTargets, domainGeneralisationPairs, sampleFewShot } from '../data/protocols';
import { COOP_DATASETS, IMAGENET_SHIFTS, realDatasetManifest, realDatasetName } from '../data/real';
import { getWorldDataset, WORLD_CLASSIFICATION, type WorldClassificationName } from '../data/world-benchmarks';
import { zeroshotAccuracyOf } from '../eval/features';
import { labelled } from '../train/progress';
import { base2newConfig, base2newPresets, promptMethodOf, type Base2NewOptions } from './base2new';
import { SplitFeatures } from './features-cache';
import type { ResultRow } from './record';
import { accuracyOn, describePreset, describeTraining, trainOn } from './setup';

/** Where a dataset sits in the transfer protocol of a source. */
export type TransferRole = 'source' | 'dg' | 'xd';

/** The default source, world-shapes (generic shapes in every plain style: the world's ImageNet), then its targets. */
export const TRANSFER_DATASETS: readonly WorldClassificationName[] = ['world-shapes', 'world-sketches', 'world-patterns', 'world-colors', 'world-positions'];

/** The role of each dataset of a transfer run: the first is the source; each other must be one of its targets. */
export function transferRoles(datasets: readonly string[]): { dataset: WorldClassificationName; role: TransferRole }[] {
  if (datasets.length === 0) throw new Error('transfer: no datasets (the first is the source, the rest its targets)');
  const [source, ...targets] = datasets;
  if (!(WORLD_CLASSIFICATION as readonly string[]).includes(source)) {
    throw new Error(`transfer: unknown source "${source}" (valid: ${WORLD_CLASSIFICATION.join(', ')})`);
  }
  const dg = domainGeneralisationPairs().filter((p) => p.source === source).map((p) => p.target as string);
  const xd = crossDatasetTargets(source) as string[];
  const roles: { dataset: WorldClassificationName; role: TransferRole }[] = [{ dataset: source as WorldClassificationName, role: 'source' }];
  for (const t of targets) {
    const role: TransferRole | null = dg.includes(t) ? 'dg' : xd.includes(t) ? 'xd' : null;
    if (role === null) {
      throw new Error(`transfer: "${t}" is not a target of the source ${source} (domain generalisation: ${dg.join(', ') || 'none'}; cross-dataset: ${xd.join(', ')})`);
    }
    if (roles.some((r) => r.dataset === t)) throw new Error(`transfer: "${t}" is listed twice`);
    roles.push({ dataset: t as WorldClassificationName, role });
  }
  return roles;
}

/** The papers' transfer run on real data: ImageNet, its 10 cross-dataset targets, then its four domain shifts. */
export const REAL_TRANSFER_DATASETS: readonly string[] = [...COOP_DATASETS, ...IMAGENET_SHIFTS];

/**
 * The roles of a transfer run on real data (CoOp's dataset names, any alias): the first is the source
 * and must have a train split; ImageNet's shifted test sets are 'dg' targets of ImageNet only; every
 * other dataset is an 'xd' target. Throws, naming the dataset, before anything is loaded.
 */
export function realTransferRoles(datasets: readonly string[]): { dataset: string; role: TransferRole }[] {
  if (datasets.length === 0) throw new Error('transfer: no datasets (the first is the source, the rest its targets)');
  const names = datasets.map((d) => realDatasetName(realDatasetManifest(d)));
  const [source, ...targets] = names;
  const shifts: readonly string[] = IMAGENET_SHIFTS;
  if (realDatasetManifest(source).dataset?.testOnly) {
    throw new Error(`transfer: the source ${source} is test-only (an ImageNet shift, without a train split); the papers train on imagenet: --datasets imagenet,${REAL_TRANSFER_DATASETS.slice(1).join(',')}`);
  }
  const roles: { dataset: string; role: TransferRole }[] = [{ dataset: source, role: 'source' }];
  for (const t of targets) {
    if (roles.some((r) => r.dataset === t)) throw new Error(`transfer: "${t}" is listed twice (the first dataset, ${source}, is the source)`);
    if (shifts.includes(t) && source !== 'imagenet') throw new Error(`transfer: ${t} is a domain-shifted ImageNet (test only): a target of the source imagenet, not of ${source}`);
    if (!shifts.includes(t) && realDatasetManifest(t).dataset?.testOnly) throw new Error(`transfer: ${t} is test-only and no domain shift of ${source}`);
    roles.push({ dataset: t, role: shifts.includes(t) ? 'dg' : 'xd' });
  }
  return roles;
}

/**
 * The experiment's configuration (what results.json records): base-to-new's presets and scaling; with
 * `official` (real data) the official configs for the source, and each dataset's role.
 */
export function transferConfig(quick: boolean, opts: { cachedFeatures?: boolean; datasets?: readonly string[] } = {}, official = false) {
  const protocol = 'train on every class of the source (the first dataset), evaluate the same model on each target with its own class names';
  if (official) {
    const roles = realTransferRoles(opts.datasets ?? REAL_TRANSFER_DATASETS);
    const source = roles[0].dataset;
    const p = base2newPresets(quick, { dataset: source });
    return {
      shots: 16,
      protocol,
      roles: Object.fromEntries(roles.map((r) => [r.dataset, r.role])),
      coop: describePreset(p.coop.preset, p.coop.epochs),
      cocoop: describePreset(p.cocoop.preset, p.cocoop.epochs),
      ...describeTraining(p.coop.preset, [source], opts.cachedFeatures === true),
    };
  }
  // only the source is trained on: its transforms are the run's
  const { shots, ...rest } = base2newConfig(quick, { ...opts, datasets: (opts.datasets ?? TRANSFER_DATASETS).slice(0, 1) });
  return { shots, protocol, ...rest };
}

/** base2new's options without its shot count (transfer trains at 16); `dataset` gives real datasets with realTransferRoles. */
export type TransferOptions = Omit<Base2NewOptions, 'shots'>;

export function runTransfer(model: ClipModel, tokenizer: ClipTokenizer, opts: TransferOptions = {}): ResultRow[] {
  const quick = opts.quick === true;
  const log = opts.log ?? (() => undefined);
  const real = opts.dataset;
  const roles: { dataset: string; role: TransferRole }[] = real ? realTransferRoles(opts.datasets ?? REAL_TRANSFER_DATASETS) : transferRoles(opts.datasets ?? TRANSFER_DATASETS);
  const targets = roles.map(({ dataset, role }) => {
    const ds = real ? real(dataset) : getWorldDataset(dataset as WorldClassificationName, { quick }) as ClassificationDataset;
    const test = ds.split('test');
    return { ds, role, feats: new SplitFeatures(model, ds, log), labels: Int32Array.from(test.map((it) => it.label)) };
  });
  const source = targets[0];
  const rows: ResultRow[] = [];
  const add = (method: string, t: (typeof targets)[number], seed: number, value: number) => {
    rows.push({ method, dataset: t.ds.name, split: t.role, metric: 'accuracy', seed, value });
  };
  try {
    for (const t of targets) {
      const zs = 100 * zeroshotAccuracyOf(model, tokenizer, t.feats.all('test'), t.labels, t.ds.classNames, [t.ds.template]);
      for (const seed of opts.seeds ?? [1]) add('zeroshot', t, seed, zs);
    }
    for (const seed of opts.seeds ?? [1]) {
      const fs = sampleFewShot(source.ds, 16, seed);
      const train = { ds: source.ds, items: fs.train, labels: fs.train.map((it) => it.label) };
      for (const which of ['coop', 'cocoop'] as const) {
        const { method: m, setup } = promptMethodOf(which, quick, model, tokenizer, source.ds.classNames, { dataset: source.ds.name, seed, cachedFeatures: opts.cachedFeatures === true, official: opts.official === true });
        try {
          const t0 = Date.now();
          trainOn(m, setup, train, source.feats, { onProgress: labelled(opts.onProgress, `${source.ds.name} seed ${seed}, ${which}`) });
          const accs: string[] = [];
          for (const t of targets) {
            m.setClassNames(t.ds.classNames);
            const acc = accuracyOn(m, setup, t.feats.all('test'), t.labels);
            add(which, t, seed, acc);
            accs.push(`${t.ds.name} ${acc.toFixed(1)}`);
          }
          log(`${source.ds.name} -> targets, seed ${seed}, ${which} (${setup.train.epochs} epochs, ${((Date.now() - t0) / 1000).toFixed(0)} s): ${accs.join(', ')}`);
        } finally {
          m.dispose();
        }
      }
    }
  } finally {
    for (const t of targets) t.feats.dispose();
  }
  return rows;
}
