// The training transform of CoOp and CoCoOp (Dassl's build_transform for INPUT.TRANSFORMS
// ["random_resized_crop", "random_flip", "normalize"]):
//   RandomResizedCrop(size, scale = (0.08, 1), ratio = (3/4, 4/3), bicubic) -> RandomHorizontalFlip(0.5)
//   -> ToTensor -> Normalize(CLIP mean, std)
// with a seeded random stream instead of torch's global generator. Without "random_resized_crop",
// Dassl resizes to size x size (Resize(INPUT.SIZE), bicubic; the aspect ratio is not kept), then flips. The crop box follows torchvision's
// RandomResizedCrop.get_params; the crop is then resized to size x size with the same PIL bicubic
// resampling (`resize`) and normalised with the same float32 steps (`toClipInput`) as the test transform.
import type { RawImage } from '../clip/image';
import { CLIP_MEAN, CLIP_STD, cropRaw, resize, roundHalfEven, toClipInput } from '../clip/preprocess';

/** A crop box in pixels (torchvision's i, j, h, w). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export interface AugmentOptions {
  /** Fraction of the image area the crop covers, sampled uniformly; default [0.08, 1]; null: no random crop (the image resized to size x size). */
  scale?: readonly [number, number] | null;
  /** Aspect ratio w / h of the crop, sampled log-uniformly; default [3/4, 4/3]. */
  ratio?: readonly [number, number];
  /** Probability of a horizontal flip; default 0.5 (0 disables it). */
  flipProbability?: number;
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
}

/** torch.randint(0, n) from a uniform [0, 1) stream. */
function randint(rng: () => number, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}

/**
 * torchvision's RandomResizedCrop.get_params: up to 10 tries of a target area (uniform in `scale`
 * times the image area) and an aspect ratio (log-uniform in `ratio`), w = round(sqrt(area * r)),
 * h = round(sqrt(area / r)), accepted when it fits, at a uniform position; otherwise a centre crop of
 * the whole image clamped to the ratio range.
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: () => number,
  scale: readonly [number, number] = [0.08, 1],
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): CropBox {
  if (!(width >= 1 && height >= 1)) throw new Error(`randomResizedCropBox: invalid image size ${width}x${height}`);
  if (!(scale[0] <= scale[1]) || !(ratio[0] <= ratio[1]) || !(ratio[0] > 0)) {
    throw new Error(`randomResizedCropBox: invalid scale [${scale}] or ratio [${ratio}]`);
  }
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng());
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = randint(rng, height - h + 1);
      const left = randint(rng, width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) {
    h = roundHalfEven(w / ratio[0]);
  } else if (inRatio > ratio[1]) {
    w = roundHalfEven(h * ratio[1]);
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** PIL's Image.crop for a box inside the image. */
export function cropImage(img: RawImage, box: CropBox): RawImage {
  const { top, left, height: h, width: w } = box;
  if (top < 0 || left < 0 || w < 1 || h < 1 || left + w > img.width || top + h > img.height) {
    throw new Error(`cropImage: box ${w}x${h}+${left}+${top} is not inside the ${img.width}x${img.height} image`);
  }
  return { width: w, height: h, channels: img.channels, data: cropRaw(img.data, img.width, img.channels, { x0: left, y0: top, w, h }) };
}

/** Mirror left-right. */
export function flipHorizontal(img: RawImage): RawImage {
  const { width: w, height: h, channels: ch } = img;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++) {
    const row = y * w * ch;
    for (let x = 0; x < w; x++) {
      const s = row + x * ch;
      const d = row + (w - 1 - x) * ch;
      for (let c = 0; c < ch; c++) out[d + c] = img.data[s + c];
    }
  }
  return { width: w, height: h, channels: ch, data: out };
}

/** Dassl reads every image with PIL's convert('RGB'): RGBA loses its alpha (no compositing) before any transform. */
function dropAlpha(img: RawImage): RawImage {
  if (img.channels !== 4) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = img.data[i * 4];
    out[i * 3 + 1] = img.data[i * 4 + 1];
    out[i * 3 + 2] = img.data[i * 4 + 2];
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/**
 * One training view of an image: random resized crop to size x size (bicubic; or, with `scale: null`,
 * the whole image resized to size x size), a random horizontal flip, normalised. Returns CHW
 * [3, size, size]. Draws from `rng` in torchvision's order: the crop's area and ratio (per attempt),
 * its top, its left, then the flip.
 */
export function augmentImage(img: RawImage, size: number, rng: () => number, opts: AugmentOptions = {}): Float32Array {
  if (!Number.isInteger(size) || size < 1) throw new Error(`augmentImage: invalid size ${size}`);
  const p = opts.flipProbability ?? 0.5;
  const norm = { size, mean: opts.mean ?? CLIP_MEAN, std: opts.std ?? CLIP_STD };
  const rgb = dropAlpha(img);
  let view = opts.scale === null
    ? (rgb.width === size && rgb.height === size ? rgb : resize(rgb, size, size))
    : resize(cropImage(rgb, randomResizedCropBox(rgb.width, rgb.height, rng, opts.scale, opts.ratio)), size, size);
  if (p > 0 && rng() < p) view = flipHorizontal(view);
  // The view is size x size already, so the test transform's resize and centre crop are identities
  // and toClipInput only converts to RGB and normalises.
  return toClipInput(view, norm);
}
