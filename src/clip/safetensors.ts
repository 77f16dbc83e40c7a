// Safetensors reader and writer, written for hostile input.
//
// Layout: an 8-byte little-endian u64 header length N, then N bytes of UTF-8 JSON
//   {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"?: {str: str}}
// then the data buffer. Offsets are relative to the start of the data buffer (byte 8 + N).
//
// Every problem with a file surfaces as a WeightsFormatError naming the file and the problem:
// sizes are checked before anything is allocated from them, and nothing is read out of range.
// Float dtypes decode to Float32Array, integer and bool dtypes to Int32Array. F32 and I32 tensors
// at aligned offsets are zero-copy views over the input bytes (so they share its memory).
import { checkRegularFile, READ_LIMITS, readFileLimited, writeFileAtomic } from '../io/files';
import * as fs from 'fs';
import * as os from 'os';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafetensorsFile {
  file: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorEntry>;
}

/** One tensor as the header describes it; byteOffsets are absolute positions in the file. */
export interface SafetensorsHeaderEntry {
  dtype: SafetensorsDType;
  shape: number[];
  byteOffsets: [number, number];
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  entries: Map<string, SafetensorsHeaderEntry>;
}

export interface TensorToWrite {
  dtype: 'F32' | 'F16' | 'I32' | 'I64';
  shape: number[];
  data: ArrayLike<number>;
}

/** A weights file that cannot be read as what it claims to be. */
export class WeightsFormatError extends Error {
  readonly file: string;
  readonly problem: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'WeightsFormatError';
    this.file = file;
    this.problem = problem;
  }
}

// ---------------------------------------------------------------------------------------------
// Constants and small helpers

const DTYPE_SIZE: Record<SafetensorsDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Same cap as the reference implementation: a header this large is not a real checkpoint. */
const MAX_HEADER_BYTES = 100_000_000;
/** More tensors than any checkpoint holds (CLIP ViT-L/14: about 400); refused before the header is parsed. */
const MAX_TENSORS = 100_000;
const METADATA_KEY = '__metadata__';
const DEFAULT_LABEL = '<buffer>';

function isDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegativeSafeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function shapeString(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** Element count, or Infinity when it would not be a safe integer (such a tensor never fits). */
function numelOf(shape: readonly number[]): number {
  if (shape.some((d) => d === 0)) return 0;
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return n;
}

/** Sets a key even when it is "__proto__", keeping the object an ordinary one. */
function setOwn(obj: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The decoders view typed arrays over file bytes, which is only right on little-endian hosts. */
function assertLittleEndian(): void {
  if (os.endianness() !== 'LE') {
    throw new Error('safetensors: big-endian hosts are not supported (tensor data is little-endian)');
  }
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation

/** Reads and checks the 8-byte header length against the file size. */
function readHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    throw new WeightsFormatError(file, `file is ${fileSize} bytes, too short for the 8-byte header length`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n === 0n) throw new WeightsFormatError(file, 'header length is 0');
  if (n > BigInt(fileSize - 8) && prefix.subarray(0, 8).every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d)) {
    // a header length that is really text: a JSON, a config, a README given as weights
    const start = JSON.stringify(new TextDecoder().decode(prefix.subarray(0, 8)));
    throw new WeightsFormatError(file, `not a safetensors file: it begins with the text ${start} where an 8-byte header length belongs`);
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new WeightsFormatError(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const available = fileSize - 8;
  if (n > BigInt(available)) {
    throw new WeightsFormatError(
      file,
      `header length ${n} exceeds the file (${available} bytes after the length prefix; ` +
        `truncated or corrupt, ${Number(n) - available} bytes missing)`,
    );
  }
  return Number(n);
}

/** Decodes the header bytes as strict UTF-8 JSON holding an object. */
function decodeHeaderJson(bytes: Uint8Array, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new WeightsFormatError(file, 'header is not valid UTF-8');
  }
  let count = 0;
  for (let at = text.indexOf('"data_offsets"'); at !== -1; at = text.indexOf('"data_offsets"', at + 14)) {
    if (++count > MAX_TENSORS) throw new WeightsFormatError(file, `header lists more than ${MAX_TENSORS} tensors: not a model checkpoint`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new WeightsFormatError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw new WeightsFormatError(file, 'header JSON is not an object');
  return json;
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new WeightsFormatError(file, `${METADATA_KEY} must be an object mapping strings to strings`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new WeightsFormatError(file, `${METADATA_KEY} must map strings to strings (key "${k}" holds ${typeof v})`);
    }
    setOwn(out, k, v);
  }
  return out;
}

/** A header entry after validation; offsets are relative to the data buffer. */
interface RawEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/** Checks one tensor entry: its fields, and that its byte span matches dtype and shape. */
function parseEntry(name: string, value: unknown, file: string): RawEntry {
  const fail = (problem: string) => new WeightsFormatError(file, `tensor "${name}": ${problem}`);
  if (!isPlainObject(value) || !('dtype' in value) || !('shape' in value) || !('data_offsets' in value)) {
    throw fail('entry is not an object with dtype, shape and data_offsets');
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isDType(dtype)) throw fail(`unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInt)) {
    throw fail(`shape ${JSON.stringify(shape)} is not an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInt) || offsets[0] > offsets[1]) {
    throw fail(`data_offsets ${JSON.stringify(offsets)} are not two integers with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as number[];
  const expected = numelOf(shape) * DTYPE_SIZE[dtype];
  if (end - begin !== expected) {
    const need = Number.isFinite(expected) ? `${expected} bytes` : 'more bytes than can exist';
    throw fail(`byte count mismatch: ${dtype} ${shapeString(shape)} needs ${need} but data_offsets span ${end - begin}`);
  }
  return { name, dtype, shape: shape.slice(), begin, end };
}

/** Fails when any tensor ends past the data buffer, naming the one that reaches furthest. */
function checkInBounds(entries: RawEntry[], dataLength: number, file: string): void {
  let last: RawEntry | undefined;
  for (const e of entries) if (last === undefined || e.end > last.end) last = e;
  if (last !== undefined && last.end > dataLength) {
    throw new WeightsFormatError(
      file,
      `truncated: tensor "${last.name}" ends at byte ${last.end} of the data buffer, which holds only ` +
        `${dataLength} bytes (${last.end - dataLength} bytes missing)`,
    );
  }
}

/** Fails when two non-empty tensors share bytes. */
function checkNoOverlap(entries: RawEntry[], file: string): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (b.begin < a.end) {
      throw new WeightsFormatError(
        file,
        `tensors "${a.name}" [${a.begin}, ${a.end}) and "${b.name}" [${b.begin}, ${b.end}) overlap`,
      );
    }
  }
}

/** Validates a whole header against the size of the data buffer that follows it. */
function parseHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  file: string,
): { metadata: Record<string, string>; entries: RawEntry[] } {
  const json = decodeHeaderJson(headerBytes, file);
  let metadata: Record<string, string> = {};
  const entries: RawEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, file);
    else entries.push(parseEntry(name, value, file));
  }
  checkInBounds(entries, dataLength, file);
  checkNoOverlap(entries, file);
  return { metadata, entries };
}

// ---------------------------------------------------------------------------------------------
// F16 / BF16 conversion

let f16Table: Uint32Array | undefined;

/** Float32 bit pattern of every float16 bit pattern; built on first use (256 KiB). */
function f16LookupTable(): Uint32Array {
  if (f16Table !== undefined) return f16Table;
  const table = new Uint32Array(65536);
  const asFloat = new Float32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      table[h] = sign | 0x7f800000 | (mant << 13); // inf, or NaN keeping its payload
    } else if (exp !== 0) {
      table[h] = sign | ((exp - 15 + 127) << 23) | (mant << 13); // normal: rebias the exponent
    } else {
      asFloat[h] = mant * 2 ** -24; // zero or subnormal: exact in float32
      table[h] |= sign;
    }
  }
  f16Table = table;
  return table;
}

function checkDst(src: Uint16Array, dst: Float32Array | undefined, fn: string): Float32Array {
  const out = dst ?? new Float32Array(src.length);
  if (out.length < src.length) {
    throw new Error(`${fn}: dst holds ${out.length} elements, src ${src.length}`);
  }
  return out;
}

/** float16 bit patterns to float32 (exact, NaN payloads kept), via a 65536-entry table. */
export function f16ToF32(src: Uint16Array, dst?: Float32Array): Float32Array {
  const out = checkDst(src, dst, 'f16ToF32');
  const table = f16LookupTable();
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  let i = 0;
  if (src.byteOffset % 4 === 0) {
    // read two halves per 32-bit load: about 1.5x faster than one element at a time
    const pairs = new Uint32Array(src.buffer, src.byteOffset, src.length >> 1);
    const m = pairs.length;
    for (let j = 0; j < m; j++) {
      const w = pairs[j];
      bits[2 * j] = table[w & 0xffff]; // little-endian: the low half comes first
      bits[2 * j + 1] = table[w >>> 16];
    }
    i = 2 * m;
  }
  for (const n = src.length; i < n; i++) bits[i] = table[src[i]];
  return out;
}

/** bfloat16 bit patterns to float32: bfloat16 is the top half of a float32. */
export function bf16ToF32(src: Uint16Array, dst?: Float32Array): Float32Array {
  const out = checkDst(src, dst, 'bf16ToF32');
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const n = src.length;
  for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
  return out;
}

/** float32 bit pattern to float16 bit pattern, rounding to nearest even (overflow gives inf). */
function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) return sign | roundShift(mant | 0x800000, 14 - e); // subnormal or zero
  return sign | roundShift((e << 23) | mant, 13); // a carry into the exponent is still correct
}

/** m >> shift, rounded to nearest, ties to even. */
function roundShift(m: number, shift: number): number {
  if (shift > 24) return 0; // below half the smallest subnormal
  const r = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rem > half || (rem === half && (r & 1) === 1) ? r + 1 : r;
}

// ---------------------------------------------------------------------------------------------
// Tensor decoding

/** The bytes of one tensor, copied into a fresh buffer when not aligned for its element size. */
function alignedBytes(bytes: Uint8Array, begin: number, end: number, elemSize: number): Uint8Array {
  const view = bytes.subarray(begin, end);
  if (view.byteOffset % elemSize === 0) return view;
  return new Uint8Array(view); // copy: fresh buffers start at offset 0
}

function viewOf<T>(ctor: new (b: ArrayBufferLike, o: number, n: number) => T, b: Uint8Array, size: number): T {
  return new ctor(b.buffer, b.byteOffset, b.byteLength / size);
}

/** I64 to Int32Array; fails on the first value outside the int32 range. */
function decodeI64(b: Uint8Array, name: string, file: string): Int32Array {
  const words = viewOf(Int32Array, b, 4);
  const n = words.length / 2;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const lo = words[2 * i];
    const hi = words[2 * i + 1];
    // fits in int32 exactly when the high word is the sign extension of the low word
    if (hi !== lo >> 31) {
      const value = new BigInt64Array(b.buffer, b.byteOffset + 8 * i, 1)[0];
      throw new WeightsFormatError(file, `tensor "${name}": I64 value ${value} at index ${i} is outside the int32 range`);
    }
    out[i] = lo;
  }
  return out;
}

function decodeBool(b: Uint8Array): Int32Array {
  const out = new Int32Array(b.length);
  for (let i = 0; i < b.length; i++) out[i] = b[i] !== 0 ? 1 : 0;
  return out;
}

/** Decodes one validated entry from the data buffer. */
function decodeEntry(data: Uint8Array, e: RawEntry, file: string): Float32Array | Int32Array {
  const size = DTYPE_SIZE[e.dtype];
  const b = alignedBytes(data, e.begin, e.end, size);
  switch (e.dtype) {
    case 'F32': return viewOf(Float32Array, b, 4);
    case 'I32': return viewOf(Int32Array, b, 4);
    case 'F16': return f16ToF32(viewOf(Uint16Array, b, 2));
    case 'BF16': return bf16ToF32(viewOf(Uint16Array, b, 2));
    case 'F64': return Float32Array.from(viewOf(Float64Array, b, 8));
    case 'I64': return decodeI64(b, e.name, file);
    case 'I16': return Int32Array.from(viewOf(Int16Array, b, 2));
    case 'I8': return Int32Array.from(viewOf(Int8Array, b, 1));
    case 'U8': return Int32Array.from(b);
    case 'BOOL': return decodeBool(b);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Parses a whole safetensors file held in memory. F32/I32 tensors at aligned offsets are views
 * over `bytes` (no copy): do not mutate `bytes` while the result is in use.
 */
export function parseSafetensors(bytes: Uint8Array, file: string = DEFAULT_LABEL): SafetensorsFile {
  assertLittleEndian();
  const n = readHeaderLength(bytes, bytes.length, file);
  const data = bytes.subarray(8 + n);
  const { metadata, entries } = parseHeader(bytes.subarray(8, 8 + n), data.length, file);
  const tensors = new Map<string, TensorEntry>();
  for (const e of entries) {
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, data: decodeEntry(data, e, file) });
  }
  return { file, metadata, tensors };
}

/** Reads and parses a safetensors file. */
export function readSafetensors(file: string, what = 'weights file'): SafetensorsFile {
  return parseSafetensors(readFileLimited(file, READ_LIMITS.weights, what), file);
}

/** Reads `length` bytes at `position`; fails if the file gives fewer (it changed under us). */
function readExactly(fd: number, length: number, position: number, file: string): Uint8Array {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const r = fs.readSync(fd, buf, got, length - got, position + got);
    if (r === 0) throw new WeightsFormatError(file, `truncated while reading the header (${length - got} bytes missing)`);
    got += r;
  }
  return buf;
}

/**
 * Reads and validates only the header of a safetensors file (the tensor data is not read).
 * Entry byteOffsets are absolute file positions: [8 + N + begin, 8 + N + end].
 */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  checkRegularFile(file, READ_LIMITS.weights, 'weights file');
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const prefix = readExactly(fd, Math.min(size, 8), 0, file);
    const n = readHeaderLength(prefix, size, file);
    const { metadata, entries } = parseHeader(readExactly(fd, n, 8, file), size - 8 - n, file);
    const out = new Map<string, SafetensorsHeaderEntry>();
    for (const e of entries) {
      out.set(e.name, { dtype: e.dtype, shape: e.shape, byteOffsets: [8 + n + e.begin, 8 + n + e.end] });
    }
    return { metadata, entries: out };
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

const WRITABLE = new Set(['F32', 'F16', 'I32', 'I64']);

/** Checks a tensor to write; returns its byte size. Failures are caller bugs (plain Error). */
function checkToWrite(name: string, t: TensorToWrite): number {
  const fail = (problem: string) => new Error(`serializeSafetensors: tensor "${name}": ${problem}`);
  if (name === METADATA_KEY) throw fail('name is reserved');
  if (!WRITABLE.has(t.dtype)) throw fail(`cannot write dtype ${JSON.stringify(t.dtype)}`);
  if (!Array.isArray(t.shape) || !t.shape.every(isNonNegativeSafeInt)) throw fail(`bad shape ${JSON.stringify(t.shape)}`);
  const numel = numelOf(t.shape);
  if (numel !== t.data.length) throw fail(`shape ${shapeString(t.shape)} holds ${numel} elements, data ${t.data.length}`);
  if (t.dtype === 'I32' || t.dtype === 'I64') checkIntegers(t, fail);
  return numel * DTYPE_SIZE[t.dtype];
}

function checkIntegers(t: TensorToWrite, fail: (p: string) => Error): void {
  const lo = t.dtype === 'I32' ? -(2 ** 31) : Number.MIN_SAFE_INTEGER;
  const hi = t.dtype === 'I32' ? 2 ** 31 - 1 : Number.MAX_SAFE_INTEGER;
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i];
    if (!Number.isInteger(v) || v < lo || v > hi) throw fail(`value ${v} at index ${i} is not a ${t.dtype} integer`);
  }
}

/** Writes one tensor's elements, little-endian, at `offset`. F16 rounds through float32. */
function encodeTensor(out: DataView, offset: number, t: TensorToWrite): void {
  const d = t.data;
  const n = d.length;
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out.setFloat32(offset + 4 * i, d[i], true);
      return;
    case 'I32':
      for (let i = 0; i < n; i++) out.setInt32(offset + 4 * i, d[i], true);
      return;
    case 'F16': {
      const f32 = new Float32Array(1);
      const bits = new Uint32Array(f32.buffer);
      for (let i = 0; i < n; i++) {
        f32[0] = d[i];
        out.setUint16(offset + 2 * i, f32BitsToF16(bits[0]), true);
      }
      return;
    }
    case 'I64':
      for (let i = 0; i < n; i++) {
        const hi = Math.floor(d[i] / 2 ** 32);
        out.setUint32(offset + 8 * i, d[i] - hi * 2 ** 32, true);
        out.setInt32(offset + 8 * i + 4, hi, true);
      }
      return;
  }
}

/** The JSON header, padded with spaces so the data buffer starts 8-byte aligned. */
function encodeHeader(header: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  return padded;
}

/** Serialises tensors (in sorted name order, contiguous) and optional string metadata. */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header[METADATA_KEY] = parseMetadata(metadata, 'serializeSafetensors');
  const names = Object.keys(tensors).sort();
  const begins: number[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const size = checkToWrite(name, t);
    const entry = { dtype: t.dtype, shape: t.shape.slice(), data_offsets: [offset, offset + size] };
    Object.defineProperty(header, name, { value: entry, enumerable: true }); // "__proto__" is a name too
    begins.push(offset);
    offset += size;
  }
  const head = encodeHeader(header);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  names.forEach((name, i) => encodeTensor(view, 8 + head.length + begins[i], tensors[name]));
  return out;
}

/** Writes a safetensors file atomically (a temporary file beside it, then a rename). */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  writeFileAtomic(file, serializeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------------------------------------
// Lookup

/** Levenshtein distance, for suggesting names close to a missing one. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Up to `k` names of `available`, closest to `name` first. */
function similarNames(name: string, available: Iterable<string>, k = 10): string[] {
  return [...available]
    .map((n) => ({ n, d: editDistance(name, n) }))
    .sort((x, y) => x.d - y.d || (x.n < y.n ? -1 : 1))
    .slice(0, k)
    .map((x) => x.n);
}

/**
 * The tensor `name`, checked against `shape` when given (null matches any size on that axis).
 * A missing tensor's error lists up to 10 of the closest available names.
 */
export function requireTensor(f: SafetensorsFile, name: string, shape?: (number | null)[]): TensorEntry {
  const t = f.tensors.get(name);
  if (t === undefined) {
    const close = similarNames(name, f.tensors.keys());
    const hint = close.length === 0 ? 'the file holds no tensors' : `similar names: ${close.join(', ')}`;
    throw new WeightsFormatError(f.file, `missing tensor "${name}" (${hint}; ${f.tensors.size} tensors in all)`);
  }
  if (shape !== undefined) {
    const ok = shape.length === t.shape.length && shape.every((d, i) => d === null || d === t.shape[i]);
    if (!ok) {
      throw new WeightsFormatError(
        f.file,
        `tensor "${name}" has wrong shape ${shapeString(t.shape)}, expected ${shapeString(shape)}`,
      );
    }
  }
  return t;
}
