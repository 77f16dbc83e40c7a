// The small PNG encoder behind figures' embedded images: what it writes decodes to the same pixels.
import * as assert from 'assert';
import { decodeImage } from '../../src/clip/image';
import * as zlib from 'zlib';
import { encodePng, pngDataUri, recompressPng } from '../../src/viz/png';

describe('PNG encoder', () => {
  it('RGB and grey images decode (with the project decoder) to the same pixels', () => {
    const w = 7, h = 5;
    const rgb = Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const a = decodeImage(encodePng(w, h, 3, rgb));
    assert.deepStrictEqual([a.width, a.height], [w, h]);
    for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) assert.strictEqual(a.data[p * a.channels + c], rgb[p * 3 + c]);
    const grey = Array.from({ length: w * h }, (_, i) => i * 7);
    const g = decodeImage(encodePng(w, h, 1, grey));
    for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) assert.strictEqual(g.data[p * g.channels + c], grey[p]);
    assert.match(pngDataUri(1, 1, 3, [1, 2, 3]), /^data:image\/png;base64,iVBORw0KGgo/);
    assert.throws(() => encodePng(0, 3, 3, []), /bad size 0 x 3/);
    assert.throws(() => encodePng(2, 2, 3, [1, 2]), /2 values for 2 x 2 x 3/);
  });

  it('recompressPng: the same pixels in fewer bytes; a PNG it cannot shrink, or anything not a PNG, comes back as it is', () => {
    const w = 64, h = 48;
    const rgb = Array.from({ length: w * h * 3 }, (_, i) => (Math.floor(i / 97) * 13) % 256); // compressible
    const fast = encodePng(w, h, 3, rgb);
    // the same image deflated at level 1, split over two IDAT chunks, as a fast encoder writes it
    const ihdrEnd = 8 + 12 + 13;
    const iend = fast.subarray(fast.length - 12);
    const raw = zlib.inflateSync(Buffer.concat(idats(fast)));
    const quick = zlib.deflateSync(raw, { level: 1 });
    const half = Math.floor(quick.length / 2);
    const png = Buffer.concat([fast.subarray(0, ihdrEnd), rawChunk('IDAT', quick.subarray(0, half)), rawChunk('IDAT', quick.subarray(half)), iend]);
    const small = recompressPng(png);
    assert.ok(small.length < png.length, `${small.length} < ${png.length}`);
    const a = decodeImage(png);
    const b = decodeImage(small);
    assert.deepStrictEqual(Array.from(b.data), Array.from(a.data));
    assert.strictEqual(recompressPng(small), small);
    const junk = Buffer.from('not a png at all');
    assert.strictEqual(recompressPng(junk), junk);
    const cut = png.subarray(0, png.length - 20);
    assert.strictEqual(recompressPng(cut), cut);
  });
});

function idats(png: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 8; at < png.length;) {
    const n = png.readUInt32BE(at);
    if (png.toString('ascii', at + 4, at + 8) === 'IDAT') out.push(png.subarray(at + 8, at + 8 + n));
    at += 12 + n;
  }
  return out;
}

function rawChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE((zlib as unknown as { crc32(b: Uint8Array): number }).crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
