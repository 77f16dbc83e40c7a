// Image decoding for CLIP preprocessing: PNG (pngjs) and JPEG (jpeg-js), to 8-bit interleaved pixels.
//
// The goal is to hand the resizer the same pixels, in the same "mode", that PIL's Image.open gives the
// reference (torchvision on PIL), so that CLIP's transform can be mirrored exactly:
//
// PNG (colour type -> channels; PIL's mode in brackets):
//   - grayscale (L) -> 1 channel; 1/2/4-bit values are scaled to 0..255 (x255, x85, x17 as PIL's
//     L;1/L;2/L;4 unpackers). PIL opens a 1-bit image as mode "1" and would resize it with nearest
//     neighbour; here it is treated as L (bicubic).
//   - RGB (RGB) -> 3 channels.
//   - RGBA (RGBA) -> 4 channels.
//   - grayscale + alpha (LA) -> 4 channels, gray replicated into R, G and B. PIL resizes LA as
//     premultiplied "La" and converts LA -> RGB by replicating L and dropping alpha; an RGBA image with
//     R = G = B goes through exactly the same arithmetic, so the result is identical.
//   - palette (P) -> 3 channels (the palette colours). PIL keeps mode P and convert('RGB') ignores any
//     tRNS transparency, so alpha is dropped here too. (PIL would resize a P image with nearest
//     neighbour; here it is resized like RGB with the bicubic.)
//   - a tRNS colour key on grayscale/RGB images is ignored, as in PIL's convert('RGB').
//   - 16-bit samples keep their most significant byte (PIL's ;16B raw modes do the same for RGB,
//     RGBA and LA; PIL opens 16-bit grayscale as I;16, whose convert('RGB') saturates at 255, which is
//     not mirrored).
//   - gAMA / colour profiles are ignored (as PIL does when opening).
// JPEG:
//   - decoded by jpeg-js (entropy decoding + IDCT); chroma upsampling and YCbCr -> RGB are redone here
//     the way libjpeg(-turbo), which PIL uses, does them by default: "fancy" triangle-filter upsampling
//     for 2x1, 1x2 and 2x2 subsampled chroma, and the fixed-point YCbCr -> RGB tables with rounding.
//     The remaining difference from libjpeg is jpeg-js's integer IDCT (off by one level here and there).
//   - grayscale JPEG -> 1 channel; YCbCr/RGB JPEG -> 3 channels; CMYK/YCCK -> 3 channels through
//     jpeg-js's own conversion (PIL would keep CMYK and convert it later; not mirrored).
//   - the EXIF orientation is ignored, like PIL's Image.open (CLIP does not transpose either).
import * as fs from 'fs';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';

/** An 8-bit image, interleaved HWC. channels: 1 = L, 3 = RGB, 4 = RGBA (straight, not premultiplied). */
export interface RawImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(b: Uint8Array): boolean {
  if (b.length < 8) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== PNG_MAGIC[i]) return false;
  return true;
}

function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Decodes a PNG or JPEG (recognised by its magic bytes) to 8-bit pixels; see the notes at the top of
 * this file for how each PNG colour type / JPEG colour space maps to channels. `label` (a file name,
 * say) names the input in error messages.
 */
export function decodeImage(bytes: Uint8Array, label = 'image'): RawImage {
  if (isPng(bytes)) {
    try {
      return decodePng(bytes);
    } catch (e) {
      throw new Error(`${label}: cannot decode PNG: ${errorText(e)}`);
    }
  }
  if (isJpeg(bytes)) {
    try {
      return decodeJpeg(bytes);
    } catch (e) {
      throw new Error(`${label}: cannot decode JPEG: ${errorText(e)}`);
    }
  }
  const what = bytes.length === 0 ? 'empty input' : 'unrecognised image format';
  throw new Error(`${label}: ${what}; only PNG and JPEG images are supported`);
}

/** Reads and decodes an image file (PNG or JPEG). */
export function loadImage(path: string): RawImage {
  const bytes = fs.readFileSync(path);
  return decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

// ---------------------------------------------------------------------------------------------- PNG

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** The PNG without its tRNS chunk (pngjs would otherwise zero the colour of keyed pixels). */
function withoutTrns(b: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [b.subarray(0, 8)];
  let o = 8;
  let removed = false;
  while (o + 12 <= b.length) {
    const len = readU32(b, o);
    const end = o + 12 + len;
    if (end > b.length) break;
    const type = String.fromCharCode(b[o + 4], b[o + 5], b[o + 6], b[o + 7]);
    if (type === 'tRNS') removed = true;
    else parts.push(b.subarray(o, end));
    o = end;
  }
  if (!removed) return b;
  if (o < b.length) parts.push(b.subarray(o));
  return Buffer.concat(parts);
}

function decodePng(bytes: Uint8Array): RawImage {
  if (bytes.length < 33) throw new Error('truncated header');
  const colorType = bytes[25];
  const src = colorType === 0 || colorType === 2 ? withoutTrns(bytes) : bytes;
  const buf = Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  const png = PNG.sync.read(buf, { skipRescale: true });
  const { width, height, depth } = png;
  // pngjs always yields RGBA per pixel (gray replicated, palette expanded), 16-bit as Uint16Array.
  const px = png.data as unknown as ArrayLike<number>;
  const n = width * height;
  let scale: (v: number) => number;
  if (depth === 16) scale = (v) => v >>> 8;
  else if (depth === 8 || colorType === 3) scale = (v) => v;
  else {
    const mul = 255 / ((1 << depth) - 1); // 1-bit: 255, 2-bit: 85, 4-bit: 17 (exact integers)
    scale = (v) => v * mul;
  }
  const ident = depth === 8 || colorType === 3;
  switch (colorType) {
    case 0: {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = ident ? px[i * 4] : scale(px[i * 4]);
      return { width, height, channels: 1, data: out };
    }
    case 2:
    case 3: {
      const out = new Uint8Array(n * 3);
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < 3; c++) out[i * 3 + c] = ident ? px[i * 4 + c] : scale(px[i * 4 + c]);
      }
      return { width, height, channels: 3, data: out };
    }
    case 4:
    case 6: {
      const out = new Uint8Array(n * 4);
      if (ident) out.set(px);
      else for (let i = 0; i < n * 4; i++) out[i] = scale(px[i]);
      return { width, height, channels: 4, data: out };
    }
    default:
      throw new Error(`unsupported PNG colour type ${colorType}`);
  }
}

// --------------------------------------------------------------------------------------------- JPEG

interface JpegComponent {
  id: number;
  h: number;
  v: number;
}

interface JpegHeader {
  width: number;
  height: number;
  components: JpegComponent[];
  jfif: boolean;
  adobeTransform: number | null;
  adobeTransformOffset: number;
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** Reads the markers up to the first scan: frame size, sampling factors, JFIF / Adobe markers. */
function readJpegHeader(b: Uint8Array): JpegHeader {
  const head: JpegHeader = {
    width: 0,
    height: 0,
    components: [],
    jfif: false,
    adobeTransform: null,
    adobeTransformOffset: -1,
  };
  let o = 2;
  let sawFrame = false;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) {
      o++;
      continue;
    }
    const marker = b[o + 1];
    if (marker === 0xff) {
      o++;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      o += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break;
    const len = (b[o + 2] << 8) | b[o + 3];
    const seg = o + 4;
    if (marker === 0xe0 && len >= 7 && String.fromCharCode(b[seg], b[seg + 1], b[seg + 2], b[seg + 3]) === 'JFIF' && b[seg + 4] === 0) {
      head.jfif = true;
    } else if (marker === 0xee && len >= 14 && String.fromCharCode(b[seg], b[seg + 1], b[seg + 2], b[seg + 3], b[seg + 4]) === 'Adobe') {
      head.adobeTransform = b[seg + 11];
      head.adobeTransformOffset = seg + 11;
    } else if (SOF_MARKERS.has(marker) && !sawFrame) {
      sawFrame = true;
      head.height = (b[seg + 1] << 8) | b[seg + 2];
      head.width = (b[seg + 3] << 8) | b[seg + 4];
      const nc = b[seg + 5];
      for (let i = 0; i < nc; i++) {
        const p = seg + 6 + i * 3;
        head.components.push({ id: b[p], h: b[p + 1] >> 4, v: b[p + 1] & 15 });
      }
    }
    o += 2 + len;
  }
  if (!sawFrame) throw new Error('no frame header (SOF) found');
  return head;
}

/** libjpeg's guess of the colour space of a 3-component file: true when it holds YCbCr. */
function threeComponentIsYCbCr(h: JpegHeader): boolean {
  if (h.jfif) return true;
  if (h.adobeTransform !== null) return h.adobeTransform !== 0;
  const [a, b, c] = h.components.map((x) => x.id);
  if (a === 82 && b === 71 && c === 66) return false; // 'R', 'G', 'B'
  return true;
}

/** libjpeg-turbo's h2v1 fancy upsampling of one row (dw >= 3 samples -> 2*dw). */
function h2v1Row(inp: Uint8Array, io: number, dw: number, out: Uint8Array, oo: number): void {
  let v = inp[io];
  out[oo++] = v;
  out[oo++] = (v * 3 + inp[io + 1] + 2) >> 2;
  for (let i = 1; i < dw - 1; i++) {
    v = inp[io + i] * 3;
    out[oo++] = (v + inp[io + i - 1] + 1) >> 2;
    out[oo++] = (v + inp[io + i + 1] + 2) >> 2;
  }
  v = inp[io + dw - 1];
  out[oo++] = (v * 3 + inp[io + dw - 2] + 1) >> 2;
  out[oo++] = v;
}

/**
 * Upsamples a subsampled plane (dw x dh) by (fx, fy) to at least (W, H), as libjpeg-turbo does with
 * do_fancy_upsampling (its default): triangle filters for 2x1 (when dw > 2), 1x2, and 2x2 (when dw > 2),
 * the rows above the first / below the last being the edge row repeated; plain replication otherwise.
 * Returns a W x H plane.
 */
function upsamplePlane(p: Uint8Array, dw: number, dh: number, fx: number, fy: number, W: number, H: number): Uint8Array {
  const ow = dw * fx;
  const full = new Uint8Array(ow * dh * fy);
  if (fx === 2 && fy === 2 && dw > 2) {
    const cols = new Int32Array(dw);
    for (let y = 0; y < dh; y++) {
      for (let v = 0; v < 2; v++) {
        const ny = v === 0 ? Math.max(y - 1, 0) : Math.min(y + 1, dh - 1);
        const r0 = y * dw;
        const r1 = ny * dw;
        for (let i = 0; i < dw; i++) cols[i] = p[r0 + i] * 3 + p[r1 + i];
        let o = (y * 2 + v) * ow;
        full[o++] = (cols[0] * 4 + 8) >> 4;
        full[o++] = (cols[0] * 3 + cols[1] + 7) >> 4;
        for (let i = 1; i < dw - 1; i++) {
          full[o++] = (cols[i] * 3 + cols[i - 1] + 8) >> 4;
          full[o++] = (cols[i] * 3 + cols[i + 1] + 7) >> 4;
        }
        full[o++] = (cols[dw - 1] * 3 + cols[dw - 2] + 8) >> 4;
        full[o++] = (cols[dw - 1] * 4 + 7) >> 4;
      }
    }
  } else if (fx === 2 && fy === 1 && dw > 2) {
    for (let y = 0; y < dh; y++) h2v1Row(p, y * dw, dw, full, y * ow);
  } else if (fx === 1 && fy === 2) {
    for (let y = 0; y < dh; y++) {
      for (let v = 0; v < 2; v++) {
        const ny = v === 0 ? Math.max(y - 1, 0) : Math.min(y + 1, dh - 1);
        const bias = v === 0 ? 1 : 2;
        const o = (y * 2 + v) * ow;
        for (let i = 0; i < dw; i++) full[o + i] = (p[y * dw + i] * 3 + p[ny * dw + i] + bias) >> 2;
      }
    }
  } else {
    for (let y = 0; y < dh * fy; y++) {
      const r = Math.floor(y / fy) * dw;
      for (let x = 0; x < ow; x++) full[y * ow + x] = p[r + Math.floor(x / fx)];
    }
  }
  const out = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) out.set(full.subarray(y * ow, y * ow + W), y * W);
  return out;
}

// libjpeg's YCbCr -> RGB tables (jdcolor.c): 16-bit fixed point, rounded.
const SCALEBITS = 16;
const ONE_HALF = 1 << (SCALEBITS - 1);
const fix = (x: number): number => Math.trunc(x * (1 << SCALEBITS) + 0.5);
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Float64Array(256);
const CB_G = new Float64Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = Math.floor((fix(1.402) * x + ONE_HALF) / 65536);
  CB_B[i] = Math.floor((fix(1.772) * x + ONE_HALF) / 65536);
  CR_G[i] = -fix(0.71414) * x;
  CB_G[i] = -fix(0.34414) * x + ONE_HALF;
}

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

function decodeJpeg(bytes: Uint8Array): RawImage {
  const head = readJpegHeader(bytes);
  const nc = head.components.length;
  let input = bytes;
  if (nc === 3 && head.adobeTransform !== null && head.adobeTransform !== 0) {
    // jpeg-js forces its own (truncating, float) colour transform when it sees an Adobe transform flag;
    // clear the flag in a copy so that it hands back the raw components.
    input = new Uint8Array(bytes);
    input[head.adobeTransformOffset] = 0;
  }
  const dec = jpeg.decode(input, { useTArray: true, formatAsRGBA: false, colorTransform: false });
  const W = dec.width;
  const H = dec.height;
  const raw = dec.data;
  const n = W * H;
  if (nc === 1) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = raw[i * 3];
    return { width: W, height: H, channels: 1, data: out };
  }
  if (nc !== 3) {
    // CMYK / YCCK: keep jpeg-js's conversion to RGB.
    return { width: W, height: H, channels: 3, data: new Uint8Array(raw) };
  }
  const maxH = Math.max(...head.components.map((c) => c.h));
  const maxV = Math.max(...head.components.map((c) => c.v));
  const planes: Uint8Array[] = [];
  for (let ci = 0; ci < 3; ci++) {
    const { h, v } = head.components[ci];
    const fx = maxH / h;
    const fy = maxV / v;
    const plane = new Uint8Array(n);
    if ((fx === 2 || fx === 1) && (fy === 2 || fy === 1) && (fx > 1 || fy > 1)) {
      // jpeg-js replicated the subsampled plane (pixel x <- sample floor(x / fx)); take it back.
      const dw = Math.ceil((W * h) / maxH);
      const dh = Math.ceil((H * v) / maxV);
      const small = new Uint8Array(dw * dh);
      for (let y = 0; y < dh; y++) {
        const row = y * fy * W;
        for (let x = 0; x < dw; x++) small[y * dw + x] = raw[(row + x * fx) * 3 + ci];
      }
      planes.push(upsamplePlane(small, dw, dh, fx, fy, W, H));
    } else {
      for (let i = 0; i < n; i++) plane[i] = raw[i * 3 + ci];
      planes.push(plane);
    }
  }
  const out = new Uint8Array(n * 3);
  const [p0, p1, p2] = planes;
  if (threeComponentIsYCbCr(head)) {
    for (let i = 0; i < n; i++) {
      const y = p0[i];
      const cb = p1[i];
      const cr = p2[i];
      out[i * 3] = clamp8(y + CR_R[cr]);
      out[i * 3 + 1] = clamp8(y + Math.floor((CB_G[cb] + CR_G[cr]) / 65536));
      out[i * 3 + 2] = clamp8(y + CB_B[cb]);
    }
  } else {
    for (let i = 0; i < n; i++) {
      out[i * 3] = p0[i];
      out[i * 3 + 1] = p1[i];
      out[i * 3 + 2] = p2[i];
    }
  }
  return { width: W, height: H, channels: 3, data: out };
}
