// promptlab repro transfer: CoCoOp's cross-dataset transfer and domain generalisation (methods.md
// 2.4, the paper's tables 2 and 3) on the world with MiniCLIP. One model per method and seed is
// trained on the source (all its classes, 16 shots) and evaluated, unchanged, on the source's test
// split, on its domain-shifted versions (same classes, other styles: 'dg') and on the other
// benchmarks with their own full class sets ('xd'). CoOp and CoCoOp use the base-to-new presets, as
// the official xd_train.sh does. Training sees augmented views through the frozen image tower unless
// `cachedFeatures`.
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { ClassificationDataset } from '../data/dataset';
import { crossDatasetTargets, domainGeneralisationPairs, sampleFewShot } from '../data/protocols';
import { getWorldDataset, WORLD_CLASSIFICATION, type WorldClassificationName } from '../data/world-benchmarks';
import { zeroshotAccuracyOf } from '../eval/features';
import { labelled, type ProgressCallback } from '../train/progress';
import { base2newConfig, promptMethodOf } from './base2new';
import { SplitFeatures } from './features-cache';
import type { ResultRow } from './record';
import { accuracyOn, trainOn } from './setup';

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

/** The experiment's configuration (what results.json records): base-to-new's presets and scaling. */
export function transferConfig(quick: boolean, opts: { cachedFeatures?: boolean; datasets?: readonly string[] } = {}) {
  // only the source is trained on: its transforms are the run's
  const { shots, ...rest } = base2newConfig(quick, { ...opts, datasets: (opts.datasets ?? TRANSFER_DATASETS).slice(0, 1) });
  return {
    shots,
    protocol: 'train on every class of the source (the first dataset), evaluate the same model on each target with its own class names',
    ...rest,
  };
}

export function runTransfer(model: ClipModel, tokenizer: ClipTokenizer, opts: { quick?: boolean; seeds?: number[]; datasets?: readonly string[]; cachedFeatures?: boolean; log?: (line: string) => void; onProgress?: ProgressCallback } = {}): ResultRow[] {
  const quick = opts.quick === true;
  const log = opts.log ?? (() => undefined);
  const roles = transferRoles(opts.datasets ?? TRANSFER_DATASETS);
  const targets = roles.map(({ dataset, role }) => {
    const ds = getWorldDataset(dataset, { quick }) as ClassificationDataset;
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
        const { method: m, setup } = promptMethodOf(which, quick, model, tokenizer, source.ds.classNames, { dataset: source.ds.name, seed, cachedFeatures: opts.cachedFeatures === true });
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
