// Video datasets from their split lists (lists.ts) and a folder of per-video data:
//
//   * frame features: one .npy per video, [T_video, D] (any float dtype), read as float32. The layout
//     follows ju-chen/Efficient-Prompt: feat/visfeat.py runs CLIP's encode_image (ViT-B/16, the
//     output after the projection, not normalised) on every decoded frame of a video at its own
//     frame rate and saves np.save(savepath + <video name without .avi> + '.npy') into ONE flat
//     folder (README: feat/HMDB/<video>.npy; src/config.py feature_root '../feat/HMDB';
//     src/data.py readFeatureHMDB51 opens self.root + vid.split('/')[1][:-4] + 'npy' for each
//     "<class>/<video>.avi" line of data/HMDB51/{train,test}_split01.txt and takes the class from
//     the line's folder; the class order is HMDB51_action.list, which is the folders' sorted order).
//     visfeat.py builds the array from Python floats (.tolist(), then np.array), so the files it
//     writes are float64 [T_video, 512]. Here the file is looked for at <root>/<video>.npy (that flat layout) and then
//     at <root>/<class>/<video>.npy.
//     Every file's header is read when the dataset loads (a missing file, a file that is not [T, D],
//     or a D unlike the others' is an error naming the file and the list line); the data are read
//     when asked for.
//   * frame folders: <root>/<class>/<video>/<frame>.jpg|jpeg|png (or <root>/<video>/...), the frames
//     in natural order (frame_2 before frame_10), uniformly sampled to numFrames: the centre frame of
//     each of numFrames equal segments (TSN's test-time sampling). A VideoDataset in all but its
//     manifest type (see VideoFrameFolderDataset).
//
// HMDB51 and UCF101 have no validation split: 'val' is the test list, as in Efficient-Prompt's
// src/data.py (mode 'val' reads the test list).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { decodeImage, type RawImage } from '../../clip/image';
import { confinedPath, readFileLimited } from '../../io/files';
import type { Rng } from '../../random';
import { SPLITS, type SplitName, type VideoDataset, type VideoItem } from '../dataset';
import { npyToFloat32, readNpy, readNpyHeader, roundHalfEven, type NpyHeader } from '../npy';
import { videoClassNames, type VideoListEntry, type VideoSplitLists } from './lists';

/** What a video folder dataset's run records cite. */
export interface VideoFolderManifest {
  id: string;
  kind: 'video' | 'video-features';
  source: 'folder';
  root: string;
  format: VideoSplitLists['format'];
  fold: number | null;
  /** The list files read. */
  lists: string[];
  counts: Record<SplitName, number>;
}

export interface VideoFolderOptions {
  /** The dataset's name (default: the root folder's name). */
  name?: string;
  /** Class id -> prompt name, or a JSON file of it (HMDB51_clsname.json); default: defaultClassName. */
  classNames?: Record<string, string> | string;
  template?: string;
  templates?: string[];
}

/** CoOp's UCF101 prompt (HMDB51 has none in CoOp; the same suits it). */
export const VIDEO_TEMPLATE = 'a photo of a person doing {}.';
export const VIDEO_TEMPLATES: readonly string[] = [VIDEO_TEMPLATE, 'a video of a person doing {}.', 'a video of a person {}.', 'a photo of a person {}.', 'an example of a person {}.'];

/** Frame features of one video: [frames, dim] row-major. */
export interface FrameFeatureArray {
  frames: number;
  dim: number;
  data: Float32Array;
}

export interface VideoFeatureDataset {
  kind: 'video-features';
  name: string;
  template: string;
  templates: string[];
  /** Prompt names, in label order. */
  classNames: string[];
  /** Folder names, in label order. */
  classIds: string[];
  /** D, the same for every video. */
  featureDim: number;
  split(name: SplitName): VideoItem[];
  /** The item's `<class>/<video>`. */
  video(item: VideoItem, split: SplitName): string;
  featureFile(item: VideoItem, split: SplitName): string;
  /** T_video, from the header read at load. */
  frameCount(item: VideoItem, split: SplitName): number;
  /** All frame features [T_video, D], as float32. */
  features(item: VideoItem, split: SplitName): FrameFeatureArray;
  /**
   * numFrames rows [numFrames, D] of the item's features: 'uniform' (the default: the centre of
   * each of numFrames equal segments, deterministic) or 'official' (Efficient-Prompt's random
   * sampling, see officialFrameIndices; needs rng).
   */
  clip(item: VideoItem, split: SplitName, numFrames: number, opts?: { sampling?: 'uniform' | 'official'; rng?: Rng }): Float32Array;
  /** A batch [items.length, numFrames, D] of clip(item) for each item, in order: a method's [B, T, D] input. */
  clips(items: readonly VideoItem[], split: SplitName, numFrames: number, opts?: { sampling?: 'uniform' | 'official'; rng?: Rng }): { data: Float32Array; shape: [number, number, number] };
  manifest: VideoFolderManifest;
}

/**
 * A VideoDataset read from frame folders. Its manifest is a VideoFolderManifest, which
 * dataset.ts's DatasetManifest union does not list yet; `asVideoDataset` hands it to code that takes
 * a VideoDataset.
 */
export interface VideoFrameFolderDataset extends Omit<VideoDataset, 'manifest'> {
  classIds: string[];
  video(item: VideoItem, split: SplitName): string;
  /** The numFrames frame files the item's frames are read from, in order (repeats where the video is shorter). */
  frameFiles(item: VideoItem, split: SplitName): string[];
  /** sha256 over the split's videos, labels and sampled frame files' bytes (no decoding): the frame-feature cache's data key. */
  checksum(split: SplitName): string;
  manifest: VideoFolderManifest;
}

/** A frame-folder dataset as a VideoDataset (its manifest typed loosely until DatasetManifest lists it). */
export function asVideoDataset(ds: VideoFrameFolderDataset): VideoDataset {
  return ds as unknown as VideoDataset;
}

// -------------------------------------------------------------------------------------- sampling

/** Compares strings with their digit runs as numbers: 'f2' < 'f10' < 'g1'; ties by code point. */
export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let k = 0; k < Math.min(ra.length, rb.length); k++) {
    const x = ra[k];
    const y = rb[k];
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const sx = x.replace(/^0+/, '');
      const sy = y.replace(/^0+/, '');
      if (sx.length !== sy.length) return sx.length - sy.length;
      if (sx !== sy) return sx < sy ? -1 : 1;
    } else if (x !== y) return x < y ? -1 : 1;
  }
  if (ra.length !== rb.length) return ra.length - rb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * count indices into total frames, uniformly: the centre of each of count equal segments,
 * floor((2i + 1) * total / (2 * count)). Shorter videos repeat frames, evenly.
 */
export function uniformFrameIndices(total: number, count: number): number[] {
  if (!Number.isSafeInteger(total) || total < 1) throw new Error(`uniformFrameIndices: a video of ${total} frames`);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`uniformFrameIndices: ${count} frames asked for`);
  return Array.from({ length: count }, (_, i) => Math.floor(((2 * i + 1) * total) / (2 * count)));
}

/** numpy.linspace(start, stop, num, endpoint=True, dtype=int) for start <= stop, both >= 0. */
function linspaceInt(start: number, stop: number, num: number): number[] {
  if (num <= 0) return [];
  const div = num - 1;
  const step = div > 0 ? (stop - start) / div : 0;
  const out = Array.from({ length: num }, (_, k) => Math.floor(k * step + start));
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** Efficient-Prompt's frame rates (src/config.py fpsR). */
export const OFFICIAL_FRAME_RATES: readonly number[] = [1, 1 / 2, 1 / 3, 1 / 3, 1 / 3, 1 / 4];

/**
 * Efficient-Prompt's temporal sampling (src/data.py readFeatureHMDB51: _select_indices and the
 * padding in __getitem__), with promptlab's generator in place of numpy's: videos of at most count
 * frames are padded with their last frame; longer ones pick a rate r from `rates`, take
 * round(r * total) evenly spaced indices (Python's round, halves to even) from a random offset
 * below 1 / r, fall back to every frame when that leaves count or fewer, and return count
 * consecutive ones from a random start.
 */
export function officialFrameIndices(total: number, count: number, rng: Rng, rates: readonly number[] = OFFICIAL_FRAME_RATES): number[] {
  if (!Number.isSafeInteger(total) || total < 1) throw new Error(`officialFrameIndices: a video of ${total} frames`);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`officialFrameIndices: ${count} frames asked for`);
  if (total <= count) return Array.from({ length: count }, (_, i) => Math.min(i, total - 1));
  const r = rng.pick(rates);
  let all = linspaceInt(rng.int(Math.floor(1 / r)), total - 1, roundHalfEven(r * total));
  if (all.length <= count) all = linspaceInt(0, total - 1, total);
  const start = rng.int(all.length - count);
  return all.slice(start, start + count);
}

/** Rows `indices` of features [frames, dim]. */
export function gatherFrames(f: FrameFeatureArray, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * f.dim);
  indices.forEach((t, i) => {
    if (!(t >= 0 && t < f.frames)) throw new Error(`gatherFrames: frame ${t} of ${f.frames}`);
    out.set(f.data.subarray(t * f.dim, (t + 1) * f.dim), i * f.dim);
  });
  return out;
}

// -------------------------------------------------------------------------------------- datasets

type Splits<T> = Record<SplitName, T[]>;

/** The lists' entries per split ('val' is the test list). */
function entriesBySplit(lists: VideoSplitLists): Splits<VideoListEntry> {
  return { train: lists.train, val: lists.test, test: lists.test };
}

function checkItem(name: string, items: VideoItem[], item: VideoItem, split: SplitName): number {
  const own = items[item?.index];
  if (!own || own.label !== item.label) throw new Error(`${name}: ${JSON.stringify(item)} is not an item of the ${split} split (${items.length} items; take items from split('${split}'))`);
  return item.index;
}

function folderName(root: string, name?: string): string {
  return name ?? path.basename(path.resolve(root));
}

/** The first candidate path (relative to root) that exists, or undefined. */
function firstExisting(root: string, candidates: string[], what: string, where: string, isDir: boolean): string | undefined {
  for (const rel of candidates) {
    let full: string;
    try {
      full = confinedPath(root, rel, what);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(full);
    } catch {
      continue;
    }
    if (isDir ? st.isDirectory() : true) return full;
  }
  return undefined;
}

/**
 * A dataset of per-video frame features (.npy [T_video, D]) under root, for the videos of `lists`.
 * See the header for where each file is looked for.
 */
export function loadVideoFeatures(lists: VideoSplitLists, root: string, opts: VideoFolderOptions & { maxBytes?: number } = {}): VideoFeatureDataset {
  const name = folderName(root, opts.name);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`frame feature folder ${root} does not exist or is not a folder`);
  const bySplit = entriesBySplit(lists);
  const headers = new Map<string, NpyHeader>();
  let dim = -1;
  let dimFile = '';
  const resolve = (e: VideoListEntry): string => {
    const base = e.video.slice(e.video.indexOf('/') + 1);
    const candidates = [`${base}.npy`, `${e.video}.npy`];
    const file = firstExisting(root, candidates, 'feature file', e.source, false);
    if (!file) throw new Error(`${e.source}: no frame features for ${e.video}: neither ${candidates.map((c) => path.join(root, c)).join(' nor ')} exists`);
    if (!headers.has(file)) {
      const h = readNpyHeader(file, { maxBytes: opts.maxBytes });
      if (!h.dtype.startsWith('<f')) throw new Error(`${file}: frame features of dtype ${h.dtype}; float features ([T, D]) are expected (from ${e.source})`);
      if (h.shape.length !== 2 || h.shape[0] < 1 || h.shape[1] < 1) throw new Error(`${file}: frame features of shape [${h.shape.join(', ')}]; [T, D] with T, D >= 1 is expected (from ${e.source})`);
      if (dim < 0) {
        dim = h.shape[1];
        dimFile = file;
      } else if (h.shape[1] !== dim) {
        throw new Error(`${file}: frame features of dimension ${h.shape[1]}, but ${dimFile} has ${dim}; every video's features must have the same dimension (from ${e.source})`);
      }
      headers.set(file, h);
    }
    return file;
  };
  const files = {} as Splits<string>;
  const items = {} as Splits<VideoItem>;
  for (const s of SPLITS) {
    const seen = new Map<string, string>();
    files[s] = bySplit[s].map((e) => {
      const f = resolve(e);
      const other = seen.get(f);
      if (other) throw new Error(`${e.source}: ${e.video} reads ${f}, as ${other} does; each video needs its own features`);
      seen.set(f, e.source);
      return f;
    });
    items[s] = bySplit[s].map((e, index) => Object.freeze({ index, label: e.label }));
  }
  if (dim < 0) throw new Error(`${lists.files.join(', ')}: no videos`);
  const classNames = videoClassNames(lists.classIds, opts.classNames);
  const template = opts.template ?? VIDEO_TEMPLATE;

  const features = (item: VideoItem, split: SplitName): FrameFeatureArray => {
    const file = files[split][checkItem(name, items[split], item, split)];
    const h = headers.get(file) as NpyHeader;
    const arr = readNpy(file, { maxBytes: opts.maxBytes });
    if (arr.shape.length !== 2 || arr.shape[0] !== h.shape[0] || arr.shape[1] !== h.shape[1]) {
      throw new Error(`${file}: now of shape [${arr.shape.join(', ')}], [${h.shape.join(', ')}] when the dataset was loaded`);
    }
    return { frames: h.shape[0], dim: h.shape[1], data: npyToFloat32(arr) };
  };
  const clip: VideoFeatureDataset['clip'] = (item, split, numFrames, o = {}) => {
    const f = features(item, split);
    let idx: number[];
    if ((o.sampling ?? 'uniform') === 'official') {
      if (!o.rng) throw new Error(`${name}: official sampling draws at random; pass an rng`);
      idx = officialFrameIndices(f.frames, numFrames, o.rng);
    } else idx = uniformFrameIndices(f.frames, numFrames);
    return gatherFrames(f, idx);
  };
  return {
    kind: 'video-features',
    name,
    template,
    templates: opts.templates?.slice() ?? (opts.template ? [opts.template] : VIDEO_TEMPLATES.slice()),
    classNames,
    classIds: lists.classIds.slice(),
    featureDim: dim,
    split: (s: SplitName) => (checkSplitName(s), items[s].slice()),
    video: (item, split) => bySplit[split][checkItem(name, items[split], item, split)].video,
    featureFile: (item, split) => files[split][checkItem(name, items[split], item, split)],
    frameCount: (item, split) => (headers.get(files[split][checkItem(name, items[split], item, split)]) as NpyHeader).shape[0],
    features,
    clip,
    clips(batch, split, numFrames, o = {}) {
      const data = new Float32Array(batch.length * numFrames * dim);
      batch.forEach((item, b) => data.set(clip(item, split, numFrames, o), b * numFrames * dim));
      return { data, shape: [batch.length, numFrames, dim] };
    },
    manifest: manifestOf(name, 'video-features', root, lists, items),
  };
}

function checkSplitName(s: string): void {
  if (!(SPLITS as readonly string[]).includes(s)) throw new Error(`unknown split "${s}" (expected train, val or test)`);
}

function manifestOf(name: string, kind: VideoFolderManifest['kind'], root: string, lists: VideoSplitLists, items: Splits<VideoItem>): VideoFolderManifest {
  return {
    id: lists.fold === null ? name : `${name}-fold${lists.fold}`,
    kind,
    source: 'folder',
    root: path.resolve(root),
    format: lists.format,
    fold: lists.fold,
    lists: lists.files.map((f) => path.resolve(f)),
    counts: { train: items.train.length, val: items.val.length, test: items.test.length },
  };
}

const FRAME_PATTERN = /\.(jpe?g|png)$/i;
/** A frame image larger than this is not a video frame. */
export const FRAME_MAX_BYTES = 64 * 1024 * 1024;

/** The frame files of a video folder, in natural order. */
export function listFrames(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => (d.isFile() || d.isSymbolicLink()) && FRAME_PATTERN.test(d.name))
    .map((d) => d.name)
    .sort(naturalCompare);
}

/**
 * A video dataset of frame folders under root, for the videos of `lists`: each video's frames in
 * natural order, sampled uniformly to numFrames (default 16, Efficient-Prompt's numFrames).
 */
export function loadVideoFrames(lists: VideoSplitLists, root: string, opts: VideoFolderOptions & { numFrames?: number } = {}): VideoFrameFolderDataset {
  const name = folderName(root, opts.name);
  const numFrames = opts.numFrames ?? 16;
  if (!Number.isSafeInteger(numFrames) || numFrames < 1) throw new Error(`${name}: numFrames must be a positive integer, got ${numFrames}`);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`video frame folder ${root} does not exist or is not a folder`);
  const bySplit = entriesBySplit(lists);
  const sampled = new Map<string, string[]>(); // video folder -> its numFrames frame files
  const folderOf = (e: VideoListEntry): string => {
    const base = e.video.slice(e.video.indexOf('/') + 1);
    const candidates = [e.video, base];
    const dir = firstExisting(root, candidates, 'video folder', e.source, true);
    if (!dir) throw new Error(`${e.source}: no frame folder for ${e.video}: neither ${candidates.map((c) => path.join(root, c)).join(' nor ')} is a folder`);
    if (!sampled.has(dir)) {
      const frames = listFrames(dir);
      if (frames.length === 0) throw new Error(`${e.source}: ${dir} holds no .jpg or .png frames`);
      // a frame may be a link, but not to anything outside root
      sampled.set(dir, uniformFrameIndices(frames.length, numFrames).map((i) => confinedPath(root, path.relative(root, path.join(dir, frames[i])), 'frame')));
    }
    return dir;
  };
  const dirs = {} as Splits<string>;
  const items = {} as Splits<VideoItem>;
  for (const s of SPLITS) {
    dirs[s] = bySplit[s].map(folderOf);
    items[s] = bySplit[s].map((e, index) => Object.freeze({ index, label: e.label }));
  }
  const template = opts.template ?? VIDEO_TEMPLATE;
  const frameFiles = (item: VideoItem, split: SplitName) => (sampled.get(dirs[split][checkItem(name, items[split], item, split)]) as string[]).slice();
  return {
    kind: 'video',
    name,
    template,
    templates: opts.templates?.slice() ?? (opts.template ? [opts.template] : VIDEO_TEMPLATES.slice()),
    classNames: videoClassNames(lists.classIds, opts.classNames),
    classIds: lists.classIds.slice(),
    numFrames,
    split: (s: SplitName) => (checkSplitName(s), items[s].slice()),
    video: (item, split) => bySplit[split][checkItem(name, items[split], item, split)].video,
    frameFiles,
    frames(item: VideoItem, split: SplitName): RawImage[] {
      return frameFiles(item, split).map((f) => {
        const bytes = readFileLimited(f, FRAME_MAX_BYTES, 'video frame');
        return decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), f);
      });
    },
    checksum(split: SplitName): string {
      checkSplitName(split);
      const h = createHash('sha256');
      h.update(`${name} ${split} ${numFrames} frames\n`);
      for (const item of items[split]) {
        h.update(`${bySplit[split][item.index].video} ${item.label}\n`);
        for (const f of frameFiles(item, split)) {
          h.update(`${path.basename(f)}\n`);
          h.update(readFileLimited(f, FRAME_MAX_BYTES, 'video frame'));
        }
      }
      return h.digest('hex');
    },
    manifest: manifestOf(name, 'video', root, lists, items),
  };
}

