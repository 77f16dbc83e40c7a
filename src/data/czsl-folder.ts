// The compositional zero-shot datasets in their official layout (MIT-States, UT-Zappos, C-GQA as
// BatsResearch/csp and the czsl library read them, datasets/composition_dataset.py):
//
//   ROOT/images/<image>                                  the image files ('image' of the metadata)
//   ROOT/<split>/{train,val,test}_pairs.txt              one "attr obj" pair per line
//   ROOT/metadata_<split>.t7                             torch.save'd list of {image, attr, obj, set}
//
// with <split> = compositional-split-natural. attrs, objs and the closed-world pairs are the sorted
// unions over the three pair files (Python's sorted(): code-point order); an image is dropped when its
// attribute is 'NA', its set is 'NA' or its pair is in no split; train labels index the train pairs
// in file order. The .t7 metadata is a torch.save'd list of dicts, read as it is (legacy or zip
// format) by the safe pickle reader (src/clip/torch-checkpoint.ts readTorchData: nothing in it runs);
// a JSON copy beside it (metadataConversion) is read when there is no .t7. A missing file is named
// with the download manifest that describes the dataset (data-manifests/downloads/czsl-*.json).
import { READ_LIMITS, readJsonFile } from '../io/files';
import * as fs from 'fs';
import * as path from 'path';
import { loadImage, type RawImage } from '../clip/image';
import { readTorchData } from '../clip/torch-checkpoint';
import type { CompositionalDataset, CompositionalItem, Pair, SplitName } from './dataset';
import { describedBy, findDatasetManifest } from './fetch';

export const CZSL_SPLIT = 'compositional-split-natural';

/** The one-line conversion of the official metadata to JSON (not needed: the loader reads the .t7 itself). */
export function metadataConversion(root: string, split = CZSL_SPLIT): string {
  const t7 = path.join(root, `metadata_${split}.t7`);
  return `python3 -c "import torch, json; json.dump(torch.load('${t7}'), open('${t7.replace(/\.t7$/, '.json')}', 'w'))"`;
}

/** What a folder dataset's run records cite. */
export interface FolderManifest {
  id: string;
  kind: 'compositional';
  source: 'folder';
  root: string;
  split: string;
  counts: Record<SplitName, number>;
}

interface MetadataEntry {
  image: string;
  attr: string;
  obj: string;
  set: string;
}

function readPairs(file: string, hint: string): Pair[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: missing (the official CZSL layout has ${path.basename(path.dirname(file))}/{train,val,test}_pairs.txt)${hint}`);
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').filter((l) => l.trim() !== '');
  return lines.map((l, i) => {
    const parts = l.trim().split(/\s+/);
    if (parts.length !== 2) throw new Error(`${file}:${i + 1}: "${l}" is not "attr obj"`);
    return [parts[0], parts[1]] as const;
  });
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const pairKey = (p: Pair) => `${p[0]}\u0000${p[1]}`;

/** A metadata value (a dict of the .t7, or a JSON object) as {image, attr, obj, set}, or null. */
function metadataEntry(v: unknown): MetadataEntry | null {
  const get = (k: string) => (v instanceof Map ? v.get(k) : typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined);
  const e = { image: get('image'), attr: get('attr'), obj: get('obj'), set: get('set') };
  return Object.values(e).every((x) => typeof x === 'string') ? (e as MetadataEntry) : null;
}

/** The metadata list: metadata_<split>.t7 as released, else a JSON copy of it. */
function readMetadata(root: string, split: string, hint: string): { file: string; entries: unknown[] } {
  const t7 = path.join(root, `metadata_${split}.t7`);
  const json = path.join(root, `metadata_${split}.json`);
  if (fs.existsSync(t7)) {
    const data = readTorchData(t7);
    if (!Array.isArray(data)) throw new Error(`${t7}: expected a list of {image, attr, obj, set}, got ${data instanceof Map ? 'a dict' : typeof data}`);
    return { file: t7, entries: data };
  }
  if (!fs.existsSync(json)) throw new Error(`${t7}: missing (the official CZSL layout has metadata_${split}.t7 beside images/ and ${split}/)${hint}`);
  const entries = readJsonFile<unknown>(json, 'CZSL metadata', READ_LIMITS.text);
  if (!Array.isArray(entries)) throw new Error(`${json}: expected a list of {image, attr, obj, set}`);
  return { file: json, entries };
}

/**
 * Loads a CZSL dataset from its official folder (see the header). `manifest` names the download
 * manifest that describes it, for the errors about missing files (default: the one whose dataset
 * name is `name` or the folder's name, e.g. mit-states).
 */
export function loadCzslFolder(root: string, opts: { split?: string; name?: string; manifest?: string } = {}): CompositionalDataset & { manifest: FolderManifest } {
  const split = opts.split ?? CZSL_SPLIT;
  const described = findDatasetManifest(opts.manifest ?? opts.name ?? path.basename(path.resolve(root)), ['czsl']);
  const hint = describedBy(described, root);
  const [train, val, test] = (['train', 'val', 'test'] as const).map((s) => readPairs(path.join(root, split, `${s}_pairs.txt`), hint));
  const all = [...train, ...val, ...test];
  const attrs = [...new Set(all.map((p) => p[0]))].sort(byCodePoint);
  const objs = [...new Set(all.map((p) => p[1]))].sort(byCodePoint);
  const unique = new Map(all.map((p) => [pairKey(p), p]));
  const pairs = [...unique.values()].sort((a, b) => byCodePoint(a[0], b[0]) || byCodePoint(a[1], b[1]));
  const inSplit = new Set(unique.keys());

  const { file: json, entries: meta } = readMetadata(root, split, hint);
  const attrIdx = new Map(attrs.map((a, i) => [a, i]));
  const objIdx = new Map(objs.map((o, i) => [o, i]));
  const items: Record<SplitName, CompositionalItem[]> = { train: [], val: [], test: [] };
  const files: Record<SplitName, string[]> = { train: [], val: [], test: [] };
  meta.forEach((raw, i) => {
    const m = metadataEntry(raw);
    if (m === null) throw new Error(`${json}: entry ${i} is not {image, attr, obj, set} strings`);
    if (m.attr === 'NA' || m.set === 'NA' || !inSplit.has(pairKey([m.attr, m.obj]))) return;
    const s: SplitName = m.set === 'train' ? 'train' : m.set === 'val' ? 'val' : 'test';
    if (m.image.split(/[\\/]/).includes('..') || path.isAbsolute(m.image)) throw new Error(`${json}: entry ${i}'s image "${m.image}" is outside ${path.join(root, 'images')}`);
    items[s].push({ index: items[s].length, attr: attrIdx.get(m.attr) as number, obj: objIdx.get(m.obj) as number });
    files[s].push(m.image);
  });
  const name = opts.name ?? path.basename(path.resolve(root));
  return {
    kind: 'compositional',
    name,
    attrs,
    objs,
    pairs,
    openWorldPairs: attrs.flatMap((a) => objs.map((o) => [a, o] as const)),
    trainPairs: train,
    valPairs: val,
    testPairs: test,
    template: 'a photo of {}',
    templates: ['a photo of {}'],
    split: (s: SplitName) => items[s].slice(),
    image(item: CompositionalItem, s: SplitName): RawImage {
      const file = files[s][item.index];
      if (file === undefined) throw new Error(`${name}: ${JSON.stringify(item)} is not an item of the ${s} split`);
      return loadImage(path.join(root, 'images', file));
    },
    manifest: { id: name, kind: 'compositional', source: 'folder', root: path.resolve(root), split, counts: { train: items.train.length, val: items.val.length, test: items.test.length } },
  };
}
