// Frozen frame features of video clips: every frame of a split's clips [N, T] through the frozen
// image tower (the test transform, as SplitFeatures does for images, through the same
// eval/features.ts encodeImages), giving [N, T, D], the image encoder's raw output (video prompting's
// temporal model reads it unnormalised, as Efficient-Prompt's feat/visfeat.py saves it).
//
// Computed once per (model, data) and kept on disk, so later runs, seeds and methods read them back:
//   <cacheDir>/<dataset>-<split>-<key 16 hex>.npy    float32 [N, T, D] (the npy.ts format)
//   <cacheDir>/<dataset>-<split>-<key 16 hex>.json   what the key was made of, and the full key
// The key is the sha256 of: the model's checksum (its config and the image tower's weights, or one
// the caller gives, e.g. from repro/record.ts describeModel), the data's checksum for the split (a
// world dataset's manifest contentSha256, a frame-folder dataset's checksum of its frame files, or
// else a hash of the split's frames), the split, the counts and this file's format version. A
// different model or different data gives a different key, hence a different file: the old
// features are never read for them. Both files are written atomically (io/files.ts); a file that
// does not read back as [N, T, D] float32 with the key recorded beside it is a miss and is
// recomputed. The default cacheDir is the user cache (PROMPTLAB_CACHE, else ~/.cache/promptlab)
// under frame-features/. The disk layer (featureCacheFile, loadCachedFeatures, saveCachedFeatures)
// knows nothing of clips: repro/features-cache.ts's SplitFeatures, which keeps image features in
// memory only, can put its [N, E] features on disk through the same three functions.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { RawImage } from '../clip/image';
import type { ClipModel } from '../clip/model';
import { encodeImages } from '../eval/features';
import { READ_LIMITS, readJsonFile, removeStaleTemporaries, writeFileAtomic } from '../io/files';
import type { SplitName } from './dataset';
import { userCacheDir } from './fetch';
import { readNpy, writeNpy } from './npy';

/** Bumped when what is cached changes meaning (the transform, the layout). */
export const FRAME_FEATURES_FORMAT = 1;

/** A dataset of clips in splits: world-motion, a frame-folder video dataset. */
export interface ClipSplits<I extends { index: number } = { index: number; label: number }> {
  name: string;
  /** Frames per clip (T). */
  numFrames: number;
  split(name: SplitName): I[];
  frames(item: I, split: SplitName): RawImage[];
  /** A frame-folder dataset's own checksum of a split (video/datasets.ts). */
  checksum?(split: SplitName): string;
  /** A world dataset's manifest, whose contentSha256 covers every item. */
  readonly manifest?: unknown;
}

/** Where frame features are cached by default: the user cache's frame-features/. */
export function frameFeatureCacheDir(): string {
  return path.join(userCacheDir(), 'frame-features');
}

const modelChecksums = new WeakMap<ClipModel, string>();

/**
 * sha256 over the model's config and its image tower's weights (every `visual.*` tensor of the state
 * dict, by name, shape and float32 bytes): what decides the frame features. Computed once per model.
 */
export function modelChecksum(model: ClipModel): string {
  let c = modelChecksums.get(model);
  if (!c) {
    const h = createHash('sha256');
    h.update(`config ${JSON.stringify(model.config)}\n`);
    const sd = model.stateDict();
    for (const key of [...sd.keys()].filter((k) => k.startsWith('visual.')).sort()) {
      const t = sd.get(key)!;
      h.update(`${key} [${t.shape.join(',')}]\n`);
      h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    }
    c = h.digest('hex');
    modelChecksums.set(model, c);
  }
  return c;
}

/**
 * The checksum of a split's data: the dataset's own checksum(split) where it has one, else its
 * manifest's contentSha256 (a world dataset: every split's items and pixels), else sha256 over the
 * split's items and every frame's pixels.
 */
export function clipDataChecksum<I extends { index: number }>(ds: ClipSplits<I>, split: SplitName): string {
  if (typeof ds.checksum === 'function') return ds.checksum(split);
  const m = ds.manifest as { contentSha256?: unknown } | undefined;
  if (m && typeof m.contentSha256 === 'string' && /^[0-9a-f]{64}$/.test(m.contentSha256)) return `${m.contentSha256} (dataset manifest)`;
  const h = createHash('sha256');
  for (const item of ds.split(split)) {
    h.update(`${split} ${JSON.stringify(item)}\n`);
    const frames = ds.frames(item, split);
    h.update(`${frames.length} frames\n`);
    for (const f of frames) {
      h.update(`${f.width}x${f.height}x${f.channels}\n`);
      h.update(f.data);
    }
  }
  return h.digest('hex');
}

/**
 * Frame features [count, T, D] of count clips of T frames each (the test transform, the image
 * encoder's raw output), through encodeImages in batches of frames. `clip(i)` gives clip i's frames.
 */
export function encodeClips(
  model: ClipModel,
  count: number,
  clip: (i: number) => RawImage[],
  numFrames: number,
  opts: { batchSize?: number; onBatch?: (doneFrames: number, totalFrames: number) => void } = {},
): tf.Tensor3D {
  if (!Number.isSafeInteger(numFrames) || numFrames < 1) throw new Error(`encodeClips: ${numFrames} frames per clip`);
  const dim = model.config.embedDim;
  if (count === 0) return tf.zeros([0, numFrames, dim]) as tf.Tensor3D;
  let at = -1;
  let frames: RawImage[] = [];
  const frame = (j: number): RawImage => {
    const i = Math.floor(j / numFrames);
    if (i !== at) {
      frames = clip(i);
      at = i;
      if (frames.length !== numFrames) throw new Error(`encodeClips: clip ${i} has ${frames.length} frames, not ${numFrames}`);
    }
    return frames[j % numFrames];
  };
  const { features } = encodeImages(model, count * numFrames, frame, () => 0, { normalize: false, batchSize: opts.batchSize, onBatch: opts.onBatch });
  const out = features.reshape([count, numFrames, dim]) as tf.Tensor3D;
  features.dispose();
  return out;
}

/**
 * Frame features [N, T, D] of clips already transformed to the image tower's input: pixels
 * [N, T, 3, R, R] (normalised NCHW frames), encoded in batches of frames.
 */
export function encodeClipPixels(model: ClipModel, pixels: tf.Tensor5D, opts: { batchSize?: number } = {}): tf.Tensor3D {
  const [n, t, c, h, w] = pixels.shape;
  const r = model.config.imageResolution;
  if (c !== 3 || h !== r || w !== r) throw new Error(`encodeClipPixels: clips of shape [${pixels.shape.join(', ')}]; [N, T, 3, ${r}, ${r}] expected`);
  const dim = model.config.embedDim;
  if (n * t === 0) return tf.zeros([n, t, dim]) as tf.Tensor3D;
  const batch = opts.batchSize ?? 128;
  const flat = pixels.reshape([n * t, 3, r, r]) as tf.Tensor4D;
  const parts: tf.Tensor2D[] = [];
  for (let s = 0; s < n * t; s += batch) {
    const m = Math.min(batch, n * t - s);
    parts.push(tf.tidy(() => model.encodeImage(flat.slice([s, 0, 0, 0], [m, 3, r, r]) as tf.Tensor4D)));
  }
  flat.dispose();
  const out = tf.tidy(() => tf.concat(parts, 0).reshape([n, t, dim]) as tf.Tensor3D);
  tf.dispose(parts);
  return out;
}

/**
 * The disk cache under the frame features, usable for any float32 features: an entry is
 * <dir>/<stem>-<16 hex of the key's sha256>.npy (float32, the npy.ts format) plus a .json record of
 * the key and its full sha256, written after the data (both atomically). A lookup hits only when the
 * record holds the same sha256 and the array has the expected shape.
 */
export function featureCacheFile(dir: string, stem: string, key: object): string {
  const safe = stem.replace(/[^A-Za-z0-9._-]/g, '_');
  return path.join(dir, `${safe}-${keyHash(key).slice(0, 16)}.npy`);
}

/** The cached features of `key` ([shape] float32), or null on a miss; why an entry was not used is logged. */
export function loadCachedFeatures(dir: string, stem: string, key: object, shape: readonly number[], log?: (line: string) => void): Float32Array | null {
  const file = featureCacheFile(dir, stem, key);
  const record = file.replace(/\.npy$/, '.json');
  if (!fs.existsSync(file) || !fs.existsSync(record)) return null;
  try {
    const recorded = readJsonFile<{ key?: string }>(record, 'feature cache record', READ_LIMITS.json);
    if (recorded?.key !== keyHash(key)) {
      log?.(`  ${file}: recorded for another key; recomputing`);
      return null;
    }
    const arr = readNpy(file);
    if (arr.dtype !== '<f4' || arr.shape.join(',') !== shape.join(',')) {
      log?.(`  ${file}: ${arr.dtype} [${arr.shape.join(', ')}], not <f4 [${shape.join(', ')}]; recomputing`);
      return null;
    }
    return arr.data as Float32Array;
  } catch (e) {
    log?.(`  ${file}: unreadable (${(e as Error).message}); recomputing`);
    return null;
  }
}

/** Writes a cache entry (data, then its record; each atomically); returns the .npy file. */
export function saveCachedFeatures(dir: string, stem: string, key: object, shape: readonly number[], data: Float32Array): string {
  const file = featureCacheFile(dir, stem, key);
  removeStaleTemporaries(dir);
  writeNpy(file, { shape: shape.slice(), dtype: '<f4', data });
  // the record last: an entry without it is a miss
  writeFileAtomic(file.replace(/\.npy$/, '.json'), `${JSON.stringify({ key: keyHash(key), ...key }, null, 2)}\n`);
  return file;
}

function keyHash(key: object): string {
  return createHash('sha256').update(JSON.stringify(key)).digest('hex');
}

export interface FrameFeatureOptions {
  /** Where the features are cached; null: memory only. Default: frameFeatureCacheDir(). */
  cacheDir?: string | null;
  /** The model's checksum, when the caller has one (e.g. of its files); default modelChecksum(model). */
  modelChecksum?: string;
  /** The data's checksum of a split; default clipDataChecksum. */
  dataChecksum?: (split: SplitName) => string;
  /** Frames per encoder batch. */
  batchSize?: number;
  log?: (line: string) => void;
}

/** What a cache entry's key is made of (its .json sidecar holds this and the key). */
export interface FrameFeatureKey {
  format: 'promptlab-frame-features';
  version: number;
  model: string;
  data: string;
  dataset: string;
  split: SplitName;
  clips: number;
  numFrames: number;
  embedDim: number;
  imageResolution: number;
  transform: string;
}

/**
 * A dataset's frame features [N, T, D] per split, computed once with the frozen image tower and
 * cached on disk (see the header), then in memory. `stats` counts what raw() did: encoded, or read
 * from the disk cache.
 */
export class FrameFeatures<I extends { index: number } = { index: number; label: number }> {
  private readonly memory = new Map<SplitName, tf.Tensor3D>();
  readonly stats = { computed: 0, loaded: 0 };
  private readonly cacheDir: string | null;

  constructor(readonly model: ClipModel, readonly ds: ClipSplits<I>, private readonly opts: FrameFeatureOptions = {}) {
    this.cacheDir = opts.cacheDir === undefined ? frameFeatureCacheDir() : opts.cacheDir;
  }

  /** The cache entry's key record for a split (computes the checksums). */
  key(split: SplitName): FrameFeatureKey {
    return {
      format: 'promptlab-frame-features',
      version: FRAME_FEATURES_FORMAT,
      model: this.opts.modelChecksum ?? modelChecksum(this.model),
      data: this.opts.dataChecksum ? this.opts.dataChecksum(split) : clipDataChecksum(this.ds, split),
      dataset: this.ds.name,
      split,
      clips: this.ds.split(split).length,
      numFrames: this.ds.numFrames,
      embedDim: this.model.config.embedDim,
      imageResolution: this.model.config.imageResolution,
      transform: 'CLIP test transform (bicubic resize of the shorter side, centre crop, CLIP mean/std); encodeImage output, not normalised',
    };
  }

  /** The cache file (.npy) of a split, or null without a cache folder. */
  cacheFile(split: SplitName): string | null {
    return this.cacheDir === null ? null : this.fileOf(this.key(split));
  }

  private stem(split: SplitName): string {
    return `${this.ds.name}-${split}`;
  }

  private shapeOf(key: FrameFeatureKey): [number, number, number] {
    return [key.clips, key.numFrames, key.embedDim];
  }

  /** Frame features [N, T, D] of the whole split, in split order (not normalised). */
  raw(split: SplitName): tf.Tensor3D {
    let f = this.memory.get(split);
    if (f) return f;
    const key = this.cacheDir === null ? null : this.key(split);
    const cached = key ? loadCachedFeatures(this.cacheDir as string, this.stem(split), key, this.shapeOf(key), this.opts.log) : null;
    if (key && cached) {
      f = tf.tensor3d(cached, this.shapeOf(key));
      this.stats.loaded++;
      this.opts.log?.(`  ${this.ds.name}: ${split} frame features from the cache (${path.basename(this.fileOf(key))})`);
    } else {
      const items = this.ds.split(split);
      this.opts.log?.(`  ${this.ds.name}: encoding ${items.length} ${split} clips of ${this.ds.numFrames} frames`);
      f = encodeClips(this.model, items.length, (i) => this.ds.frames(items[i], split), this.ds.numFrames, { batchSize: this.opts.batchSize });
      this.stats.computed++;
      if (key) {
        const file = saveCachedFeatures(this.cacheDir as string, this.stem(split), key, f.shape, f.dataSync() as Float32Array);
        this.opts.log?.(`  ${this.ds.name}: ${split} frame features cached in ${file}`);
      }
    }
    this.memory.set(split, f);
    return f;
  }

  /** Frame features of some items of a split (by their index in the split), in the order given. */
  rawOf(split: SplitName, items: readonly { index: number }[]): tf.Tensor3D {
    const all = this.raw(split);
    return tf.tidy(() => tf.gather(all, tf.tensor1d(items.map((it) => it.index), 'int32')) as tf.Tensor3D);
  }

  private fileOf(key: FrameFeatureKey): string {
    return featureCacheFile(this.cacheDir as string, this.stem(key.split), key);
  }

  dispose(): void {
    for (const f of this.memory.values()) f.dispose();
    this.memory.clear();
  }
}
