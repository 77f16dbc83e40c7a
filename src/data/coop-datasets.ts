// CoOp's classification datasets in their released formats, read as KaiyangZhou/CoOp's datasets/*.py
// read them (methods.md 1.4, 6):
//
//   * split_zhou_<Dataset>.json: {"train": [[impath, label, classname], ...], "val": [...], "test": [...]},
//     impath relative to the dataset's image folder (StanfordCars: to the dataset folder itself). The
//     class names are the JSON's, CoOp's rewrites already applied (Caltech101's 'airplane', EuroSAT's
//     'Annual Crop Land', SUN397's 'outdoor apartment_building', UCF101's 'Apply_Eye_Makeup'); prompts
//     turn '_' into spaces (dataset.ts promptClassName).
//   * FGVC-Aircraft: images_variant_{train,val,test}.txt ('<image id> <variant words>') with labels in
//     the order of variants.txt, images/<id>.jpg.
//   * ImageNet: <train>/<wnid>/* and <test>/<wnid>/* (the validation images in class folders), labels
//     the train folders in sorted order, names from classnames.txt ('<wnid> <class name>' per line);
//     val is the test split, as CoOp's ImageNet sets val = test.
//   * ImageNetV2: folders 0..999, folder k the k-th class of classnames.txt.
//   * ImageNet-Sketch / -A / -R: <images>/<wnid>/*, labels the wnid folders present in sorted order
//     (README.txt ignored), names from classnames.txt. These three and V2 are test-only: train is the
//     same list as test (Dassl's train_x = test = data) and val is empty.
//
// File lists are sorted by name where a folder is listed (Dassl's listdir_nohidden leaves the order to
// the file system; hidden files are skipped in both). Images are decoded on demand (PNG or JPEG);
// paths taken from a split file are confined to the image folder. Every missing file is an error that
// names it and, when the caller gives one, the download manifest that describes the dataset.
import * as fs from 'fs';
import * as path from 'path';
import { decodeImage, type RawImage } from '../clip/image';
import { confinedPath, READ_LIMITS, readFileLimited, readJsonFile, readTextLimited } from '../io/files';
import type { ClassificationDataset, ImageItem, SplitName } from './dataset';

/** What a folder classification dataset's run records cite. */
export interface ClassificationFolderManifest {
  id: string;
  kind: 'classification';
  source: 'folder';
  format: string;
  root: string;
  /** The split or list files the dataset was read from (relative to root). */
  files: string[];
  classes: number;
  counts: Record<SplitName, number>;
}

export type ClassificationFolderDataset = ClassificationDataset & {
  manifest: ClassificationFolderManifest;
  /** The image files of a split, in item order (relative to the image folder). */
  files(split: SplitName): string[];
};

export interface FolderDatasetOptions {
  /** The dataset's name in results (default: the folder's name). */
  name?: string;
  /** The zero-shot template, with {} for the class name (default 'a photo of a {}.'). */
  template?: string;
  /** The prompt ensemble (default: [template]). */
  templates?: string[];
  /** Appended to errors about missing files: which manifest describes the dataset, how to fetch it. */
  hint?: string;
}

/** The largest image file read (bytes). */
export const IMAGE_LIMIT = 64 * 1024 * 1024;

interface Entry {
  file: string;
  label: number;
}

function missing(file: string, what: string, hint = ''): Error {
  return new Error(`${file}: missing (${what})${hint}`);
}

const isHidden = (name: string) => name.startsWith('.');
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The visible files of a folder, sorted. */
function listFiles(dir: string, what: string, hint?: string): string[] {
  if (!fs.existsSync(dir)) throw missing(dir, what, hint);
  return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => !isHidden(e.name) && !e.isDirectory()).map((e) => e.name).sort(byCodePoint);
}

/** The visible sub-folders of a folder, sorted. */
function listFolders(dir: string, what: string, hint?: string): string[] {
  if (!fs.existsSync(dir)) throw missing(dir, what, hint);
  return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => !isHidden(e.name) && e.isDirectory()).map((e) => e.name).sort(byCodePoint);
}

/** A classification dataset over image files: the splits' entries (paths relative to imageRoot). */
function folderDataset(o: {
  name: string; format: string; root: string; imageRoot: string; files: string[]; classNames: string[];
  splits: Record<SplitName, Entry[]>; opts: FolderDatasetOptions;
}): ClassificationFolderDataset {
  const { name, imageRoot, splits, classNames, opts } = o;
  const template = opts.template ?? 'a photo of a {}.';
  const items: Record<SplitName, ImageItem[]> = {
    train: splits.train.map((e, index) => ({ index, label: e.label })),
    val: splits.val.map((e, index) => ({ index, label: e.label })),
    test: splits.test.map((e, index) => ({ index, label: e.label })),
  };
  return {
    kind: 'classification',
    name,
    template,
    templates: opts.templates ?? [template],
    classNames,
    split: (s: SplitName) => items[s].slice(),
    files: (s: SplitName) => splits[s].map((e) => e.file),
    image(item: ImageItem, s: SplitName): RawImage {
      const e = splits[s][item.index];
      if (!e || e.label !== item.label) throw new Error(`${name}: ${JSON.stringify(item)} is not an item of the ${s} split (${splits[s].length} items)`);
      const file = confinedPath(imageRoot, e.file, `${name} image`);
      if (!fs.existsSync(file)) throw missing(file, `an image of the ${s} split of ${name}`, opts.hint);
      return decodeImage(readFileLimited(file, IMAGE_LIMIT, `${name} image`), file);
    },
    manifest: {
      id: name,
      kind: 'classification',
      source: 'folder',
      format: o.format,
      root: path.resolve(o.root),
      files: o.files,
      classes: classNames.length,
      counts: { train: splits.train.length, val: splits.val.length, test: splits.test.length },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CoOp's split_zhou_*.json

export interface CoopSplit {
  train: [string, number, string][];
  val: [string, number, string][];
  test: [string, number, string][];
}

/**
 * Reads and checks a split_zhou_*.json: three lists of [impath, label, classname] with relative
 * paths, non-negative integer labels and one name per label.
 */
export function readCoopSplit(file: string, hint = ''): CoopSplit {
  if (!fs.existsSync(file)) throw missing(file, "CoOp's split file", hint);
  const json = readJsonFile<Record<string, unknown>>(file, 'CoOp split file', READ_LIMITS.json);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: expected {"train": [...], "val": [...], "test": [...]}`);
  const out = {} as CoopSplit;
  for (const s of ['train', 'val', 'test'] as const) {
    const list = json[s];
    if (!Array.isArray(list)) throw new Error(`${file}: "${s}" is not a list of [impath, label, classname]`);
    out[s] = list.map((e: unknown, i) => {
      if (!Array.isArray(e) || e.length !== 3 || typeof e[0] !== 'string' || !Number.isSafeInteger(e[1]) || (e[1] as number) < 0 || typeof e[2] !== 'string') {
        throw new Error(`${file}: ${s}[${i}] is ${JSON.stringify(e)}, not [impath, label, classname] (a path, an integer >= 0, a name)`);
      }
      const p = e[0] as string;
      if (p === '' || path.isAbsolute(p) || path.win32.isAbsolute(p) || p.split(/[\\/]/).includes('..')) throw new Error(`${file}: ${s}[${i}]'s image "${p}" is not a path inside the image folder`);
      return [p, e[1] as number, e[2] as string];
    });
  }
  return out;
}

/** The class names by label from the split's entries; every label from 0 to the largest must have one name. */
function classNamesOf(entries: readonly [string, number, string][], file: string): string[] {
  const names = new Map<number, string>();
  for (const [, label, name] of entries) {
    const prior = names.get(label);
    if (prior !== undefined && prior !== name) throw new Error(`${file}: label ${label} is named both "${prior}" and "${name}"`);
    names.set(label, name);
  }
  const n = names.size === 0 ? 0 : Math.max(...names.keys()) + 1;
  const gaps = Array.from({ length: n }, (_, l) => l).filter((l) => !names.has(l));
  if (gaps.length) throw new Error(`${file}: label${gaps.length > 1 ? 's' : ''} ${gaps.slice(0, 8).join(', ')} ha${gaps.length > 1 ? 've' : 's'} no item: labels must run from 0 to ${n - 1}`);
  if (n === 0) throw new Error(`${file}: no items`);
  return Array.from({ length: n }, (_, l) => names.get(l) as string);
}

/**
 * A CoOp dataset from its split file: `layout.split` (the JSON) and `layout.images` (the folder its
 * paths are relative to; '.' for the dataset folder), both relative to `dir`.
 */
export function loadCoopSplit(dir: string, layout: { images: string; split: string }, opts: FolderDatasetOptions = {}): ClassificationFolderDataset {
  const splitFile = confinedPath(dir, layout.split, 'split file');
  const split = readCoopSplit(splitFile, opts.hint);
  const imageRoot = confinedPath(dir, layout.images, 'image folder');
  if (!fs.existsSync(imageRoot)) throw missing(imageRoot, `the image folder that ${layout.split}'s paths are relative to`, opts.hint);
  const classNames = classNamesOf([...split.train, ...split.val, ...split.test], splitFile);
  const entries = (s: SplitName) => split[s].map(([file, label]) => ({ file, label }));
  return folderDataset({
    name: opts.name ?? path.basename(path.resolve(dir)), format: 'coop-split', root: dir, imageRoot, files: [layout.split], classNames,
    splits: { train: entries('train'), val: entries('val'), test: entries('test') }, opts,
  });
}

// ---------------------------------------------------------------------------------------------
// FGVC-Aircraft

/** FGVC-Aircraft at the variant level from its own lists, as CoOp's datasets/fgvc_aircraft.py reads it. */
export function loadFgvcAircraft(
  dir: string,
  layout: { images: string; variants: string; train: string; val: string; test: string },
  opts: FolderDatasetOptions = {},
): ClassificationFolderDataset {
  const variantsFile = confinedPath(dir, layout.variants, 'variants file');
  if (!fs.existsSync(variantsFile)) throw missing(variantsFile, "FGVC-Aircraft's variant list", opts.hint);
  const classNames = readTextLimited(variantsFile, READ_LIMITS.json, 'variant list').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const label = new Map(classNames.map((c, i) => [c, i]));
  const imageRoot = confinedPath(dir, layout.images, 'image folder');
  const read = (rel: string): Entry[] => {
    const file = confinedPath(dir, rel, 'image list');
    if (!fs.existsSync(file)) throw missing(file, "an FGVC-Aircraft image list ('<image id> <variant>' per line)", opts.hint);
    return readTextLimited(file, READ_LIMITS.json, 'image list').split(/\r?\n/).map((l, i) => [l.trim(), i] as const).filter(([l]) => l !== '').map(([l, i]) => {
      const [id, ...words] = l.split(' ');
      const variant = words.join(' ');
      const lab = label.get(variant);
      if (lab === undefined || !/^[\w-]+$/.test(id)) throw new Error(`${file}:${i + 1}: "${l}" is not '<image id> <variant of ${layout.variants}>'`);
      return { file: `${id}.jpg`, label: lab };
    });
  };
  return folderDataset({
    name: opts.name ?? path.basename(path.resolve(dir)), format: 'fgvc-variants', root: dir, imageRoot, files: [layout.variants, layout.train, layout.val, layout.test], classNames,
    splits: { train: read(layout.train), val: read(layout.val), test: read(layout.test) }, opts,
  });
}

// ---------------------------------------------------------------------------------------------
// ImageNet and its shifted variants

/** classnames.txt as CoOp ships it: '<wnid> <class name>' per line, in label order. */
export function readImageNetClassnames(file: string, hint = ''): Map<string, string> {
  if (!fs.existsSync(file)) throw missing(file, "ImageNet's classnames.txt, '<wnid> <class name>' per line", hint);
  const names = new Map<string, string>();
  readTextLimited(file, READ_LIMITS.json, 'ImageNet class names').split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const at = line.indexOf(' ');
    if (at <= 0) throw new Error(`${file}:${i + 1}: "${line}" is not '<wnid> <class name>'`);
    const wnid = line.slice(0, at);
    if (names.has(wnid)) throw new Error(`${file}:${i + 1}: ${wnid} is listed twice`);
    names.set(wnid, line.slice(at + 1).trim());
  });
  if (names.size === 0) throw new Error(`${file}: no class names`);
  return names;
}

/** Every visible file of each class folder, as entries with the folder's label. */
function classFolderEntries(root: string, folders: readonly string[], hint?: string): Entry[] {
  return folders.flatMap((folder, label) => listFiles(path.join(root, folder), 'a class folder', hint).map((f) => ({ file: `${folder}/${f}`, label })));
}

function wnidNames(folders: readonly string[], names: Map<string, string>, classnamesFile: string, root: string): string[] {
  return folders.map((w) => {
    const n = names.get(w);
    if (n === undefined) throw new Error(`${path.join(root, w)}: the folder ${w} has no line in ${classnamesFile}`);
    return n;
  });
}

/**
 * ImageNet as CoOp reads it: `layout.train` and `layout.test` hold one folder per wnid (the
 * validation images sorted into class folders); labels are the train folders in sorted order; val is
 * the test split.
 */
export function loadImageNetFolders(dir: string, layout: { train: string; test: string; classnames: string }, opts: FolderDatasetOptions = {}): ClassificationFolderDataset {
  const classnamesFile = confinedPath(dir, layout.classnames, 'class names');
  const names = readImageNetClassnames(classnamesFile, opts.hint);
  const trainRoot = confinedPath(dir, layout.train, 'train folder');
  const testRoot = confinedPath(dir, layout.test, 'test folder');
  const folders = listFolders(trainRoot, 'the training images in one folder per wnid', opts.hint);
  const testFolders = listFolders(testRoot, 'the validation images sorted into one folder per wnid (CoOp tests on them)', opts.hint);
  const known = new Set(folders);
  const stray = testFolders.filter((f) => !known.has(f));
  if (stray.length) throw new Error(`${testRoot}: folder${stray.length > 1 ? 's' : ''} ${stray.slice(0, 5).join(', ')} ${stray.length > 1 ? 'are' : 'is'} not among the training folders of ${trainRoot}`);
  const classNames = wnidNames(folders, names, classnamesFile, trainRoot);
  // both split roots under one image root: entries are relative to dir
  const rel = (root: string) => path.relative(path.resolve(dir), path.resolve(root)).split(path.sep).join('/');
  const train = classFolderEntries(trainRoot, folders, opts.hint).map((e) => ({ file: `${rel(trainRoot)}/${e.file}`, label: e.label }));
  const label = new Map(folders.map((f, i) => [f, i]));
  const test = testFolders.flatMap((f) => listFiles(path.join(testRoot, f), 'a class folder', opts.hint).map((x) => ({ file: `${rel(testRoot)}/${f}/${x}`, label: label.get(f) as number })));
  return folderDataset({
    name: opts.name ?? path.basename(path.resolve(dir)), format: 'imagenet-folders', root: dir, imageRoot: dir, files: [layout.classnames], classNames,
    splits: { train, val: test, test }, opts,
  });
}

/** ImageNetV2 as CoOp reads it: folders 0..N-1, folder k the k-th class of classnames.txt (test only). */
export function loadImageNetLabelFolders(dir: string, layout: { images: string; classnames: string }, opts: FolderDatasetOptions = {}): ClassificationFolderDataset {
  const classnamesFile = confinedPath(dir, layout.classnames, 'class names');
  const classNames = [...readImageNetClassnames(classnamesFile, opts.hint).values()];
  const imageRoot = confinedPath(dir, layout.images, 'image folder');
  if (!fs.existsSync(imageRoot)) throw missing(imageRoot, 'the images in folders 0..999 (one per class, in the order of classnames.txt)', opts.hint);
  const folders = classNames.map((_, k) => String(k));
  const data = classFolderEntries(imageRoot, folders, opts.hint);
  return folderDataset({
    name: opts.name ?? path.basename(path.resolve(dir)), format: 'imagenet-label-folders', root: dir, imageRoot, files: [layout.classnames], classNames,
    splits: { train: data, val: [], test: data }, opts,
  });
}

/** ImageNet-Sketch / -A / -R as CoOp reads them: wnid folders present, sorted (README.txt ignored); test only. */
export function loadImageNetWnidFolders(dir: string, layout: { images: string; classnames: string }, opts: FolderDatasetOptions = {}): ClassificationFolderDataset {
  const classnamesFile = confinedPath(dir, layout.classnames, 'class names');
  const names = readImageNetClassnames(classnamesFile, opts.hint);
  const imageRoot = confinedPath(dir, layout.images, 'image folder');
  const folders = listFolders(imageRoot, 'the images in one folder per wnid', opts.hint);
  const classNames = wnidNames(folders, names, classnamesFile, imageRoot);
  const data = classFolderEntries(imageRoot, folders, opts.hint);
  return folderDataset({
    name: opts.name ?? path.basename(path.resolve(dir)), format: 'imagenet-wnid-folders', root: dir, imageRoot, files: [layout.classnames], classNames,
    splits: { train: data, val: [], test: data }, opts,
  });
}
