// CLIP image preprocessing: decoding (PNG colour types, JPEG), PIL's 8-bit antialiased bicubic resize,
// torchvision's centre crop and normalisation, and the RGBA / grayscale behaviour of the reference.
import assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as jpeg from 'jpeg-js';
import {
  CLIP_MEAN,
  CLIP_STD,
  centerCrop,
  centerCropOffsets,
  decodeImage,
  loadImage,
  preprocessFiles,
  resize,
  resizeShorter,
  resizeShorterCrop,
  shorterSideSize,
  toClipInput,
  type RawImage,
} from '../../src/clip/preprocess';

// ---------------------------------------------------------------------------------------------
// Helpers

/** A tiny PNG writer (filter 0, one IDAT) for colour types 0, 2, 3, 4, 6 and any legal bit depth. */
function makePng(opts: {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  depth?: 1 | 2 | 4 | 8 | 16;
  samples: ArrayLike<number>; // per pixel, per channel (palette index for type 3)
  palette?: [number, number, number][];
  trns?: Uint8Array;
}): Uint8Array {
  const { width, height, colorType, samples } = opts;
  const depth = opts.depth ?? 8;
  const ch = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  const rowBytes = Math.ceil((width * ch * depth) / 8);
  const raw = new Uint8Array((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (rowBytes + 1) + 1;
    for (let i = 0; i < width * ch; i++) {
      const v = samples[y * width * ch + i];
      if (depth === 16) {
        raw[row + i * 2] = v >> 8;
        raw[row + i * 2 + 1] = v & 255;
      } else if (depth === 8) {
        raw[row + i] = v;
      } else {
        const bit = i * depth;
        raw[row + (bit >> 3)] |= v << (8 - depth - (bit & 7));
      }
    }
  }
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (opts.palette) parts.push(chunk('PLTE', Uint8Array.from(opts.palette.flat())));
  if (opts.trns) parts.push(chunk('tRNS', opts.trns));
  parts.push(chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return new Uint8Array(Buffer.concat(parts));
}

function image(width: number, height: number, channels: 1 | 3 | 4, fill: (x: number, y: number, c: number) => number): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = fill(x, y, c);
    }
  }
  return { width, height, channels, data };
}

/** Deterministic pseudo-random bytes. */
function noise(seed: number): (x: number, y: number, c: number) => number {
  return (x, y, c) => (Math.imul((x * 73856093) ^ (y * 19349663) ^ (c * 83492791) ^ seed, 2654435761) >>> 24) & 255;
}

function pixel(img: RawImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * img.channels;
  return Array.from(img.data.subarray(o, o + img.channels));
}

/** torch's float32 ToTensor + Normalize of one 8-bit value. */
function norm(v: number, c: number, mean: readonly number[] = CLIP_MEAN, std: readonly number[] = CLIP_STD): number {
  const f = Math.fround;
  return f(f(f(v / 255) - f(mean[c])) / f(std[c]));
}

// ---------------------------------------------------------------------------------------------
// Decoding

describe('preprocess: decodeImage', () => {
  it('decodes an 8-bit RGB PNG to 3 channels, exactly', () => {
    const src = image(5, 4, 3, noise(1));
    const out = decodeImage(makePng({ width: 5, height: 4, colorType: 2, samples: src.data }), 'rgb.png');
    assert.deepStrictEqual([out.width, out.height, out.channels], [5, 4, 3]);
    assert.deepStrictEqual(Array.from(out.data), Array.from(src.data));
  });

  it('decodes an 8-bit grayscale PNG to 1 channel', () => {
    const src = image(3, 7, 1, noise(2));
    const out = decodeImage(makePng({ width: 3, height: 7, colorType: 0, samples: src.data }));
    assert.strictEqual(out.channels, 1);
    assert.deepStrictEqual(Array.from(out.data), Array.from(src.data));
  });

  it('scales 1-, 2- and 4-bit grayscale to 0..255 as PIL does (x255, x85, x17)', () => {
    for (const [depth, mul] of [[1, 255], [2, 85], [4, 17]] as const) {
      const max = (1 << depth) - 1;
      const samples = Array.from({ length: 9 * 2 }, (_, i) => i % (max + 1));
      const out = decodeImage(makePng({ width: 9, height: 2, colorType: 0, depth, samples }));
      assert.strictEqual(out.channels, 1);
      assert.deepStrictEqual(Array.from(out.data), samples.map((v) => v * mul), `depth ${depth}`);
    }
  });

  it('decodes RGBA to 4 channels with straight (not premultiplied) colour', () => {
    const src = image(4, 4, 4, noise(3));
    const out = decodeImage(makePng({ width: 4, height: 4, colorType: 6, samples: src.data }));
    assert.strictEqual(out.channels, 4);
    assert.deepStrictEqual(Array.from(out.data), Array.from(src.data));
  });

  it('decodes grayscale + alpha (LA) to RGBA with the gray replicated', () => {
    const samples = [10, 255, 200, 0, 77, 128, 255, 30];
    const out = decodeImage(makePng({ width: 2, height: 2, colorType: 4, samples }));
    assert.strictEqual(out.channels, 4);
    assert.deepStrictEqual(pixel(out, 0, 0), [10, 10, 10, 255]);
    assert.deepStrictEqual(pixel(out, 1, 0), [200, 200, 200, 0]);
    assert.deepStrictEqual(pixel(out, 0, 1), [77, 77, 77, 128]);
    assert.deepStrictEqual(pixel(out, 1, 1), [255, 255, 255, 30]);
  });

  it('keeps the most significant byte of 16-bit samples', () => {
    const samples = [0x1234, 0xffff, 0x00ff, 0x8000, 0x7fff, 0x0100];
    const out = decodeImage(makePng({ width: 2, height: 1, colorType: 2, depth: 16, samples }));
    assert.strictEqual(out.channels, 3);
    assert.deepStrictEqual(Array.from(out.data), [0x12, 0xff, 0x00, 0x80, 0x7f, 0x01]);
  });

  it('expands palette images to RGB, ignoring tRNS as convert("RGB") does', () => {
    const palette: [number, number, number][] = [[255, 0, 0], [0, 128, 255], [9, 8, 7]];
    const out = decodeImage(
      makePng({ width: 3, height: 1, colorType: 3, samples: [2, 0, 1], palette, trns: Uint8Array.from([0, 128, 255]) }),
    );
    assert.strictEqual(out.channels, 3);
    assert.deepStrictEqual(Array.from(out.data), [9, 8, 7, 255, 0, 0, 0, 128, 255]);
  });

  it('keeps the colour of tRNS-keyed pixels in RGB and grayscale PNGs', () => {
    const rgb = decodeImage(
      makePng({ width: 2, height: 1, colorType: 2, samples: [1, 2, 3, 40, 50, 60], trns: Uint8Array.from([0, 1, 0, 2, 0, 3]) }),
    );
    assert.deepStrictEqual([rgb.channels, ...rgb.data], [3, 1, 2, 3, 40, 50, 60]);
    const gray = decodeImage(makePng({ width: 2, height: 1, colorType: 0, samples: [90, 91], trns: Uint8Array.from([0, 90]) }));
    assert.deepStrictEqual([gray.channels, ...gray.data], [1, 90, 91]);
  });

  it('decodes a JPEG to RGB with libjpeg-style rounding (within 1 of jpeg-js float colour)', () => {
    const src = image(24, 16, 4, (x, y, c) => (c === 3 ? 255 : (x * 9 + y * 5 + c * 60) & 255));
    const bytes = new Uint8Array(jpeg.encode({ width: 24, height: 16, data: src.data }, 95).data);
    const out = decodeImage(bytes, 'ramp.jpg');
    assert.deepStrictEqual([out.width, out.height, out.channels], [24, 16, 3]);
    const ref = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
    let worst = 0;
    for (let i = 0; i < out.data.length; i++) worst = Math.max(worst, Math.abs(out.data[i] - ref.data[i]));
    assert.ok(worst <= 1, `largest difference from jpeg-js's own conversion: ${worst}`);
  });

  it('a constant-colour JPEG comes back as that colour', () => {
    const src = image(16, 16, 4, (_x, _y, c) => [200, 120, 40, 255][c]);
    const out = decodeImage(new Uint8Array(jpeg.encode({ width: 16, height: 16, data: src.data }, 100).data));
    for (let i = 0; i < 16 * 16; i++) {
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(out.data[i * 3 + c] - [200, 120, 40][c]) <= 2, `pixel ${i} channel ${c}`);
    }
  });

  it('names the input and the supported formats for unknown data', () => {
    assert.throws(
      () => decodeImage(new TextEncoder().encode('GIF89a...'), 'cat.gif'),
      (e: Error) => /cat\.gif/.test(e.message) && /PNG/.test(e.message) && /JPEG/.test(e.message),
    );
    assert.throws(() => decodeImage(new Uint8Array(0), 'empty.png'), /empty\.png.*empty input.*PNG and JPEG/);
  });

  it('names the input when a PNG or JPEG is corrupt', () => {
    const png = makePng({ width: 4, height: 4, colorType: 2, samples: new Uint8Array(48) });
    assert.throws(() => decodeImage(png.subarray(0, 40), 'cut.png'), /cut\.png: cannot decode PNG/);
    const broken = png.slice();
    broken[broken.length - 20] ^= 0xff; // inside IDAT: bad CRC / inflate error
    assert.throws(() => decodeImage(broken, 'flipped.png'), /flipped\.png: cannot decode PNG/);
    const jpg = new Uint8Array(jpeg.encode({ width: 8, height: 8, data: new Uint8Array(256) }, 90).data);
    assert.throws(() => decodeImage(jpg.subarray(0, 30), 'cut.jpg'), /cut\.jpg: cannot decode JPEG/);
  });

  it('loadImage names the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-pre-'));
    try {
      const txt = path.join(dir, 'notes.txt');
      fs.writeFileSync(txt, 'not an image');
      assert.throws(() => loadImage(txt), (e: Error) => e.message.includes(txt) && /PNG and JPEG/.test(e.message));
      assert.throws(() => loadImage(path.join(dir, 'missing.png')), /missing\.png/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Resize

describe('preprocess: resize (PIL antialiased bicubic, 8-bit)', () => {
  it('sizes the shorter side as torchvision does (longer side truncated)', () => {
    assert.deepStrictEqual(shorterSideSize(333, 201, 224), [371, 224]);
    assert.deepStrictEqual(shorterSideSize(150, 410, 224), [224, 612]);
    assert.deepStrictEqual(shorterSideSize(97, 64, 224), [339, 224]); // 339.5 -> 339
    assert.deepStrictEqual(shorterSideSize(300, 300, 224), [224, 224]);
    const r = resizeShorter(image(97, 64, 3, noise(4)), 224);
    assert.deepStrictEqual([r.width, r.height, r.channels], [339, 224, 3]);
  });

  it('keeps a constant image constant, down, up and mixed, for L, RGB and opaque RGBA', () => {
    const cases: [number, number, number, number][] = [
      [300, 200, 64, 43],
      [37, 23, 11, 50],
      [5, 7, 40, 3],
      [320, 240, 112, 84],
      [2, 2, 1, 1],
    ];
    for (const [w, h, ow, oh] of cases) {
      for (const ch of [1, 3, 4] as const) {
        for (const v of [0, 1, 128, 255]) {
          const out = resize(image(w, h, ch, (_x, _y, c) => (c === 3 ? 255 : v)), ow, oh);
          assert.deepStrictEqual([out.width, out.height], [ow, oh]);
          for (let i = 0; i < out.data.length; i++) {
            const want = ch === 4 && i % 4 === 3 ? 255 : v;
            if (out.data[i] !== want) assert.fail(`${w}x${h}x${ch} -> ${ow}x${oh}, value ${v}: got ${out.data[i]} at ${i}`);
          }
        }
      }
    }
  });

  it('matches a hand-computed 2x downscale of a step edge', () => {
    // Downscaling by 2 widens the kernel to support 4; output column j has centre 2j + 1 and taps at
    // source columns 2j - 3 .. 2j + 4, arguments (x - centre + 0.5) / 2 = -1.75 .. 1.75, bicubic weights
    // -0.0234375, -0.0703125, 0.2265625, 0.8671875 (mirrored), summing to 2: normalised exactly
    // [-3, -9, 29, 111, 111, 29, -9, -3] / 256. A step 0 | 100 between source columns 7 and 8 gives:
    //   j = 2: 100 * (-3) / 256 = -1.2 -> clipped to 0
    //   j = 3: 100 * (29 - 9 - 3) / 256 = 6.6 -> 7
    //   j = 4: 100 * (111 + 111 + 29 - 9 - 3) / 256 = 93.4 -> 93
    //   j = 5: 100 * (256 + 3) / 256 = 101.2 -> 101 (the bicubic overshoots)
    const step = (x: number) => (x >= 8 ? 100 : 0);
    const row = resize(image(16, 3, 1, step), 8, 3);
    for (let y = 0; y < 3; y++) assert.deepStrictEqual(Array.from(row.data.subarray(y * 8 + 2, y * 8 + 6)), [0, 7, 93, 101]);
    // The same edge through both passes (columns constant, so the vertical pass keeps them).
    const both = resize(image(16, 16, 3, step), 8, 8);
    for (let y = 0; y < 8; y++) {
      for (let x = 2; x < 6; x++) assert.deepStrictEqual(pixel(both, x, y), Array(3).fill([0, 7, 93, 101][x - 2]));
    }
    // Overshoot past 255 is clipped.
    const bright = resize(image(16, 1, 1, (x) => (x >= 8 ? 255 : 0)), 8, 1);
    assert.deepStrictEqual(Array.from(bright.data.subarray(2, 6)), [0, 17, 238, 255]);
  });

  it('resizes RGBA premultiplied and un-premultiplies with truncation, as PIL does', () => {
    // 200 * 128 / 255 -> 100 premultiplied, then 255 * 100 / 128 = 199.2 -> 199 (likewise 99, 49).
    const out = resize(image(30, 30, 4, (_x, _y, c) => [200, 100, 50, 128][c]), 10, 10);
    for (let i = 0; i < 100; i++) assert.deepStrictEqual(pixel(out, i % 10, Math.floor(i / 10)), [199, 99, 49, 128]);
    // A transparent neighbour does not bleed its colour into an opaque one.
    const half = resize(image(16, 4, 4, (x, _y, c) => (x < 8 ? [255, 0, 0, 0][c] : [0, 0, 255, 255][c])), 8, 4);
    for (let x = 0; x < 8; x++) {
      const [r, g, , a] = pixel(half, x, 0);
      assert.strictEqual(g, 0);
      if (a > 0) assert.strictEqual(r, 0, `column ${x}: red leaked from transparent pixels`);
    }
  });

  it('returns a copy of the image when the size does not change', () => {
    const img = image(6, 5, 4, noise(5));
    const out = resize(img, 6, 5);
    assert.notStrictEqual(out.data, img.data);
    assert.deepStrictEqual(Array.from(out.data), Array.from(img.data)); // no premultiply round trip either
  });

  it('rejects bad sizes and inconsistent images', () => {
    assert.throws(() => resize(image(4, 4, 3, noise(6)), 0, 4), /invalid target size/);
    assert.throws(() => resizeShorter(image(4, 4, 3, noise(6)), 2.5), /invalid size/);
    assert.throws(() => resize({ width: 4, height: 4, channels: 3, data: new Uint8Array(10) }, 2, 2), /data length 10/);
  });
});

// ---------------------------------------------------------------------------------------------
// Centre crop

describe('preprocess: centerCrop (torchvision)', () => {
  it('rounds odd margins half to even, as Python round() does', () => {
    assert.deepStrictEqual(centerCropOffsets(224, 224, 224), [0, 0]);
    assert.deepStrictEqual(centerCropOffsets(225, 226, 224), [0, 1]); // 0.5 -> 0, 1
    assert.deepStrictEqual(centerCropOffsets(227, 229, 224), [2, 2]); // 1.5 -> 2, 2.5 -> 2
    assert.deepStrictEqual(centerCropOffsets(231, 371, 224), [4, 74]); // 3.5 -> 4, 73.5 -> 74
    assert.deepStrictEqual(centerCropOffsets(339, 224, 224), [58, 0]); // 57.5 -> 58
    assert.deepStrictEqual(centerCropOffsets(371, 224, 224), [74, 0]); // 73.5 -> 74
    assert.deepStrictEqual(centerCropOffsets(5, 4, 2), [2, 1]); // 1.5 -> 2
  });

  it('copies the right pixels for odd sizes', () => {
    const img = image(7, 6, 1, (x, y) => x + 10 * y);
    const out = centerCrop(img, 4); // left round(1.5) = 2, top 1
    assert.deepStrictEqual(Array.from(out.data), [12, 13, 14, 15, 22, 23, 24, 25, 32, 33, 34, 35, 42, 43, 44, 45]);
    const odd = centerCrop(image(6, 9, 3, (x, y, c) => x + 10 * y + 100 * c), 3); // left round(1.5)=2, top 3
    assert.deepStrictEqual(pixel(odd, 0, 0), [32, 132, 232]);
    assert.deepStrictEqual(pixel(odd, 2, 2), [54, 154, 254]);
  });

  it('zero-pads an image smaller than the crop, as torchvision does', () => {
    const out = centerCrop(image(2, 3, 1, () => 9), 4); // pad left 1, right 1, top 0, bottom 1
    assert.deepStrictEqual(Array.from(out.data), [0, 9, 9, 0, 0, 9, 9, 0, 0, 9, 9, 0, 0, 0, 0, 0]);
    const rgba = centerCrop(image(1, 1, 4, () => 255), 3);
    assert.deepStrictEqual(pixel(rgba, 0, 0), [0, 0, 0, 0]);
    assert.deepStrictEqual(pixel(rgba, 1, 1), [255, 255, 255, 255]);
  });

  it('resizeShorterCrop equals centerCrop(resizeShorter(...)) exactly', () => {
    const cases: [number, number, 1 | 3 | 4, number][] = [
      [333, 201, 3, 224],
      [150, 410, 4, 224],
      [97, 64, 1, 224],
      [64, 64, 3, 32],
      [33, 32, 3, 32],
      [3, 400, 3, 2], // taller than 100 x its width: PIL resizes rows first
      [401, 3, 4, 2],
    ];
    for (const [w, h, ch, size] of cases) {
      const img = image(w, h, ch, noise(w * 31 + h));
      const fused = resizeShorterCrop(img, size);
      const plain = centerCrop(resizeShorter(img, size), size);
      assert.deepStrictEqual([fused.width, fused.height, fused.channels], [size, size, ch]);
      assert.ok(Buffer.from(fused.data).equals(Buffer.from(plain.data)), `${w}x${h}x${ch} -> ${size}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The full transform

describe('preprocess: toClipInput and preprocessFiles', () => {
  it('normalises with float32 ToTensor + Normalize', () => {
    const out = toClipInput(image(224, 224, 3, (x, _y, c) => (x * 3 + c) & 255));
    assert.strictEqual(out.length, 3 * 224 * 224);
    for (const [x, y] of [[0, 0], [100, 7], [223, 223]]) {
      for (let c = 0; c < 3; c++) assert.strictEqual(out[c * 224 * 224 + y * 224 + x], norm((x * 3 + c) & 255, c));
    }
    const plain = toClipInput(image(8, 8, 3, () => 51), { size: 8, mean: [0, 0, 0], std: [1, 1, 1] });
    assert.ok(plain.every((v) => v === Math.fround(51 / 255)));
  });

  it('replicates grayscale into three channels, like an RGB image with R = G = B', () => {
    const gray = image(50, 40, 1, noise(7));
    const rgb = image(50, 40, 3, (x, y) => noise(7)(x, y, 0));
    const g = toClipInput(gray, { size: 32 });
    const r = toClipInput(rgb, { size: 32 });
    assert.deepStrictEqual(Array.from(g), Array.from(r));
    const n = 32 * 32;
    const small = centerCrop(resizeShorter(gray, 32), 32);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < n; i += 97) assert.strictEqual(g[c * n + i], norm(small.data[i], c));
    }
  });

  it('turns fully transparent RGBA pixels black (premultiplied resize, alpha dropped)', () => {
    const clear = image(300, 300, 4, (_x, _y, c) => [255, 0, 128, 0][c]);
    const out = toClipInput(clear);
    const n = 224 * 224;
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < n; i++) {
        if (out[c * n + i] !== norm(0, c)) assert.fail(`channel ${c} pixel ${i}: ${out[c * n + i]}`);
      }
    }
    // Already 224 x 224: no resize, so (as with PIL) no premultiplication and the colour survives.
    const kept = toClipInput(image(224, 224, 4, (_x, _y, c) => [255, 0, 128, 0][c]));
    assert.deepStrictEqual([kept[0], kept[n], kept[2 * n]], [norm(255, 0), norm(0, 1), norm(128, 2)]);
    // Opaque RGBA is RGB.
    const opaque = image(90, 70, 4, (x, y, c) => (c === 3 ? 255 : noise(8)(x, y, c)));
    const asRgb = image(90, 70, 3, noise(8));
    assert.deepStrictEqual(Array.from(toClipInput(opaque, { size: 40 })), Array.from(toClipInput(asRgb, { size: 40 })));
  });

  it('preprocessFiles batches files as NCHW', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-pre-'));
    try {
      const a = image(60, 45, 3, noise(9));
      const b = image(30, 70, 1, noise(10));
      const fa = path.join(dir, 'a.png');
      const fb = path.join(dir, 'b.png');
      fs.writeFileSync(fa, makePng({ width: 60, height: 45, colorType: 2, samples: a.data }));
      fs.writeFileSync(fb, makePng({ width: 30, height: 70, colorType: 0, samples: b.data }));
      const batch = preprocessFiles([fa, fb], 24);
      assert.deepStrictEqual(batch.shape, [2, 3, 24, 24]);
      assert.strictEqual(batch.data.length, 2 * 3 * 24 * 24);
      const per = 3 * 24 * 24;
      assert.deepStrictEqual(Array.from(batch.data.subarray(0, per)), Array.from(toClipInput(a, { size: 24 })));
      assert.deepStrictEqual(Array.from(batch.data.subarray(per)), Array.from(toClipInput(b, { size: 24 })));
      assert.deepStrictEqual(preprocessFiles([]).shape, [0, 3, 224, 224]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
