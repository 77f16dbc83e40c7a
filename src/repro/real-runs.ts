// `promptlab repro <zeroshot|fewshot|base2new|transfer> --data ROOT`: the classification experiments on the
// papers' datasets (src/data/real.ts) with the official presets (src/methods/presets.ts) instead of
// the world's. runExperiment calls this file and otherwise runs as on the world: the same runners,
// the same results format; the data records cite the download manifests and hash the split files.
import type { ClipConfig } from '../clip/config';
import type { ClassificationDataset } from '../data/dataset';
import { subsampleClasses } from '../data/protocols';
import { COOP_DATASETS, loadRealDataset, realDataRecord, realDatasetManifest, realDatasetName, type RealDataset } from '../data/real';
import type { OfficialBackboneKey } from '../methods/presets';
import { base2newConfig } from './base2new';
import { fewshotConfig, type CoOpVariant } from './fewshot';
import type { DataRecord } from './record';
import { REAL_TRANSFER_DATASETS, realTransferRoles, transferConfig } from './transfer';

/** The experiments that run on real classification data. */
export const REAL_DATA_EXPERIMENTS = ['zeroshot', 'fewshot', 'base2new', 'transfer'] as const;

/** The official CoOp configs' backbone that a model's shapes are, or null (another CLIP). */
export function officialBackbone(c: ClipConfig): OfficialBackboneKey | null {
  if (c.visionPatchSize !== null) {
    if (c.visionWidth === 768 && c.visionLayers === 12) return c.visionPatchSize === 32 ? 'vit_b32' : c.visionPatchSize === 16 ? 'vit_b16' : null;
    return null;
  }
  const layers = (c.visionLayers as number[]).join(',');
  if (c.visionWidth !== 64) return null;
  return layers === '3,4,6,3' ? 'rn50' : layers === '3,4,23,3' ? 'rn101' : null;
}

/** The datasets of one --data run, loaded (lazily decoded) and checked before anything trains. */
export class RealRun {
  readonly names: string[];
  private readonly loaded = new Map<string, RealDataset>();

  constructor(readonly experiment: string, readonly root: string, datasets: readonly string[] | undefined, log: (s: string) => void) {
    if (!(REAL_DATA_EXPERIMENTS as readonly string[]).includes(experiment)) {
      throw new Error(`${experiment}: --data runs ${REAL_DATA_EXPERIMENTS.join(', ')} (CoOp's classification datasets); ${experiment} runs on the world`);
    }
    const names = (datasets ?? (experiment === 'transfer' ? REAL_TRANSFER_DATASETS : COOP_DATASETS)).map((n) => realDatasetName(realDatasetManifest(n)));
    this.names = [...new Set(names)];
    // transfer: the source first, then its targets (a test-only dataset is a target of ImageNet only)
    const roles = experiment === 'transfer' ? realTransferRoles(this.names) : null;
    if (experiment !== 'zeroshot' && !roles) {
      const testOnly = this.names.filter((n) => realDatasetManifest(n).dataset?.testOnly);
      if (testOnly.length) throw new Error(`${experiment}: ${testOnly.join(', ')} ${testOnly.length > 1 ? 'are' : 'is'} test-only (a domain-generalisation target): train on imagenet and evaluate there with zeroshot`);
    }
    for (const n of this.names) {
      const r = loadRealDataset(root, n);
      for (const w of r.warnings) log(`warning: ${w}`);
      log(`${n}: ${r.ds.classNames.length} classes, ${r.ds.manifest.counts.train} train / ${r.ds.manifest.counts.val} val / ${r.ds.manifest.counts.test} test images in ${r.dir}`);
      this.loaded.set(n, r);
    }
    if (roles) {
      // a domain shift keeps the source's classes (ImageNet's classnames.txt, copied into each shift's folder)
      const source = new Set(this.dataset(roles[0].dataset).classNames);
      for (const { dataset } of roles.filter((r) => r.role === 'dg')) {
        const other = this.dataset(dataset).classNames.filter((c) => !source.has(c));
        if (other.length) log(`warning: ${dataset}: ${other.length} of its classes (${other.slice(0, 3).join(', ')}${other.length > 3 ? ', ...' : ''}) are not among ${roles[0].dataset}'s: is its classnames.txt ImageNet's?`);
      }
    }
  }

  dataset(name: string): ClassificationDataset {
    const r = this.loaded.get(name);
    if (!r) throw new Error(`--data: ${name} is not among this run's datasets (${this.names.join(', ')})`);
    return r.ds;
  }

  /** What the runners take for real data: the datasets, the official presets (fewshot: of `backbone`). */
  runOptions(backbone: OfficialBackboneKey) {
    return { dataset: (name: string) => this.dataset(name), official: true, backbone };
  }

  /** The experiment's configuration with the official presets. */
  config(quick: boolean, opts: { cachedFeatures: boolean; variants?: CoOpVariant[]; shots?: number[]; backbone: OfficialBackboneKey }): Record<string, unknown> {
    const base = { data: this.root, presets: 'official' };
    if (this.experiment === 'base2new') return { ...base, ...base2newConfig(quick, { cachedFeatures: opts.cachedFeatures, datasets: this.names }, true) };
    if (this.experiment === 'transfer') return { ...base, ...transferConfig(quick, { cachedFeatures: opts.cachedFeatures, datasets: this.names }, true) };
    if (this.experiment === 'fewshot') return { ...base, ...fewshotConfig(quick, { cachedFeatures: opts.cachedFeatures, datasets: this.names, variants: opts.variants, shots: opts.shots, backbone: opts.backbone }) };
    return base;
  }

  records(quick: boolean): DataRecord[] {
    return this.names.map((n) => realDataRecord(this.loaded.get(n)!, quick ? 'quick' : 'full'));
  }

  /** Chance accuracy (%) per dataset and split, as chanceLevels gives it for the world. */
  chance(): Record<string, Record<string, number>> {
    return Object.fromEntries(this.names.map((n) => {
      const ds = this.dataset(n);
      const k = (which: 'all' | 'base' | 'new') => subsampleClasses(ds, which).classNames.length;
      return [n, { test: 100 / k('all'), base: 100 / k('base'), new: 100 / k('new') }];
    }));
  }
}
