// Manifests of the embedded world's benchmarks (data-manifests/world/<id>.json): what generated the
// data (generator version, seed, every parameter), what is in it (counts, class names, prompts) and a
// checksum of every rendered item, so a run record names exactly the data it used and a change to the
// generator cannot go unnoticed.
import { writeFileAtomic } from '../io/files';
import { readJsonFile } from '../io/files';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { RawImage } from '../clip/image';
import { SPLITS, type Dataset, type Pair, type SplitName } from './dataset';

/** Where the committed world manifests live. */
export const WORLD_MANIFEST_DIR = path.resolve(__dirname, '..', '..', 'data-manifests', 'world');

/** The command that rewrites them (named in test failures). */
export const WRITE_WORLD_MANIFESTS_COMMAND = 'npx tsx src/data/write-world-manifests.ts';

/** A JSON value (for `parameters`). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface WorldManifest {
  id: string;
  kind: Dataset['kind'];
  generator: 'promptlab-world';
  /** WORLD_GENERATOR_VERSION of src/world. */
  generatorVersion: number;
  /** WORLD_BENCHMARKS_VERSION of src/data (how items are drawn from the world). */
  benchmarkVersion: number;
  seed: number;
  /** Everything besides the seed and the versions that decides the content. */
  parameters: { [key: string]: Json };
  counts: Record<SplitName, number>;
  /** Classification, segmentation and video datasets. */
  classNames?: string[];
  /** Compositional datasets. */
  attrs?: string[];
  objs?: string[];
  trainPairs?: Pair[];
  valPairs?: Pair[];
  testPairs?: Pair[];
  template: string;
  templates: string[];
  /** sha256 over every item of every split in order (see contentSha256). */
  contentSha256: string;
  license: 'generated';
}

export type ManifestHeader = Omit<WorldManifest, 'contentSha256'>;

function hashImage(h: ReturnType<typeof createHash>, img: RawImage): void {
  h.update(`${img.width}x${img.height}x${img.channels}\n`);
  h.update(img.data);
}

/**
 * sha256 over the whole dataset: for each split (train, val, test) and each item in order, a line
 * with the split and the item as JSON, then the image bytes (plus the label map of a segmentation
 * example, or every frame of a video).
 */
export function contentSha256(dataset: Dataset): string {
  const h = createHash('sha256');
  for (const split of SPLITS) {
    if (dataset.kind === 'classification') {
      for (const item of dataset.split(split)) {
        h.update(`${split} ${JSON.stringify(item)}\n`);
        hashImage(h, dataset.image(item, split));
      }
    } else if (dataset.kind === 'compositional') {
      for (const item of dataset.split(split)) {
        h.update(`${split} ${JSON.stringify(item)}\n`);
        hashImage(h, dataset.image(item, split));
      }
    } else if (dataset.kind === 'segmentation') {
      for (const item of dataset.split(split)) {
        h.update(`${split} ${JSON.stringify(item)}\n`);
        const ex = dataset.example(item, split);
        hashImage(h, ex.image);
        h.update(ex.labels);
      }
    } else {
      for (const item of dataset.split(split)) {
        h.update(`${split} ${JSON.stringify(item)}\n`);
        const frames = dataset.frames(item, split);
        h.update(`${frames.length} frames\n`);
        for (const f of frames) hashImage(h, f);
      }
    }
  }
  return h.digest('hex');
}

/** A world dataset: one of the Dataset kinds that can describe how it was generated. */
export type DescribedDataset = Dataset & { manifestHeader(): ManifestHeader };

/** The dataset's manifest, computed afresh (renders every item: seconds for a full benchmark). */
export function computeManifest(dataset: DescribedDataset): WorldManifest {
  const header = dataset.manifestHeader();
  const { license, ...rest } = header;
  return { ...rest, contentSha256: contentSha256(dataset), license };
}

/** Whether two headers describe the same generation (everything but the checksum agrees). */
export function sameHeader(a: ManifestHeader, b: ManifestHeader): boolean {
  const strip = (m: ManifestHeader) => {
    const copy: Partial<WorldManifest> = { ...m };
    delete copy.contentSha256;
    return formatJson(copy);
  };
  return strip(a) === strip(b);
}

/**
 * JSON with a fixed layout for readable diffs: keys in the order given, two-space indents, arrays and
 * objects of scalars on one line while they fit in 100 characters (so each pair of a pair list sits
 * on its own line), one element per line otherwise.
 */
export function formatJson(value: unknown, indent = ''): string {
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) {
      const one = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      if (indent.length + one.length <= 100) return one;
    }
    return `[\n${value.map((v) => inner + formatJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    if (entries.every(([, v]) => v === null || typeof v !== 'object')) {
      const one = `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`;
      if (indent.length + one.length <= 100) return one;
    }
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** The committed manifest of a world benchmark (full variant, seed 0), e.g. loadManifest('world-shapes'). */
export function loadManifest(name: string, dir = WORLD_MANIFEST_DIR): WorldManifest {
  const file = path.join(dir, `${name}.json`);
  if (!fs.existsSync(file)) {
    const have = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)) : [];
    throw new Error(`${file}: no manifest named "${name}" (have: ${have.join(', ') || 'none'}); write them with \`${WRITE_WORLD_MANIFESTS_COMMAND}\``);
  }
  const m = readJsonFile<WorldManifest>(file, 'manifest');
  const bad = (what: string) => new Error(`manifest ${file}: ${what}; restore it (git checkout) or rewrite the manifests with \`${WRITE_WORLD_MANIFESTS_COMMAND}\``);
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad('not a JSON object');
  if (m.id !== name) throw bad(`its id is ${JSON.stringify(m.id)}, not "${name}"`);
  if (typeof m.contentSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.contentSha256)) throw bad(`its contentSha256 is ${JSON.stringify(m.contentSha256)}, not 64 hex digits`);
  for (const key of ['seed', 'generatorVersion', 'benchmarkVersion'] as const) {
    if (!Number.isSafeInteger(m[key]) || m[key] < 0) throw bad(`its ${key} is ${JSON.stringify(m[key])}, not a whole number`);
  }
  if (typeof m.counts !== 'object' || m.counts === null || !(['train', 'val', 'test'] as const).every((k) => Number.isSafeInteger(m.counts[k]) && m.counts[k] >= 0)) throw bad('its counts are not whole numbers for train, val and test');
  return m;
}

/** Writes a manifest as `<dir>/<id>.json`; returns the path. */
export function writeManifest(manifest: WorldManifest, dir = WORLD_MANIFEST_DIR): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${manifest.id}.json`);
  writeFileAtomic(file, formatJson(manifest) + '\n');
  return file;
}
