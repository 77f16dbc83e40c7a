// Pixel operations for styles and backgrounds, on float RGB canvases (HWC, values 0..255). All of them
// are plain arithmetic on seeded streams, so they give the same bytes everywhere.
import { q30, type Rng } from '../random';

/** A float RGB canvas, interleaved HWC, values 0..255 (clamped only when quantised). */
export interface Canvas {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * Smooth value noise in [-1, 1]: random values on a grid of `cell` pixels, interpolated with a
 * smoothstep, evaluated at pixel centres. One value per pixel (W*H).
 */
export function valueNoise(width: number, height: number, cell: number, rng: Rng): Float32Array {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = rng.next() * 2 - 1;
  const ox = rng.next() * cell;
  const oy = rng.next() * cell;
  // Column cells and smoothstep weights are the same on every row: compute them once.
  const colCell = new Int32Array(width);
  const colT = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    const fx = (x + 0.5 + ox) / cell;
    const ix = Math.floor(fx);
    const tx = fx - ix;
    colCell[x] = ix;
    colT[x] = tx * tx * (3 - 2 * tx);
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const fy = (y + 0.5 + oy) / cell;
    const iy = Math.floor(fy);
    let ty = fy - iy;
    ty = ty * ty * (3 - 2 * ty);
    const r0 = iy * gw;
    for (let x = 0; x < width; x++) {
      const i = r0 + colCell[x];
      const tx = colT[x];
      const a = grid[i] + (grid[i + 1] - grid[i]) * tx;
      const b = grid[i + gw] + (grid[i + gw + 1] - grid[i + gw]) * tx;
      out[y * width + x] = a + (b - a) * ty;
    }
  }
  return out;
}

/** Triangular noise with unit variance from one 32-bit draw (pure integer arithmetic). */
function unitNoise(rng: Rng): number {
  const u = rng.uint32();
  return (((u & 0xffff) + (u >>> 16)) / 65535 - 1) * 2.449489742783178;
}

/** Adds seeded pixel noise: a luminance part shared by the channels plus a per-channel part; sigma in levels. */
export function addNoise(c: Canvas, sigma: number, rng: Rng): void {
  const d = c.data;
  const shared = sigma * 0.75;
  const own = sigma * 0.66;
  for (let i = 0; i < d.length; i += 3) {
    const n0 = shared * unitNoise(rng);
    d[i] += n0 + own * unitNoise(rng);
    d[i + 1] += n0 + own * unitNoise(rng);
    d[i + 2] += n0 + own * unitNoise(rng);
  }
}

/** Convolves the rows of `src` (w x h, RGB) with the symmetric kernel `k` (k[0] the centre, k[t] at
 *  distance t; edges replicated) and writes the result transposed into `dst` (h x w), so that two
 *  calls blur both axes with contiguous reads. */
function rowPassTransposed(src: Float32Array, dst: Float32Array, w: number, h: number, k: Float64Array): void {
  const r = k.length - 1;
  const k0 = k[0];
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let x = 0; x < w; x++) {
      const c = row + x * 3;
      let a0 = k0 * src[c], a1 = k0 * src[c + 1], a2 = k0 * src[c + 2];
      if (x >= r && x + r < w) {
        for (let t = 1; t <= r; t++) {
          const kk = k[t];
          const lo = c - 3 * t, hi = c + 3 * t;
          a0 += kk * (src[lo] + src[hi]);
          a1 += kk * (src[lo + 1] + src[hi + 1]);
          a2 += kk * (src[lo + 2] + src[hi + 2]);
        }
      } else {
        for (let t = 1; t <= r; t++) {
          const kk = k[t];
          const lo = row + (x - t < 0 ? 0 : x - t) * 3;
          const hi = row + (x + t >= w ? w - 1 : x + t) * 3;
          a0 += kk * (src[lo] + src[hi]);
          a1 += kk * (src[lo + 1] + src[hi + 1]);
          a2 += kk * (src[lo + 2] + src[hi + 2]);
        }
      }
      const o = (x * h + y) * 3;
      dst[o] = a0;
      dst[o + 1] = a1;
      dst[o + 2] = a2;
    }
  }
}

/** Gaussian blur with standard deviation sigma (pixels), separable, edges replicated. */
export function gaussianBlur(c: Canvas, sigma: number): void {
  if (sigma <= 0) return;
  const r = Math.max(1, Math.ceil(2.5 * sigma));
  const k = new Float64Array(r + 1);
  let sum = 0;
  for (let t = 0; t <= r; t++) {
    k[t] = q30(Math.exp(-(t * t) / (2 * sigma * sigma)));
    sum += t === 0 ? k[t] : 2 * k[t];
  }
  for (let t = 0; t <= r; t++) k[t] /= sum;
  const tmp = new Float32Array(c.data.length);
  rowPassTransposed(c.data, tmp, c.width, c.height, k);
  rowPassTransposed(tmp, c.data, c.height, c.width, k);
}

/** Replaces each block x block tile (aligned at the top-left corner) by its mean colour. */
export function pixelate(c: Canvas, block: number): void {
  const { width: w, height: h, data: d } = c;
  for (let by = 0; by < h; by += block) {
    const y1 = Math.min(h, by + block);
    for (let bx = 0; bx < w; bx += block) {
      const x1 = Math.min(w, bx + block);
      let s0 = 0, s1 = 0, s2 = 0;
      for (let y = by; y < y1; y++) for (let x = bx; x < x1; x++) {
        const p = (y * w + x) * 3;
        s0 += d[p];
        s1 += d[p + 1];
        s2 += d[p + 2];
      }
      const n = (y1 - by) * (x1 - bx);
      s0 /= n;
      s1 /= n;
      s2 /= n;
      for (let y = by; y < y1; y++) for (let x = bx; x < x1; x++) {
        const p = (y * w + x) * 3;
        d[p] = s0;
        d[p + 1] = s1;
        d[p + 2] = s2;
      }
    }
  }
}

/** Rounds (half to even) and clamps a canvas to 8-bit pixels (the typed-array conversion ToUint8Clamp). */
export function quantise(c: Canvas): Uint8Array {
  const out = new Uint8ClampedArray(c.data);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
