// A minimal PNG encoder (8-bit RGB, no filtering, zlib-deflated), so a figure can carry a small
// image as a data URI (plotly's image trace `source`) instead of every pixel as JSON numbers.
import * as zlib from 'zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * PNG bytes of an image given as height x width pixels of `channels` values (0-255; 1 channel is
 * grey, 3 or more are read as RGB). Written as 8-bit RGB, or with `grey` as 8-bit greyscale (colour
 * type 0) of the first channel: a label map, as ADE20K's annotations are stored.
 */
export function encodePng(width: number, height: number, channels: number, data: ArrayLike<number>, opts: { grey?: boolean } = {}): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error(`encodePng: bad size ${width} x ${height}`);
  if (data.length < width * height * channels) throw new Error(`encodePng: ${data.length} values for ${width} x ${height} x ${channels}`);
  const out = opts.grey ? 1 : 3;
  const raw = Buffer.alloc(height * (1 + width * out));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * out); // filter byte 0 (none), then the samples
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < out; c++) {
        const v = data[(y * width + x) * channels + Math.min(c, channels - 1)];
        raw[row + 1 + x * out + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = opts.grey ? 0 : 2; // colour type: greyscale or RGB
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0))]);
}

/** The image as a `data:image/png;base64,...` URI. */
export function pngDataUri(width: number, height: number, channels: number, data: ArrayLike<number>): string {
  return `data:image/png;base64,${encodePng(width, height, channels, data).toString('base64')}`;
}

/**
 * The same PNG with its image data deflated again at zlib's highest level (the pixels, filters and
 * every other chunk unchanged): Chromium's screenshots are compressed for speed, and this makes a
 * figure's PNG about a quarter smaller, which keeps the notebooks under 1 MiB. Anything that is not
 * a well-formed PNG is returned as it is.
 */
export function recompressPng(png: Buffer): Buffer {
  const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (png.length < 8 || !png.subarray(0, 8).equals(SIGNATURE)) return png;
  const before: Buffer[] = [];
  const after: Buffer[] = [];
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length;) {
    if (at + 12 > png.length) return png;
    const n = png.readUInt32BE(at);
    const end = at + 12 + n;
    if (end > png.length) return png;
    const type = png.toString('ascii', at + 4, at + 8);
    if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + n));
    else (idat.length ? after : before).push(png.subarray(at, end));
    at = end;
  }
  if (!idat.length) return png;
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(Buffer.concat(idat));
  } catch {
    return png;
  }
  const data = zlib.deflateSync(raw, { level: 9, memLevel: 9 });
  const out = Buffer.concat([SIGNATURE, ...before, chunk('IDAT', data), ...after]);
  return out.length < png.length ? out : png;
}
