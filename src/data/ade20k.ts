// ADE20K (SceneParsing, ADEChallengeData2016) in its released layout, read as mmseg 0.19's
// ADE20KDataset does for DenseCLIP's configs:
//   ROOT/images/{training,validation}/ADE_*.jpg
//   ROOT/annotations/{training,validation}/ADE_*.png   (8-bit: 0 = other/unlabelled, 1..150 the classes)
//   ROOT/objectInfo150.csv                              (Idx,Ratio,Train,Val,Name; names as "wall", "building;edifice")
// Labels are reduced as mmseg's reduce_zero_label: 0 -> 255 (ignored), k -> k - 1, so the 150 classes
// are 0..149. Class names are the first synonym of each Name (mmseg's CLASSES list differs only in
// spacing, e.g. 'bed ', which CLIP's tokenizer strips). Files are listed and sorted by name, as
// mmseg's scandir; an image without its annotation is an error naming both. Train is the training
// folder; val and test are both the validation folder (ADE20K's test labels are not public), as
// DenseCLIP evaluates.
import * as fs from 'fs';
import * as path from 'path';
import { decodeImage, type RawImage } from '../clip/image';
import { readFileLimited, readTextLimited } from '../io/files';
import type { SegmentationDataset, SegmentationExample, SegmentationItem, SplitName } from './dataset';

export const ADE20K_CLASSES = 150;
export const ADE20K_IGNORE = 255;
const IMAGE_LIMIT = 64 * 1024 * 1024;

export interface SegmentationFolderManifest {
  id: string;
  kind: 'segmentation';
  source: 'folder';
  root: string;
  counts: Record<SplitName, number>;
}

/** mmseg's reduce_zero_label on an 8-bit annotation: 0 -> 255, k -> k - 1 (255 stays ignored). */
export function reduceZeroLabel(raw: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i];
    out[i] = v === 0 || v === 255 ? ADE20K_IGNORE : v - 1;
  }
  return out;
}

/** Class names from objectInfo150.csv: the first synonym of each row's Name, in Idx order. */
export function readObjectInfo(file: string): string[] {
  const lines = readTextLimited(file, 1024 * 1024, 'ADE20K class list').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0]?.split(',').map((h) => h.trim());
  const nameCol = header?.indexOf('Name') ?? -1;
  const idxCol = header?.indexOf('Idx') ?? -1;
  if (nameCol < 0 || idxCol < 0) throw new Error(`${file}: expected a header with Idx and Name columns (ADE20K's objectInfo150.csv), got ${JSON.stringify(lines[0] ?? '')}`);
  const names: string[] = [];
  for (const [i, line] of lines.slice(1).entries()) {
    const cols = line.split(',');
    const idx = Number(cols[idxCol]);
    if (idx !== i + 1) throw new Error(`${file}: row ${i + 2} has Idx ${JSON.stringify(cols[idxCol])}, expected ${i + 1}`);
    const name = (cols[nameCol] ?? '').split(';')[0].trim();
    if (name === '') throw new Error(`${file}: row ${i + 2} has no Name`);
    names.push(name);
  }
  return names;
}

function listFiles(dir: string, suffix: string): string[] {
  if (!fs.existsSync(dir)) throw new Error(`${dir}: missing (ADE20K's layout has images/{training,validation} and annotations/{training,validation})`);
  return fs.readdirSync(dir).filter((f) => f.endsWith(suffix)).sort();
}

/** Loads ADE20K from its released folder (see the header for the layout and the label reduction). */
export function loadAde20k(root: string, opts: { name?: string } = {}): SegmentationDataset & { manifest: SegmentationFolderManifest } {
  const classNames = readObjectInfo(path.join(root, 'objectInfo150.csv'));
  if (classNames.length !== ADE20K_CLASSES) throw new Error(`${path.join(root, 'objectInfo150.csv')}: ${classNames.length} classes, ADE20K has ${ADE20K_CLASSES}`);
  const folders: Record<SplitName, string> = { train: 'training', val: 'validation', test: 'validation' };
  const files = {} as Record<SplitName, { image: string; annotation: string }[]>;
  for (const split of ['train', 'val', 'test'] as const) {
    const imgDir = path.join(root, 'images', folders[split]);
    const annDir = path.join(root, 'annotations', folders[split]);
    const annotations = new Set(listFiles(annDir, '.png'));
    files[split] = listFiles(imgDir, '.jpg').map((f) => {
      const ann = f.replace(/\.jpg$/, '.png');
      if (!annotations.has(ann)) throw new Error(`${path.join(imgDir, f)} has no annotation ${path.join(annDir, ann)}`);
      return { image: path.join(imgDir, f), annotation: path.join(annDir, ann) };
    });
  }
  const counts = { train: files.train.length, val: files.val.length, test: files.test.length };
  const name = opts.name ?? 'ade20k';
  return {
    kind: 'segmentation',
    name,
    classNames,
    imageSize: 0,
    ignoreIndex: ADE20K_IGNORE,
    template: 'a photo of a {}.',
    templates: ['a photo of a {}.'],
    manifest: { id: name, kind: 'segmentation', source: 'folder', root: path.resolve(root), counts },
    split(s: SplitName): SegmentationItem[] {
      return files[s].map((_, index) => ({ index }));
    },
    example(item: SegmentationItem, s: SplitName): SegmentationExample {
      const f = files[s][item.index];
      if (!f) throw new Error(`${name}: no item ${item.index} in ${s} (${files[s].length} items)`);
      const image: RawImage = decodeImage(readFileLimited(f.image, IMAGE_LIMIT, 'ADE20K image'), f.image);
      const ann = decodeImage(readFileLimited(f.annotation, IMAGE_LIMIT, 'ADE20K annotation'), f.annotation);
      if (ann.width !== image.width || ann.height !== image.height) throw new Error(`${f.annotation} is ${ann.width}x${ann.height}, its image ${image.width}x${image.height}`);
      const raw = new Uint8Array(ann.width * ann.height);
      for (let i = 0; i < raw.length; i++) raw[i] = ann.data[i * ann.channels]; // 8-bit grey: the first channel holds the label
      return { image, labels: reduceZeroLabel(raw) };
    },
  };
}
