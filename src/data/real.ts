// The papers' classification datasets under a data root, found through their download manifests
// (data-manifests/downloads/coop-*.json): `promptlab repro <zeroshot|fewshot|base2new|transfer> --data ROOT
// --datasets caltech101,oxford_pets,...` loads each from ROOT/<dataset.dir> with the loader of its
// format (src/data/coop-datasets.ts), CoOp's zero-shot template and its prompt ensemble
// (ZeroshotCLIP2: IMAGENET_TEMPLATES_SELECT plus the dataset's template, ImageNet without it), and
// compares what it found with the manifest's expected counts (a difference is reported, not fatal:
// the split file is authoritative, the manifest's counts are quoted). Datasets are named in results
// by CoOp's config names (caltech101, oxford_pets, ...).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { loadCoopSplit, loadFgvcAircraft, loadImageNetFolders, loadImageNetLabelFolders, loadImageNetWnidFolders, type ClassificationFolderDataset, type FolderDatasetOptions } from './coop-datasets';
import { describedBy, DOWNLOAD_MANIFEST_DIR, listDownloadManifests, manifestPathOf, type DatasetFormat, type DownloadManifest } from './fetch';

/** The loader formats of classification datasets. */
export const CLASSIFICATION_FORMATS: readonly DatasetFormat[] = ['coop-split', 'fgvc-variants', 'imagenet-folders', 'imagenet-label-folders', 'imagenet-wnid-folders'];

/** CoOp's 11 datasets, in the order of its tables: the default of --data runs. */
export const COOP_DATASETS = ['imagenet', 'caltech101', 'oxford_pets', 'stanford_cars', 'oxford_flowers', 'food101', 'fgvc_aircraft', 'sun397', 'dtd', 'eurosat', 'ucf101'] as const;

/**
 * ImageNet's domain-shifted test sets, in the order of the papers' tables: CoOp's and CoCoOp's domain
 * generalisation targets of a model trained on ImageNet (test only; A and R hold 200 of its classes).
 */
export const IMAGENET_SHIFTS = ['imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r'] as const;

/** CoOp's IMAGENET_TEMPLATES_SELECT (trainers/imagenet_templates.py): ZeroshotCLIP2's ensemble. */
export const IMAGENET_TEMPLATES_SELECT: readonly string[] = [
  'itap of a {}.',
  'a bad photo of the {}.',
  'a origami {}.',
  'a photo of the large {}.',
  'a {} in a video game.',
  'art of the {}.',
  'a photo of the small {}.',
];

const key = (s: string) => s.toLowerCase().replace(/[\s-]/g, '_');

/** The classification dataset manifests, by every name they answer to. */
function classificationManifests(): Map<string, DownloadManifest> {
  const out = new Map<string, DownloadManifest>();
  for (const m of listDownloadManifests()) {
    const d = m.dataset;
    if (!d || !CLASSIFICATION_FORMATS.includes(d.format)) continue;
    for (const n of [m.id, d.name, ...(d.aliases ?? [])]) out.set(key(n), m);
  }
  return out;
}

/** The name a dataset has in results: CoOp's config name (its first alias), else its manifest id. */
export function realDatasetName(m: DownloadManifest): string {
  return m.dataset?.aliases?.[0] ?? m.id;
}

/** The names --datasets accepts with --data (CoOp's config names): its 11, then the shifted ImageNets, then any other. */
export function realDatasetNames(): string[] {
  const order: readonly string[] = [...COOP_DATASETS, ...IMAGENET_SHIFTS];
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  return [...new Set([...classificationManifests().values()].map(realDatasetName))].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** The manifest of a classification dataset by any of its names; throws listing the valid ones. */
export function realDatasetManifest(name: string): DownloadManifest {
  const m = classificationManifests().get(key(name));
  if (!m) throw new Error(`unknown dataset "${name}" for --data (valid: ${realDatasetNames().join(', ')})`);
  return m;
}

/** A dataset loaded from a data root, with the manifest that describes it and what differs from it. */
export interface RealDataset {
  ds: ClassificationFolderDataset;
  manifest: DownloadManifest;
  /** The dataset's folder (ROOT/<dataset.dir>). */
  dir: string;
  /** Where the loaded counts differ from the manifest's expected ones. */
  warnings: string[];
}

/** Loads one classification dataset from ROOT/<dir> by its manifest (see the header). */
export function loadRealDataset(root: string, name: string): RealDataset {
  const manifest = realDatasetManifest(name);
  const d = manifest.dataset!;
  const dir = path.join(root, d.dir);
  const hint = describedBy(manifest, dir);
  if (!fs.existsSync(dir)) throw new Error(`${dir}: missing (the folder of ${d.name} under --data ${root})${hint}`);
  const template = d.template ?? 'a photo of a {}.';
  const templates = d.name === 'ImageNet' ? [...IMAGENET_TEMPLATES_SELECT] : [...IMAGENET_TEMPLATES_SELECT, template];
  const opts: FolderDatasetOptions = { name: realDatasetName(manifest), template, templates, hint };
  const layout = d.layout;
  const need = (...keys: string[]) => {
    const gone = keys.filter((k) => typeof layout[k] !== 'string');
    if (gone.length) throw new Error(`${manifestPathOf(manifest.id)}: dataset.layout lacks ${gone.join(', ')} for the ${d.format} format`);
  };
  let ds: ClassificationFolderDataset;
  switch (d.format) {
    case 'coop-split':
      need('images', 'split');
      ds = loadCoopSplit(dir, { images: layout.images, split: layout.split }, opts);
      break;
    case 'fgvc-variants':
      need('images', 'variants', 'train', 'val', 'test');
      ds = loadFgvcAircraft(dir, { images: layout.images, variants: layout.variants, train: layout.train, val: layout.val, test: layout.test }, opts);
      break;
    case 'imagenet-folders':
      need('train', 'test', 'classnames');
      ds = loadImageNetFolders(dir, { train: layout.train, test: layout.test, classnames: layout.classnames }, opts);
      break;
    case 'imagenet-label-folders':
      need('images', 'classnames');
      ds = loadImageNetLabelFolders(dir, { images: layout.images, classnames: layout.classnames }, opts);
      break;
    case 'imagenet-wnid-folders':
      need('images', 'classnames');
      ds = loadImageNetWnidFolders(dir, { images: layout.images, classnames: layout.classnames }, opts);
      break;
    default:
      throw new Error(`${manifestPathOf(manifest.id)}: ${d.format} is not a classification format`);
  }
  const warnings: string[] = [];
  const found: Record<string, number> = { classes: ds.classNames.length, ...ds.manifest.counts };
  for (const [k, want] of Object.entries(d.counts ?? {})) {
    if (want === null || !(k in found) || (d.testOnly && k === 'train')) continue;
    if (found[k] !== want) warnings.push(`${d.name}: ${found[k]} ${k === 'classes' ? 'classes' : `${k} items`} in ${dir}, ${manifestPathOf(manifest.id)} expects ${want}${d.countsVerified ? '' : ' (a quoted count, not checked against the release)'}`);
  }
  return { ds, manifest, dir, warnings };
}

/**
 * A data record of a folder dataset for results: the counts, and a checksum over the split and list
 * files and every item's file name and label (the pixels are not hashed: ImageNet alone is 140 GB).
 */
export function realDataRecord(r: RealDataset, variant: 'quick' | 'full'): {
  dataset: string; id: string; variant: 'quick' | 'full'; seed: number; counts: Record<string, number>; contentSha256: string;
  manifest: { file: string; sha256: string }; root: string; format: string;
} {
  const h = createHash('sha256');
  for (const f of r.ds.manifest.files) {
    const full = path.join(r.dir, f);
    if (fs.existsSync(full)) h.update(fs.readFileSync(full));
  }
  for (const s of ['train', 'val', 'test'] as const) {
    const files = r.ds.files(s);
    h.update(`${s}\n${r.ds.split(s).map((it, i) => `${files[i]}\t${it.label}`).join('\n')}\n`);
  }
  const manifestFile = path.join(DOWNLOAD_MANIFEST_DIR, `${r.manifest.id}.json`);
  return {
    dataset: r.ds.name,
    id: r.manifest.id,
    variant,
    seed: 0,
    counts: { classes: r.ds.classNames.length, ...r.ds.manifest.counts },
    contentSha256: h.digest('hex'),
    manifest: { file: manifestPathOf(r.manifest.id), sha256: createHash('sha256').update(fs.readFileSync(manifestFile)).digest('hex') },
    root: path.resolve(r.dir),
    format: r.ds.manifest.format,
  };
}
