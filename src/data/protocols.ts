// The evaluation protocols of CoOp and CoCoOp on any classification dataset: few-shot sampling
// (Dassl's generate_fewshot_dataset), the base-to-new class split (subsample_classes), the harmonic
// mean H, and the source/target pairs of cross-dataset transfer and domain generalisation on the
// world benchmarks. methods.md 1.4, 1.5, 2.4.
import { writeFileAtomic } from '../io/files';
import * as fs from 'fs';
import * as path from 'path';
import { uniform } from '../random';
import type { ClassificationDataset, ImageItem, SplitName } from './dataset';
import { formatJson } from './manifest';
import { CLASSIFICATION_CONFIGS, WORLD_CLASSIFICATION, type WorldClassificationName } from './world-classification';

// ---------------------------------------------------------------------------------------------
// Few-shot sampling

/** A few-shot training set drawn from a dataset's train and val splits, as Dassl draws it. */
export interface FewShotSplit {
  /** Shots per class asked for (a class with fewer train items gives all of them). */
  k: number;
  seed: number;
  /** The dataset's name (e.g. 'world-shapes'). */
  dataset: string;
  /** The dataset variant the indices refer to (the manifest id, e.g. 'world-shapes-quick'). */
  datasetId: string;
  /** Per class (labels ascending), the chosen train items in the order they were drawn. */
  train: ImageItem[];
  /** Per class, min(k, 4) items of the val split. */
  val: ImageItem[];
}

/** The manifest id of a world dataset (cheap: no manifest is computed), else the dataset's name. */
function datasetIdOf(ds: ClassificationDataset): string {
  const id = (ds as { id?: unknown }).id;
  return typeof id === 'string' ? id : ds.name;
}

function checkShots(k: number, what: string): void {
  if (!Number.isSafeInteger(k) || k < 1) throw new Error(`${what}: k (shots per class) must be a positive integer, got ${k}`);
}

/**
 * Per class (in label order) k items drawn without repetition, all of them in split order where the
 * class has fewer (with exactly k they are drawn, so shuffled, as Dassl calls random.sample there);
 * one PRNG stream for all classes, as Python's `random.sample` called class by class.
 */
function drawPerClass(items: readonly ImageItem[], k: number, rand: () => number): ImageItem[] {
  const byLabel = new Map<number, ImageItem[]>();
  for (const it of items) {
    let list = byLabel.get(it.label);
    if (!list) byLabel.set(it.label, (list = []));
    list.push(it);
  }
  const out: ImageItem[] = [];
  for (const label of [...byLabel.keys()].sort((a, b) => a - b)) {
    const pool = (byLabel.get(label) as ImageItem[]).slice();
    if (pool.length < k) {
      out.push(...pool);
      continue;
    }
    // Partial Fisher-Yates: the first k positions end up holding a uniform sample, in draw order.
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rand() * (pool.length - i));
      const t = pool[i];
      pool[i] = pool[j];
      pool[j] = t;
      out.push(pool[i]);
    }
  }
  return out;
}

/**
 * Dassl's `generate_fewshot_dataset`: k train items per class and min(k, 4) val items per class,
 * chosen with promptlab's seeded stream (src/random.ts, not Python's Mersenne Twister: the paper's exact
 * shots are not reproduced, the protocol is). The same (dataset, k, seed) always gives the same
 * items; save them with `saveFewShot` to cite a run's exact shots.
 */
export function sampleFewShot(ds: ClassificationDataset, k: number, seed: number): FewShotSplit {
  checkShots(k, `sampleFewShot(${ds.name})`);
  if (!Number.isSafeInteger(seed)) throw new Error(`sampleFewShot(${ds.name}): seed must be an integer, got ${seed}`);
  const rand = uniform(seed, 'few-shot');
  const train = drawPerClass(ds.split('train'), k, rand);
  const val = drawPerClass(ds.split('val'), Math.min(k, 4), rand);
  return { k, seed, dataset: ds.name, datasetId: datasetIdOf(ds), train, val };
}

/** The file's format tag; bump the version if the layout changes. */
export const FEWSHOT_FORMAT = 'promptlab-fewshot';
export const FEWSHOT_VERSION = 1;

/**
 * The cache file name Dassl uses for a split, as JSON: `shot_{k}-seed_{seed}.json`
 * (put it under a folder named after `datasetId`).
 */
export function fewShotFileName(k: number, seed: number): string {
  return `shot_${k}-seed_${seed}.json`;
}

/**
 * Writes the split as JSON: the dataset, k, seed and each chosen item (its index in its split,
 * label and domain), one per line. Creates the folder; returns the path.
 */
export function saveFewShot(split: FewShotSplit, file: string): string {
  const item = (it: ImageItem) => (it.domain === undefined ? { index: it.index, label: it.label } : { index: it.index, label: it.label, domain: it.domain });
  const json = {
    format: FEWSHOT_FORMAT,
    version: FEWSHOT_VERSION,
    dataset: split.dataset,
    datasetId: split.datasetId,
    k: split.k,
    seed: split.seed,
    train: split.train.map(item),
    val: split.val.map(item),
  };
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(file, formatJson(json) + '\n');
  return file;
}

function parseItems(v: unknown, file: string, key: SplitName): ImageItem[] {
  if (!Array.isArray(v)) throw new Error(`${file}: "${key}" should be a list of items`);
  return v.map((x: unknown, i) => {
    const o = x as { index?: unknown; label?: unknown; domain?: unknown } | null;
    if (o === null || typeof o !== 'object' || !Number.isSafeInteger(o.index) || !Number.isSafeInteger(o.label)) {
      throw new Error(`${file}: ${key}[${i}] should be {"index": int, "label": int, "domain"?: string}, got ${JSON.stringify(x)}`);
    }
    if (o.domain !== undefined && typeof o.domain !== 'string') throw new Error(`${file}: ${key}[${i}].domain should be a string`);
    const it: ImageItem = { index: o.index as number, label: o.label as number };
    if (o.domain !== undefined) it.domain = o.domain as string;
    return it;
  });
}

/** Replaces each loaded item by the dataset's own (checking that the label and domain agree). */
function resolveItems(items: ImageItem[], ds: ClassificationDataset, split: SplitName, file: string): ImageItem[] {
  const own = ds.split(split);
  return items.map((it) => {
    const o = own[it.index];
    if (!o || o.label !== it.label || o.domain !== it.domain) {
      throw new Error(`${file}: ${split} item ${JSON.stringify(it)} does not match item ${it.index} of ${datasetIdOf(ds)} (${own.length} ${split} items${o ? `; it is ${JSON.stringify(o)}` : ''})`);
    }
    return o;
  });
}

/**
 * Reads a split written by `saveFewShot`. With `ds`, checks that the file is for that dataset
 * variant and returns the dataset's own item objects (what `ds.image` expects).
 */
export function loadFewShot(file: string, ds?: ClassificationDataset): FewShotSplit {
  if (!fs.existsSync(file)) throw new Error(`${file}: few-shot split file not found`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || json.format !== FEWSHOT_FORMAT) {
    throw new Error(`${file}: not a few-shot split (expected "format": "${FEWSHOT_FORMAT}")`);
  }
  if (json.version !== FEWSHOT_VERSION) throw new Error(`${file}: version ${String(json.version)} is not supported (expected ${FEWSHOT_VERSION})`);
  const { dataset, datasetId, k, seed } = json;
  if (typeof dataset !== 'string' || typeof datasetId !== 'string') throw new Error(`${file}: "dataset" and "datasetId" should be strings`);
  if (typeof k !== 'number' || typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new Error(`${file}: "k" and "seed" should be integers`);
  checkShots(k, file);
  let train = parseItems(json.train, file, 'train');
  let val = parseItems(json.val, file, 'val');
  if (ds) {
    if (ds.name !== dataset || datasetIdOf(ds) !== datasetId) {
      throw new Error(`${file}: the split is for ${datasetId}, not ${datasetIdOf(ds)}`);
    }
    train = resolveItems(train, ds, 'train', file);
    val = resolveItems(val, ds, 'val', file);
  }
  return { k, seed, dataset, datasetId, train, val };
}

// ---------------------------------------------------------------------------------------------
// Base-to-new classes

export type ClassSelection = 'all' | 'base' | 'new';
export const CLASS_SELECTIONS: readonly ClassSelection[] = ['all', 'base', 'new'];

/** An item with its label in a class subset. */
export interface LabelledItem {
  /** The dataset's own item (original label): pass this to `ds.image`. */
  item: ImageItem;
  /** The label in the subset, 0..classNames.length-1. */
  label: number;
}

/** A view of some of a dataset's classes, relabelled 0..n-1 in ascending order of the original labels. */
export interface ClassSubset {
  which: ClassSelection;
  /** The selected original labels, ascending; new label i is labels[i]. */
  labels: number[];
  /** The names of the selected classes, in new-label order. */
  classNames: string[];
  /** The item's label in the subset, or null where its class is not selected. */
  relabel(item: ImageItem): number | null;
  /** The items of selected classes with their new labels, in the order given. */
  filter(items: readonly ImageItem[]): LabelledItem[];
}

/**
 * CoCoOp's `subsample_classes` (methods.md 2.4): labels = the sorted set of labels present in the
 * train items (the few-shot train, sampled on all classes first); m = ceil(n / 2); base = the first
 * m labels, new = the rest, all = every label; the selection is relabelled 0..|sel|-1 in sorted
 * order, and train, val and test items are filtered through the same map.
 *
 * From a dataset: `train` defaults to its full train split (pass the few-shot train to follow Dassl
 * to the letter; with every class present both give the same split). From a label list: the labels
 * present in the train items; `classNames[label]` names them (default: the label as text).
 */
export function subsampleClasses(ds: ClassificationDataset, which: ClassSelection, train?: readonly ImageItem[]): ClassSubset;
export function subsampleClasses(labels: readonly number[], which: ClassSelection, classNames?: readonly string[]): ClassSubset;
export function subsampleClasses(
  source: ClassificationDataset | readonly number[],
  which: ClassSelection,
  extra?: readonly ImageItem[] | readonly string[],
): ClassSubset {
  if (!CLASS_SELECTIONS.includes(which)) throw new Error(`subsampleClasses: unknown selection "${String(which)}" (valid: ${CLASS_SELECTIONS.join(', ')})`);
  let present: readonly number[];
  let names: readonly string[] | undefined;
  let what: string;
  if (Array.isArray(source)) {
    present = source as readonly number[];
    names = extra as readonly string[] | undefined;
    what = 'subsampleClasses';
  } else {
    const ds = source as ClassificationDataset;
    present = ((extra as readonly ImageItem[] | undefined) ?? ds.split('train')).map((it) => it.label);
    names = ds.classNames;
    what = `subsampleClasses(${ds.name})`;
  }
  for (const l of present) if (!Number.isSafeInteger(l) || l < 0) throw new Error(`${what}: labels must be non-negative integers, got ${l}`);
  const all = [...new Set(present)].sort((a, b) => a - b);
  if (all.length === 0) throw new Error(`${what}: no labels (empty train items)`);
  if (names) {
    const missing = all.filter((l) => l >= names!.length);
    if (missing.length) throw new Error(`${what}: labels ${missing.join(', ')} have no class name (${names.length} names)`);
  }
  const m = Math.ceil(all.length / 2);
  const labels = which === 'all' ? all : which === 'base' ? all.slice(0, m) : all.slice(m);
  const map = new Map<number, number>();
  labels.forEach((l, i) => map.set(l, i));
  const relabel = (item: ImageItem): number | null => map.get(item.label) ?? null;
  return {
    which,
    labels,
    classNames: labels.map((l) => (names ? names[l] : String(l))),
    relabel,
    filter(items) {
      const out: LabelledItem[] = [];
      for (const item of items) {
        const label = map.get(item.label);
        if (label !== undefined) out.push({ item, label });
      }
      return out;
    },
  };
}

/**
 * The dataset seen through a class subset: classNames of the selection, splits filtered and
 * relabelled. Items keep their parent's `index` and `domain` (so they are not their position in
 * the view's list); `image` maps them back to the parent's item.
 */
export function subsetDataset(ds: ClassificationDataset, subset: ClassSubset): ClassificationDataset {
  const parents = new Map<SplitName, ImageItem[]>();
  const parentSplit = (s: SplitName) => {
    let p = parents.get(s);
    if (!p) parents.set(s, (p = ds.split(s)));
    return p;
  };
  const view: ClassificationDataset = {
    kind: 'classification',
    name: ds.name,
    template: ds.template,
    templates: ds.templates.slice(),
    classNames: subset.classNames.slice(),
    split(name: SplitName): ImageItem[] {
      return subset.filter(parentSplit(name)).map(({ item, label }) => ({ ...item, label }));
    },
    image(item: ImageItem, split: SplitName) {
      const parent = parentSplit(split)[item.index];
      if (!parent || subset.relabel(parent) !== item.label) {
        throw new Error(`${ds.name} (${subset.which} classes): ${JSON.stringify(item)} is not an item of the ${split} split of this view`);
      }
      return ds.image(parent, split);
    },
    // The parent's manifest, computed only when asked for (a world variant's may render every image).
    get manifest() {
      return ds.manifest;
    },
  };
  return view;
}

/**
 * The base-to-new protocol's data for one seed: k shots sampled on all classes, then the base and
 * new subsets of the few-shot train (train on base.filter(fewShot.train), test on
 * base.filter(test) and new.filter(test)).
 */
export function baseToNewSplit(ds: ClassificationDataset, k: number, seed: number): { fewShot: FewShotSplit; base: ClassSubset; new: ClassSubset } {
  const fewShot = sampleFewShot(ds, k, seed);
  return { fewShot, base: subsampleClasses(ds, 'base', fewShot.train), new: subsampleClasses(ds, 'new', fewShot.train) };
}

// ---------------------------------------------------------------------------------------------
// Harmonic mean

/** H = 2·B·N / (B + N) (CoCoOp), in the units given; 0 where either term is 0. */
export function harmonicMean(base: number, novel: number): number {
  if (!Number.isFinite(base) || !Number.isFinite(novel) || base < 0 || novel < 0) {
    throw new Error(`harmonicMean: base and new accuracies must be finite and >= 0, got ${base} and ${novel}`);
  }
  if (base === 0 || novel === 0) return 0;
  return (2 * base * novel) / (base + novel);
}

/** One dataset's (or seed's) base and new accuracy. */
export interface BaseNewRow {
  base: number;
  new: number;
}

/**
 * The paper's "Average" row: base and new averaged over the rows, and H computed from those two
 * averages (not the mean of the rows' H). CLIP: 2·69.34·74.22/143.56 = 71.70.
 */
export function averageH(rows: readonly BaseNewRow[]): { base: number; new: number; h: number } {
  if (rows.length === 0) throw new Error('averageH: no rows');
  const base = rows.reduce((s, r) => s + r.base, 0) / rows.length;
  const novel = rows.reduce((s, r) => s + r.new, 0) / rows.length;
  return { base, new: novel, h: harmonicMean(base, novel) };
}

// ---------------------------------------------------------------------------------------------
// Cross-dataset transfer and domain generalisation

/** A source dataset to train on and a target to evaluate on with the same class names. */
export interface DomainPair {
  source: WorldClassificationName;
  target: WorldClassificationName;
}

/**
 * The world's domain-generalisation pairs, as ImageNet -> ImageNet-Sketch: train on the generic
 * dataset, evaluate the same classes (same names, same order) in shifted styles only.
 */
const DOMAIN_PAIRS: readonly DomainPair[] = [{ source: 'world-shapes', target: 'world-sketches' }];

/** (source, target) pairs with identical class names: world-shapes -> world-sketches. */
export function domainGeneralisationPairs(): DomainPair[] {
  return DOMAIN_PAIRS.map((p) => ({ ...p }));
}

function isWorldClassification(name: string): name is WorldClassificationName {
  return (WORLD_CLASSIFICATION as readonly string[]).includes(name);
}

/**
 * Cross-dataset transfer targets of a world source (CoCoOp's xd protocol: train on all classes of
 * the source, evaluate on each other dataset with its full class set): every other world
 * classification dataset except the source's domain-shifted versions, which are the
 * domain-generalisation protocol's targets (as ImageNet's variants are not among the 10 targets).
 */
export function crossDatasetTargets(source: string): WorldClassificationName[] {
  if (!isWorldClassification(source)) {
    throw new Error(`crossDatasetTargets: "${source}" is not a world classification dataset (valid: ${WORLD_CLASSIFICATION.join(', ')})`);
  }
  const shifted = new Set<string>();
  for (const p of DOMAIN_PAIRS) {
    if (p.source === source) shifted.add(p.target);
    if (p.target === source) shifted.add(p.source);
  }
  // Any dataset that classifies along the same axis has the same classes: a domain shift too.
  for (const n of WORLD_CLASSIFICATION) if (CLASSIFICATION_CONFIGS[n].axis === CLASSIFICATION_CONFIGS[source].axis) shifted.add(n);
  return WORLD_CLASSIFICATION.filter((n) => n !== source && !shifted.has(n));
}
