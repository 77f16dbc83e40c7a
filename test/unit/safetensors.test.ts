// Safetensors reader/writer: round trips, exact F16/BF16 decoding, the real fixtures, and hostile files.
import assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  WeightsFormatError,
  bf16ToF32,
  f16ToF32,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  requireTensor,
  serializeSafetensors,
  writeSafetensors,
  type TensorToWrite,
} from '../../src/clip/safetensors';
import { parityDir } from '../fixture-dirs';
import { uniform } from '../../src/random';

const LABEL = 'hostile.safetensors';

// ---------------------------------------------------------------------------------------------
// Helpers

/** A file from a header (object, or raw JSON text) and data bytes; headerLength overrides the prefix. */
function rawFile(header: unknown, data: Uint8Array | number = 0, headerLength?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const head = new TextEncoder().encode(text);
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + head.length + body.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(head.length), true);
  out.set(head, 8);
  out.set(body, 8 + head.length);
  return out;
}

/** Little-endian bytes of a typed array's contents. */
function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Asserts `fn` throws a WeightsFormatError whose message names `file` and contains each keyword. */
function assertFormatError(fn: () => unknown, keywords: string[], file = LABEL): WeightsFormatError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof WeightsFormatError, `expected WeightsFormatError, got ${String(caught)}`);
  assert.strictEqual(caught.file, file);
  assert.ok(caught.message.startsWith(`${file}: `), caught.message);
  for (const k of keywords) assert.ok(caught.message.includes(k), `"${caught.message}" lacks "${k}"`);
  return caught;
}

const prng = uniform;

/** Reference float16 decoding straight from the IEEE definition (slow, for comparison). */
function f16Reference(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function f16Of(values: number[]): Float32Array {
  const file = parseSafetensors(serializeSafetensors({ x: { dtype: 'F16', shape: [values.length], data: values } }));
  return file.tensors.get('x')!.data as Float32Array;
}

// ---------------------------------------------------------------------------------------------

describe('safetensors', () => {
  describe('round trip', () => {
    const tensors: Record<string, TensorToWrite> = {
      'b.f32': { dtype: 'F32', shape: [2, 3], data: [0, 1.5, -2.25, 1e-30, 3.4e38, -0] },
      'a.f16': { dtype: 'F16', shape: [3], data: [1, -0.5, 65504] }, // 6 bytes: the next tensor is unaligned
      'c.i32': { dtype: 'I32', shape: [2, 2], data: [0, -1, 2147483647, -2147483648] },
      'd.i64': { dtype: 'I64', shape: [4], data: [0, -1, 2147483647, -2147483648] },
      'e.empty': { dtype: 'F32', shape: [0, 5], data: [] },
      'f.scalar': { dtype: 'I32', shape: [], data: [7] },
    };

    it('serialises every writable dtype and reads it back exactly', () => {
      const bytes = serializeSafetensors(tensors, { format: 'pt', note: 'round trip' });
      const f = parseSafetensors(bytes);
      assert.deepStrictEqual(f.metadata, { format: 'pt', note: 'round trip' });
      assert.strictEqual(f.tensors.size, 6);
      for (const [name, t] of Object.entries(tensors)) {
        const got = requireTensor(f, name, t.shape);
        assert.strictEqual(got.dtype, t.dtype);
        const isFloat = t.dtype.startsWith('F');
        const want = Array.from(t.data).map((v) => (isFloat ? Math.fround(v) : v));
        assert.deepStrictEqual(Array.from(got.data), want, name);
        assert.ok(got.data instanceof (isFloat ? Float32Array : Int32Array));
      }
      assert.ok(Object.is(f.tensors.get('b.f32')!.data[5], -0));
    });

    it('pads the header to 8 bytes and lays tensors out contiguously in name order', () => {
      const bytes = serializeSafetensors(tensors);
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      assert.strictEqual(n % 8, 0);
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
      let offset = 0;
      for (const name of Object.keys(tensors).sort()) {
        assert.strictEqual(header[name].data_offsets[0], offset, name);
        offset = header[name].data_offsets[1];
      }
      assert.strictEqual(bytes.length, 8 + n + offset);
      assert.ok(!('__metadata__' in header));
    });

    it('writes, reads and reads only the header of a file on disk', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-'));
      try {
        const file = path.join(dir, 'w.safetensors');
        writeSafetensors(file, tensors, { k: 'v' });
        assert.deepStrictEqual(fs.readdirSync(dir), ['w.safetensors']);
        const f = readSafetensors(file);
        assert.strictEqual(f.file, file);
        const header = readSafetensorsHeader(file);
        assert.deepStrictEqual(header.metadata, { k: 'v' });
        const bytes = fs.readFileSync(file);
        for (const [name, e] of header.entries) {
          const t = f.tensors.get(name)!;
          assert.strictEqual(e.dtype, t.dtype);
          assert.deepStrictEqual(e.shape, t.shape);
          // byteOffsets are absolute positions in the file
          const [a, b] = e.byteOffsets;
          if (t.dtype === 'F32') {
            assert.deepStrictEqual(Array.from(new Float32Array(bytesOf(bytes.subarray(a, b)).buffer)), Array.from(t.data));
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('rejects tensors it cannot write', () => {
      const bad: Record<string, TensorToWrite>[] = [
        { x: { dtype: 'F32', shape: [3], data: [1, 2] } },
        { x: { dtype: 'I32', shape: [1], data: [0.5] } },
        { x: { dtype: 'I32', shape: [1], data: [2 ** 31] } },
        { x: { dtype: 'I64', shape: [1], data: [2 ** 60] } },
        { __metadata__: { dtype: 'F32', shape: [0], data: [] } },
      ];
      for (const t of bad) assert.throws(() => serializeSafetensors(t), /serializeSafetensors/);
    });
  });

  describe('F16 and BF16', () => {
    it('decodes F16 special values exactly', () => {
      const cases: [number, number][] = [
        [0x0000, 0],
        [0x8000, -0],
        [0x0001, 2 ** -24], // smallest subnormal
        [0x8001, -(2 ** -24)],
        [0x03ff, 1023 * 2 ** -24], // largest subnormal
        [0x0400, 2 ** -14], // smallest normal
        [0x3c00, 1],
        [0xc000, -2],
        [0x3555, 0.333251953125],
        [0x3bff, 0.99951171875],
        [0x7bff, 65504],
        [0xfbff, -65504],
        [0x7c00, Infinity],
        [0xfc00, -Infinity],
      ];
      const out = f16ToF32(Uint16Array.from(cases.map((c) => c[0])));
      cases.forEach(([h, v], i) => assert.ok(Object.is(out[i], v), `0x${h.toString(16)}: ${out[i]} != ${v}`));
      const nans = f16ToF32(Uint16Array.of(0x7e00, 0x7c01, 0xfe00));
      assert.ok(nans.every(Number.isNaN));
    });

    it('decodes every F16 bit pattern like the IEEE definition, into a given dst', () => {
      const all = new Uint16Array(65536).map((_, i) => i);
      const dst = new Float32Array(65536);
      assert.strictEqual(f16ToF32(all, dst), dst);
      for (let h = 0; h < 65536; h++) {
        const want = f16Reference(h);
        assert.ok(Object.is(dst[h], want) || (Number.isNaN(want) && Number.isNaN(dst[h])), `0x${h.toString(16)}`);
      }
      assert.throws(() => f16ToF32(all, new Float32Array(10)), /dst/);
      // odd lengths and views at 2 mod 4 bytes take the element-at-a-time path for some or all elements
      for (const [start, len] of [[0, 7], [1, 7], [1, 8], [3, 1], [0, 0]]) {
        const got = f16ToF32(all.subarray(start, start + len));
        assert.deepStrictEqual(Array.from(got), Array.from(dst.subarray(start, start + len)), `${start}+${len}`);
      }
    });

    it('encodes F16 with round-to-nearest-even, overflow to inf and underflow to zero', () => {
      // every finite f16 value survives serialise -> parse unchanged
      const finite = Array.from({ length: 65536 }, (_, h) => f16Reference(h)).filter(Number.isFinite);
      const back = f16Of(finite);
      finite.forEach((v, i) => assert.ok(Object.is(back[i], v), `${v}`));
      const cases: [number, number][] = [
        [1 + 2 ** -11, 1], // tie, rounds to even
        [1 + 3 * 2 ** -11, 1 + 2 ** -9], // tie, rounds up to even
        [1 / 3, 0.333251953125],
        [65519, 65504],
        [65520, Infinity], // tie between 65504 and 2^16: rounds to "even", which overflows
        [1e6, Infinity],
        [-1e6, -Infinity],
        [2 ** -25, 0], // tie with zero
        [2 ** -25 * 1.5, 2 ** -24],
        [3 * 2 ** -25, 2 * 2 ** -24], // tie between subnormals 1 and 2: rounds to even
        [-1e-10, -0],
      ];
      const got = f16Of(cases.map((c) => c[0]));
      cases.forEach(([x, want], i) => assert.ok(Object.is(got[i], want), `${x} -> ${got[i]}, expected ${want}`));
      assert.ok(Number.isNaN(f16Of([NaN])[0]));
    });

    it('decodes BF16 against hand-computed values', () => {
      const cases: [number, number][] = [
        [0x3f80, 1],
        [0xc000, -2],
        [0x4049, 3.140625],
        [0x3eab, 0.333984375],
        [0x8000, -0],
        [0x0001, 2 ** -133], // smallest subnormal
        [0x0080, 2 ** -126], // smallest normal
        [0x7f7f, (2 - 2 ** -7) * 2 ** 127], // largest finite
        [0x7f80, Infinity],
        [0xff80, -Infinity],
      ];
      const out = bf16ToF32(Uint16Array.from(cases.map((c) => c[0])));
      cases.forEach(([h, v], i) => assert.ok(Object.is(out[i], v), `0x${h.toString(16)}: ${out[i]} != ${v}`));
      assert.ok(Number.isNaN(bf16ToF32(Uint16Array.of(0x7fc0))[0]));
    });
  });

  describe('other dtypes and layouts', () => {
    it('decodes BF16, F64, I16, I8, U8 and BOOL tensors from a file', () => {
      const parts = [
        bytesOf(Uint16Array.of(0x3f80, 0xc000)), // bf16 [0, 4)
        bytesOf(Float64Array.of(0.1, -1e300)), // f64 [4, 20): unaligned, copied
        bytesOf(Int16Array.of(-32768, 32767)), // i16 [20, 24)
        bytesOf(Int8Array.of(-128, 127)), // i8 [24, 26)
        Uint8Array.of(0, 255), // u8 [26, 28)
        Uint8Array.of(0, 1, 2), // bool [28, 31)
      ];
      const header = {
        bf16: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] },
        f64: { dtype: 'F64', shape: [2], data_offsets: [4, 20] },
        i16: { dtype: 'I16', shape: [2], data_offsets: [20, 24] },
        i8: { dtype: 'I8', shape: [2], data_offsets: [24, 26] },
        u8: { dtype: 'U8', shape: [2], data_offsets: [26, 28] },
        bool: { dtype: 'BOOL', shape: [3], data_offsets: [28, 31] },
      };
      const f = parseSafetensors(rawFile(header, concat(...parts)));
      const values = (n: string) => Array.from(f.tensors.get(n)!.data);
      assert.deepStrictEqual(values('bf16'), [1, -2]);
      assert.deepStrictEqual(values('f64'), [Math.fround(0.1), -Infinity]);
      assert.deepStrictEqual(values('i16'), [-32768, 32767]);
      assert.deepStrictEqual(values('i8'), [-128, 127]);
      assert.deepStrictEqual(values('u8'), [0, 255]);
      assert.deepStrictEqual(values('bool'), [0, 1, 1]);
      assert.ok(f.tensors.get('u8')!.data instanceof Int32Array);
      assert.ok(f.tensors.get('f64')!.data instanceof Float32Array);
    });

    it('decodes unaligned offsets by copying and aligned F32/I32 as zero-copy views', () => {
      const f32 = bytesOf(Float32Array.of(1.5, -2));
      const i32 = bytesOf(Int32Array.of(-7, 9));
      const f16 = bytesOf(Uint16Array.of(0x3c00));
      const header = {
        pad: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
        f32: { dtype: 'F32', shape: [2], data_offsets: [1, 9] },
        i32: { dtype: 'I32', shape: [2], data_offsets: [9, 17] },
        f16: { dtype: 'F16', shape: [1], data_offsets: [17, 19] },
      };
      // the same file at several offsets inside a bigger buffer, so each alignment case is hit
      for (let shift = 0; shift < 8; shift++) {
        const file = rawFile(header, concat(Uint8Array.of(1), f32, i32, f16));
        const host = new Uint8Array(file.length + shift);
        host.set(file, shift);
        const f = parseSafetensors(host.subarray(shift));
        assert.deepStrictEqual(Array.from(f.tensors.get('f32')!.data), [1.5, -2], `shift ${shift}`);
        assert.deepStrictEqual(Array.from(f.tensors.get('i32')!.data), [-7, 9], `shift ${shift}`);
        assert.deepStrictEqual(Array.from(f.tensors.get('f16')!.data), [1], `shift ${shift}`);
      }
      const aligned = serializeSafetensors({ x: { dtype: 'F32', shape: [2], data: [1, 2] }, y: { dtype: 'I32', shape: [1], data: [3] } });
      const f = parseSafetensors(aligned);
      assert.strictEqual(f.tensors.get('x')!.data.buffer, aligned.buffer);
      assert.strictEqual(f.tensors.get('y')!.data.buffer, aligned.buffer);
    });

    it('rejects I64 values outside the int32 range, naming the tensor', () => {
      const data = bytesOf(BigInt64Array.of(1n, 2n ** 31n));
      const file = rawFile({ big_ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, data);
      assertFormatError(() => parseSafetensors(file, LABEL), ['big_ids', 'int32', '2147483648']);
      const neg = rawFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, bytesOf(BigInt64Array.of(-(2n ** 31n))));
      assert.deepStrictEqual(Array.from(parseSafetensors(neg).tensors.get('ids')!.data), [-(2 ** 31)]);
    });
  });

  describe('fixtures', () => {
    const dir = parityDir().dir;

    it('reads the F16 rn-tiny model: shapes, values and all finite', () => {
      const file = path.join(dir, 'rn-tiny', 'model.safetensors');
      const f = readSafetensors(file);
      assert.strictEqual(f.metadata.weights, 'float16');
      const conv1 = requireTensor(f, 'visual.conv1.weight', [4, 3, 3, 3]);
      assert.strictEqual(conv1.dtype, 'F16');
      // first values, as numpy reads them (bits 11658, 46195, 6494, 12665)
      assert.deepStrictEqual(Array.from(conv1.data.subarray(0, 4)), [0.0865478515625, -0.278076171875, 0.002620697021484375, 0.1710205078125]);
      requireTensor(f, 'token_embedding.weight', [1000, 64]);
      requireTensor(f, 'visual.attnpool.positional_embedding', [5, 256]);
      requireTensor(f, 'transformer.resblocks.0.attn.in_proj_weight', [192, 64]);
      assert.deepStrictEqual(Array.from(requireTensor(f, 'logit_scale', [1]).data), [2.66015625]);
      for (const t of f.tensors.values()) {
        assert.strictEqual(t.dtype, 'F16', t.name);
        assert.ok(t.data.every(Number.isFinite), t.name);
      }
      const header = readSafetensorsHeader(file);
      assert.deepStrictEqual([...header.entries.keys()].sort(), [...f.tensors.keys()].sort());
    });

    it('reads the vit-tiny inputs: pixel_values F32 and input_ids I32', () => {
      const f = readSafetensors(path.join(dir, 'vit-tiny', 'inputs.safetensors'));
      const pixels = requireTensor(f, 'pixel_values', [3, 3, 32, 32]);
      assert.strictEqual(pixels.dtype, 'F32');
      assert.ok(pixels.data instanceof Float32Array);
      assert.ok(pixels.data.every(Number.isFinite));
      const ids = requireTensor(f, 'input_ids', [null, 16]);
      assert.strictEqual(ids.dtype, 'I32');
      assert.ok(ids.data instanceof Int32Array);
      assert.deepStrictEqual(Array.from(ids.data.subarray(0, 3)), [998, 33, 999]); // SOT, token, EOT
      for (let row = 0; row < ids.shape[0]; row++) {
        assert.strictEqual(Math.max(...ids.data.subarray(row * 16, row * 16 + 16)), 999);
      }
    });
  });

  describe('hostile files', () => {
    const valid = serializeSafetensors(
      { a: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3, 4] }, b: { dtype: 'F16', shape: [3], data: [1, 2, 3] } },
      { kind: 'test' },
    );
    const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
    const parse = (bytes: Uint8Array) => () => parseSafetensors(bytes, LABEL);
    const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

    it('rejects files shorter than the 8-byte prefix', () => {
      for (const n of [0, 1, 7]) assertFormatError(parse(valid.subarray(0, n)), ['too short', `${n} bytes`]);
    });

    it('rejects bad header lengths: zero, over the limit, beyond the file', () => {
      assertFormatError(parse(rawFile('{}', 0, 0n)), ['header length is 0']);
      assertFormatError(parse(rawFile('{}', 0, 2n ** 63n)), ['header length', 'limit']);
      assertFormatError(parse(rawFile('{}', 0, 100_000_001n)), ['header length', 'limit']);
      assertFormatError(parse(rawFile('{}', 0, 50n)), ['header length 50', 'exceeds the file', '48 bytes missing']);
    });

    it('rejects files truncated at several points, saying how much is missing', () => {
      assertFormatError(parse(valid.subarray(0, 12)), ['header length', 'truncated']);
      assertFormatError(parse(valid.subarray(0, headerEnd - 1)), ['header length', 'truncated', '1 bytes missing']);
      assertFormatError(parse(valid.subarray(0, headerEnd)), ['truncated', '"b"', '22 bytes missing']);
      assertFormatError(parse(valid.subarray(0, headerEnd + 17)), ['truncated', '"b"', '5 bytes missing']);
      assertFormatError(parse(valid.subarray(0, valid.length - 1)), ['truncated', '"b"', '1 bytes missing']);
      parseSafetensors(valid, LABEL); // the whole file is fine
    });

    it('rejects headers that are not UTF-8 JSON objects', () => {
      assertFormatError(parse(rawFile('{"a": ')), ['not valid JSON']);
      assertFormatError(parse(rawFile('not json at all')), ['not valid JSON']);
      assertFormatError(parse(rawFile('[1, 2]')), ['not an object']);
      assertFormatError(parse(rawFile('null')), ['not an object']);
      const badUtf8 = rawFile('{"\u00e9": 1}');
      badUtf8[10] = 0xff;
      assertFormatError(parse(badUtf8), ['UTF-8']);
    });

    it('rejects malformed entries, dtypes, shapes and offsets', () => {
      const cases: [unknown, string[]][] = [
        [{ x: 5 }, ['"x"', 'dtype, shape and data_offsets']],
        [{ x: { dtype: 'F32', shape: [1] } }, ['"x"', 'data_offsets']],
        [{ x: entry('F128', [1], [0, 4]) }, ['"x"', 'unknown dtype', 'F128']],
        [{ x: entry('U16', [1], [0, 2]) }, ['"x"', 'unknown dtype']],
        [{ x: entry('F32', 'big', [0, 4]) }, ['"x"', 'shape']],
        [{ x: entry('F32', [-1], [0, 4]) }, ['"x"', 'shape']],
        [{ x: entry('F32', [1.5], [0, 4]) }, ['"x"', 'shape']],
        [{ x: entry('F32', [2 ** 60], [0, 4]) }, ['"x"', 'shape']],
        [{ x: entry('F32', [1], [4, 0]) }, ['"x"', 'data_offsets']],
        [{ x: entry('F32', [1], [-4, 0]) }, ['"x"', 'data_offsets']],
        [{ x: entry('F32', [1], [0]) }, ['"x"', 'data_offsets']],
        [{ x: entry('F32', [1], ['0', '4']) }, ['"x"', 'data_offsets']],
        [{ __metadata__: { a: 1 } }, ['__metadata__', '"a"']],
        [{ __metadata__: ['a'] }, ['__metadata__']],
      ];
      for (const [header, keywords] of cases) assertFormatError(parse(rawFile(header, 16)), keywords);
    });

    it('rejects byte counts that do not match dtype and shape', () => {
      assertFormatError(parse(rawFile({ w: entry('F16', [2, 3], [0, 10]) }, 16)), ['"w"', 'mismatch', 'F16', '[2, 3]', '12 bytes', 'span 10']);
      const huge = { w: entry('F32', [2 ** 40, 2 ** 40], [0, 8]) };
      assertFormatError(parse(rawFile(huge, 16)), ['"w"', 'mismatch']);
    });

    it('rejects tensors whose data lies beyond the data buffer', () => {
      assertFormatError(parse(rawFile({ w: entry('F32', [2], [8, 16]) }, 12)), ['truncated', '"w"', '4 bytes missing']);
      assertFormatError(parse(rawFile({ w: entry('F32', [1], [2 ** 50, 2 ** 50 + 4]) }, 12)), ['truncated', '"w"']);
    });

    it('rejects overlapping tensors, naming both', () => {
      const header = { p: entry('F32', [2], [0, 8]), q: entry('F32', [2], [4, 12]) };
      assertFormatError(parse(rawFile(header, 12)), ['"p"', '"q"', 'overlap']);
      // empty tensors share offsets without overlapping
      const empties = { p: entry('F32', [0], [4, 4]), q: entry('F32', [1], [0, 4]), r: entry('I8', [0], [4, 4]) };
      assert.strictEqual(parseSafetensors(rawFile(empties, 4)).tensors.size, 3);
    });

    it('validates the header of a file on disk against its size', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-'));
      try {
        const file = path.join(dir, 'cut.safetensors');
        fs.writeFileSync(file, valid.subarray(0, valid.length - 3));
        assertFormatError(() => readSafetensorsHeader(file), ['truncated', '3 bytes missing'], file);
        assertFormatError(() => readSafetensors(file), ['truncated', '3 bytes missing'], file);
        fs.writeFileSync(file, valid.subarray(0, 5));
        assertFormatError(() => readSafetensorsHeader(file), ['too short'], file);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('requireTensor: missing tensors list similar names, wrong shapes name both shapes', () => {
      const names = Array.from({ length: 30 }, (_, i) => `layer.${i}.weight`);
      const tensors = Object.fromEntries(names.map((n): [string, TensorToWrite] => [n, { dtype: 'F32', shape: [1, 2], data: [0, 0] }]));
      const f = parseSafetensors(serializeSafetensors(tensors), LABEL);
      const err = assertFormatError(() => requireTensor(f, 'layer.3.wieght'), ['missing tensor', '"layer.3.wieght"', 'layer.3.weight']);
      const listed = err.message.split('similar names: ')[1].split(';')[0].split(', ');
      assert.strictEqual(listed.length, 10);
      assert.strictEqual(listed[0], 'layer.3.weight');
      assertFormatError(() => requireTensor(f, 'layer.3.weight', [2, 1]), ['"layer.3.weight"', 'wrong shape', '[1, 2]', '[2, 1]']);
      assertFormatError(() => requireTensor(f, 'layer.3.weight', [1, 2, 1]), ['wrong shape', '[1, 2, 1]']);
      assert.strictEqual(requireTensor(f, 'layer.3.weight', [null, 2]).name, 'layer.3.weight');
      const empty = parseSafetensors(serializeSafetensors({}), LABEL);
      assertFormatError(() => requireTensor(empty, 'x'), ['missing tensor', 'no tensors']);
    });

    it('fuzz: 200 mutations and truncations each parse or throw WeightsFormatError', () => {
      const base = serializeSafetensors(
        {
          f32: { dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
          f16: { dtype: 'F16', shape: [3], data: [1, -1, 0.5] },
          i32: { dtype: 'I32', shape: [2], data: [1, -1] },
          i64: { dtype: 'I64', shape: [2], data: [5, -5] },
        },
        { seed: '1' },
      );
      const rand = prng(12345);
      const pick = (n: number) => Math.floor(rand() * n);
      const outcomes = { parsed: 0, rejected: 0 };
      for (let trial = 0; trial < 200; trial++) {
        let bytes = base.slice();
        const kind = pick(3);
        if (kind === 0) {
          bytes = bytes.slice(0, pick(bytes.length)); // truncation
        } else {
          // 1 to 4 byte mutations, mostly in the prefix and header, where they matter
          for (let m = 1 + pick(4); m > 0; m--) {
            const at = rand() < 0.8 ? pick(headerEndOf(base)) : pick(bytes.length);
            bytes[at] = kind === 1 ? pick(256) : '0123456789{}[]",:-e.'.charCodeAt(pick(20));
          }
        }
        try {
          parseSafetensors(bytes, LABEL);
          outcomes.parsed++;
        } catch (e) {
          assert.ok(e instanceof WeightsFormatError, `trial ${trial}: ${String(e)}`);
          assert.ok(e.message.startsWith(`${LABEL}: `));
          outcomes.rejected++;
        }
      }
      assert.ok(outcomes.parsed > 0 && outcomes.rejected > 0, JSON.stringify(outcomes));
    });
  });
});

function headerEndOf(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}
