// CLIP's image transform, mirroring the reference (torchvision on PIL) number for number:
//
//   Resize(N, BICUBIC)  shorter side to N, longer side int(N * long / short) (torchvision), resampled
//                       by PIL's antialiased bicubic in 8-bit fixed point (Resample.c): separable,
//                       horizontal pass then vertical pass (vertical first for very tall images, as
//                       Image.resize does), a = -0.5, support 2 widened by the downscale factor,
//                       coefficients normalised and rounded to 22 fractional bits, each pass rounded
//                       and clipped to uint8. RGBA is resized premultiplied (RGBa), then unpremultiplied.
//   CenterCrop(N)       offsets int(round((h - N) / 2)) with Python's round (half to even); zero padding
//                       first if the image is smaller than N.
//   convert('RGB')      L replicated, RGBA's alpha dropped without compositing.
//   ToTensor, Normalize float32: ((v / 255) - mean) / std, each step rounded to float32 as torch does.
//
// Everything acts on the image in its own mode, as PIL does, so an RGBA image keeps its alpha until the
// very end and its transparent pixels come out dark.
import { decodeImage, loadImage } from './image';
import type { RawImage } from './image';

export { decodeImage, loadImage };
export type { RawImage };

export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

/** PIL's bicubic kernel (a = -0.5). */
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coeffs {
  ksize: number;
  /** per output index: first input index, number of taps */
  bounds: Int32Array;
  /** outSize * ksize fixed-point weights */
  kk: Int32Array;
}

/** PIL's precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize]. */
function precomputeCoeffs(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      kk[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** An output window [x0, x0 + w) x [y0, y0 + h) of a resize: every output pixel is computed on its own,
 * so resizing only the window gives exactly the pixels that cropping the full resize would. */
export interface Window {
  x0: number;
  y0: number;
  w: number;
  h: number;
}

/**
 * Horizontal pass: source rows [y0, y0 + rows) of src (w wide, ch channels) to output columns
 * [win.x0, win.x0 + win.w) of a resize to outW columns.
 */
function resampleHorizontal(
  src: Uint8Array,
  w: number,
  ch: number,
  y0: number,
  rows: number,
  outW: number,
  x0: number,
  cols: number,
): Uint8Array {
  const { ksize, bounds, kk } = precomputeCoeffs(w, outW);
  const out = new Uint8Array(cols * rows * ch);
  for (let y = 0; y < rows; y++) {
    const rowIn = (y0 + y) * w * ch;
    const rowOut = y * cols * ch;
    for (let j = 0; j < cols; j++) {
      const xx = x0 + j;
      const xmin = bounds[xx * 2];
      const n = bounds[xx * 2 + 1];
      const kb = xx * ksize;
      let p = rowIn + xmin * ch;
      const o = rowOut + j * ch;
      if (ch === 1) {
        let s0 = HALF;
        for (let x = 0; x < n; x++) s0 += src[p + x] * kk[kb + x];
        out[o] = clip8(s0);
      } else if (ch === 3) {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0; x < n; x++, p += 3) {
          const c = kk[kb + x];
          s0 += src[p] * c;
          s1 += src[p + 1] * c;
          s2 += src[p + 2] * c;
        }
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      } else {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let s3 = HALF;
        for (let x = 0; x < n; x++, p += 4) {
          const c = kk[kb + x];
          s0 += src[p] * c;
          s1 += src[p + 1] * c;
          s2 += src[p + 2] * c;
          s3 += src[p + 3] * c;
        }
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
        out[o + 3] = clip8(s3);
      }
    }
  }
  return out;
}

/**
 * Vertical pass: src holds source rows [rowOffset, ...), srcW pixels wide, of which columns
 * [x0, x0 + cols) are kept; output rows [y0, y0 + rows) of a resize with the given coefficients.
 */
function resampleVertical(
  src: Uint8Array,
  srcW: number,
  ch: number,
  coeffs: Coeffs,
  rowOffset: number,
  y0: number,
  rows: number,
  x0: number,
  cols: number,
): Uint8Array {
  const { ksize, bounds, kk } = coeffs;
  const srcStride = srcW * ch;
  const stride = cols * ch;
  const first = x0 * ch;
  const out = new Uint8Array(stride * rows);
  const acc = new Float64Array(stride); // integer sums below 2^31: exact, and faster than Int32Array in V8
  for (let j = 0; j < rows; j++) {
    const yy = y0 + j;
    const ymin = bounds[yy * 2] - rowOffset;
    const n = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const c = kk[kb + y];
      const r = (ymin + y) * srcStride + first;
      for (let i = 0; i < stride; i++) acc[i] += src[r + i] * c;
    }
    const o = j * stride;
    for (let i = 0; i < stride; i++) out[o + i] = clip8(acc[i]);
  }
  return out;
}

/** The pixels of a window of an HWC image of width w with ch channels. */
export function cropRaw(data: Uint8Array, w: number, ch: number, win: Window): Uint8Array {
  const out = new Uint8Array(win.w * win.h * ch);
  for (let y = 0; y < win.h; y++) {
    const s = ((win.y0 + y) * w + win.x0) * ch;
    out.set(data.subarray(s, s + win.w * ch), y * win.w * ch);
  }
  return out;
}

/**
 * ImagingResampleInner for an 8-bit image with the whole image as box (horizontal pass first, on only
 * the source rows the vertical pass reads), restricted to the output window `win`.
 */
function resampleRaw(data: Uint8Array, w: number, h: number, ch: number, outW: number, outH: number, win: Window): Uint8Array {
  const needH = outW !== w;
  const needV = outH !== h;
  if (!needH && !needV) return cropRaw(data, w, ch, win);
  const vert = precomputeCoeffs(h, outH);
  if (!needH) return resampleVertical(data, w, ch, vert, 0, win.y0, win.h, win.x0, win.w);
  if (!needV) {
    const rows = resampleHorizontal(data, w, ch, win.y0, win.h, outW, win.x0, win.w);
    return rows;
  }
  const last = win.y0 + win.h - 1;
  const yFirst = vert.bounds[win.y0 * 2];
  const yLast = vert.bounds[last * 2] + vert.bounds[last * 2 + 1];
  const tmp = resampleHorizontal(data, w, ch, yFirst, yLast - yFirst, outW, win.x0, win.w);
  return resampleVertical(tmp, win.w, ch, vert, yFirst, win.y0, win.h, 0, win.w);
}

/** PIL's MULDIV255: (a * b + 127) / 255, rounded the way Pillow does it. */
function mulDiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

function checkImage(img: RawImage, fn: string): void {
  const { width: w, height: h, channels: ch } = img;
  if (!(ch === 1 || ch === 3 || ch === 4)) throw new Error(`${fn}: unsupported channel count ${ch}`);
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1 || img.data.length !== w * h * ch) {
    throw new Error(`${fn}: data length ${img.data.length} does not match ${w}x${h}x${ch}`);
  }
}

/** Image.resize(size, BICUBIC) restricted to an output window (the whole output when win is absent). */
function resizeWindow(img: RawImage, width: number, height: number, win: Window): RawImage {
  const { width: w, height: h, channels: ch } = img;
  if (w === width && h === height) {
    // PIL returns a copy; RGBA is not premultiplied on this path.
    return { width: win.w, height: win.h, channels: ch, data: cropRaw(img.data, w, ch, win) };
  }
  let src = img.data;
  if (ch === 4) {
    src = new Uint8Array(img.data.length);
    const d = img.data;
    for (let i = 0; i < d.length; i += 4) {
      const a = d[i + 3];
      src[i] = mulDiv255(d[i], a);
      src[i + 1] = mulDiv255(d[i + 1], a);
      src[i + 2] = mulDiv255(d[i + 2], a);
      src[i + 3] = a;
    }
  }
  let out: Uint8Array;
  if (h > w * 100 && height < h) {
    // Image.resize's path for very tall images: rows first (all columns), then columns.
    const tmp = resampleRaw(src, w, h, ch, w, height, { x0: 0, y0: win.y0, w, h: win.h });
    out = resampleRaw(tmp, w, win.h, ch, width, win.h, { x0: win.x0, y0: 0, w: win.w, h: win.h });
  } else {
    out = resampleRaw(src, w, h, ch, width, height, win);
  }
  if (ch === 4) {
    // RGBa -> RGBA: 255 * c / a, truncated and clipped (alpha 0 and 255 left alone).
    for (let i = 0; i < out.length; i += 4) {
      const a = out[i + 3];
      if (a === 0 || a === 255) continue;
      for (let c = 0; c < 3; c++) {
        const v = Math.floor((255 * out[i + c]) / a);
        out[i + c] = v > 255 ? 255 : v;
      }
    }
  }
  return { width: win.w, height: win.h, channels: ch, data: out };
}

/**
 * PIL's Image.resize((width, height), BICUBIC) for an 8-bit image (L, RGB, or RGBA, which goes through
 * premultiplied RGBa and back). Returns a new image (a copy when the size is unchanged, as PIL does).
 */
export function resize(img: RawImage, width: number, height: number): RawImage {
  checkImage(img, 'resize');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`resize: invalid target size ${width}x${height}`);
  }
  return resizeWindow(img, width, height, { x0: 0, y0: 0, w: width, h: height });
}

/** torchvision's output size for Resize(size) with an int: shorter side to size, aspect kept (truncated). */
export function shorterSideSize(width: number, height: number, size: number): [number, number] {
  if (width <= height) return [size, Math.trunc((size * height) / width)];
  return [Math.trunc((size * width) / height), size];
}

/** Resize(size, BICUBIC) of torchvision on PIL: the shorter side becomes `size`. */
export function resizeShorter(img: RawImage, size: number): RawImage {
  checkImage(img, 'resizeShorter');
  if (!Number.isInteger(size) || size < 1) throw new Error(`resizeShorter: invalid size ${size}`);
  const [w, h] = shorterSideSize(img.width, img.height, size);
  return resize(img, w, h);
}

/** Python 3's round() for the halves that crop offsets produce: ties go to the even integer. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** The (left, top) offset CenterCrop(size) uses on an image at least size x size. */
export function centerCropOffsets(width: number, height: number, size: number): [number, number] {
  return [roundHalfEven((width - size) / 2), roundHalfEven((height - size) / 2)];
}

/** torchvision's CenterCrop(size): zero-pads first if the image is smaller, then crops size x size. */
export function centerCrop(img: RawImage, size: number): RawImage {
  checkImage(img, 'centerCrop');
  if (!Number.isInteger(size) || size < 1) throw new Error(`centerCrop: invalid size ${size}`);
  let cur = img;
  if (size > img.width || size > img.height) {
    const padL = size > img.width ? Math.floor((size - img.width) / 2) : 0;
    const padT = size > img.height ? Math.floor((size - img.height) / 2) : 0;
    const padR = size > img.width ? Math.floor((size - img.width + 1) / 2) : 0;
    const padB = size > img.height ? Math.floor((size - img.height + 1) / 2) : 0;
    const w = img.width + padL + padR;
    const h = img.height + padT + padB;
    const ch = img.channels;
    const data = new Uint8Array(w * h * ch);
    for (let y = 0; y < img.height; y++) {
      data.set(img.data.subarray(y * img.width * ch, (y + 1) * img.width * ch), ((y + padT) * w + padL) * ch);
    }
    cur = { width: w, height: h, channels: ch, data };
    if (w === size && h === size) return cur;
  }
  const [left, top] = centerCropOffsets(cur.width, cur.height, size);
  const ch = cur.channels;
  const out = new Uint8Array(size * size * ch);
  for (let y = 0; y < size; y++) {
    const s = ((top + y) * cur.width + left) * ch;
    out.set(cur.data.subarray(s, s + size * ch), y * size * ch);
  }
  return { width: size, height: size, channels: ch, data: out };
}

/**
 * centerCrop(resizeShorter(img, size), size), computing only the pixels the crop keeps (the same values,
 * about a third less work for a 4:3 image).
 */
export function resizeShorterCrop(img: RawImage, size: number): RawImage {
  checkImage(img, 'resizeShorterCrop');
  if (!Number.isInteger(size) || size < 1) throw new Error(`resizeShorterCrop: invalid size ${size}`);
  const [w, h] = shorterSideSize(img.width, img.height, size);
  const [left, top] = centerCropOffsets(w, h, size); // w, h >= size: no padding
  return resizeWindow(img, w, h, { x0: left, y0: top, w: size, h: size });
}

export interface ClipInputOptions {
  /** output side (the model's input resolution); 224 by default */
  size?: number;
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
}

/** Per channel, value -> float32 ((v / 255) - mean) / std with torch's float32 rounding at each step. */
function normaliseTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  const f = Math.fround;
  return [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    const m = f(mean[c]);
    const s = f(std[c]);
    for (let v = 0; v < 256; v++) t[v] = f(f(f(v / 255) - m) / s);
    return t;
  });
}

/** Writes the normalised CHW [3, size, size] tensor of a size x size image into out at offset. */
function writeChw(img: RawImage, tables: Float32Array[], out: Float32Array, offset: number): void {
  const n = img.width * img.height;
  const ch = img.channels;
  const d = img.data;
  for (let c = 0; c < 3; c++) {
    const t = tables[c];
    const src = ch === 1 ? 0 : c; // convert('RGB'): L replicated; RGBA's alpha dropped
    const o = offset + c * n;
    for (let i = 0; i < n; i++) out[o + i] = t[d[i * ch + src]];
  }
}

/**
 * CLIP's full transform of one decoded image: Resize(size, bicubic) -> CenterCrop(size) -> RGB ->
 * [0, 1] -> Normalize(mean, std). Returns CHW [3, size, size].
 */
export function toClipInput(img: RawImage, opts: ClipInputOptions = {}): Float32Array {
  const size = opts.size ?? 224;
  const tables = normaliseTables(opts.mean ?? CLIP_MEAN, opts.std ?? CLIP_STD);
  const cropped = resizeShorterCrop(img, size);
  const out = new Float32Array(3 * size * size);
  writeChw(cropped, tables, out, 0);
  return out;
}

/** Loads and transforms image files into one NCHW batch [N, 3, size, size]. */
export function preprocessFiles(paths: string[], size = 224): { data: Float32Array; shape: [number, 3, number, number] } {
  const per = 3 * size * size;
  const data = new Float32Array(paths.length * per);
  const tables = normaliseTables(CLIP_MEAN, CLIP_STD);
  paths.forEach((p, i) => {
    const cropped = resizeShorterCrop(loadImage(p), size);
    writeChw(cropped, tables, data, i * per);
  });
  return { data, shape: [paths.length, 3, size, size] };
}
