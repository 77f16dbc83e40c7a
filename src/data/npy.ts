// NumPy's .npy format (numpy.lib.format), read and written without Python: versions 1.0, 2.0 and
// 3.0, little-endian numeric dtypes, C order (Fortran-order arrays are transposed to C order on
// reading). The header is a Python dict literal; it is parsed here by a small literal parser, never
// evaluated. Object arrays (`|O`, which hold pickles) are refused.
//
// Layout: b'\x93NUMPY', major, minor, the header length (uint16 LE in 1.0; uint32 LE in 2.0 and 3.0),
// the header ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and a
// '\n'; Latin-1 in 1.0 / 2.0, UTF-8 in 3.0), then the raw data, exactly prod(shape) * itemsize bytes.
//
// Every error is one line that names the file. Reads follow src/io/files.ts: regular files only,
// with a size limit.
import * as fs from 'fs';
import * as os from 'os';
import { checkRegularFile, readFileLimited, writeFileAtomic } from '../io/files';

/** The dtypes promptlab reads (as numpy writes them in `descr`). */
export type NpyDtype = '<f4' | '<f8' | '<f2' | '<i4' | '<i8' | '|u1' | '|b1';
export const NPY_DTYPES: readonly NpyDtype[] = ['<f4', '<f8', '<f2', '<i4', '<i8', '|u1', '|b1'];

/**
 * The values of an array, C order: <f4 and <f2 as Float32Array (half floats widened exactly), <f8
 * as Float64Array, <i4 as Int32Array, <i8 as BigInt64Array, |u1 as Uint8Array, |b1 as Uint8Array
 * of 0 and 1.
 */
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface NpyArray {
  shape: number[];
  dtype: NpyDtype;
  data: NpyData;
}

export interface NpyHeader {
  version: [number, number];
  dtype: NpyDtype;
  shape: number[];
  /** The data were stored in Fortran order (readNpy returns them in C order all the same). */
  fortranOrder: boolean;
  /** Bytes before the data. */
  dataOffset: number;
  /** prod(shape) * itemsize. */
  dataBytes: number;
}

/** The read limit for an .npy file: frame features of a long video, a cache of a split's clips. */
export const NPY_MAX_BYTES = 2 * 1024 * 1024 * 1024;
/** numpy itself refuses headers over 10,000 bytes unless told otherwise; a larger one is hostile. */
export const NPY_MAX_HEADER_BYTES = 65536;
/** numpy's NPY_MAXDIMS (64 since numpy 2.0). */
export const NPY_MAX_DIMS = 64;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ITEM_SIZE: Record<NpyDtype, number> = { '<f4': 4, '<f8': 8, '<f2': 2, '<i4': 4, '<i8': 8, '|u1': 1, '|b1': 1 };
const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/** The error of a malformed .npy: one line, naming the file. */
function npyError(label: string, what: string): Error {
  return new Error(`npy file ${label}: ${what}`);
}

// ------------------------------------------------------------------------------- Python literals

/** A Python literal as the header can hold it: str, int (as a bigint), bool, None, tuple, list, dict. */
export type PyValue = string | bigint | boolean | null | { tuple: PyValue[] } | PyValue[] | Map<string, PyValue>;

const MAX_LITERAL_DEPTH = 16;

/**
 * Parses the Python literal numpy writes in an .npy header (ast.literal_eval's subset that can occur
 * there: strings, integers with an optional Python 2 `L`, True / False / None, tuples, lists and
 * dicts with string keys). Nothing is evaluated; anything else is an error with its column.
 */
export function parsePythonLiteral(text: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at column ${i + 1}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const peekChar = () => (i < text.length ? text[i] : '');
  const show = (c: string) => (c === '' ? 'the end of the header' : JSON.stringify(c));

  const str = (): string => {
    const quote = text[i++];
    let out = '';
    while (true) {
      if (i >= text.length || text[i] === '\n') fail('unterminated string');
      const c = text[i++];
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = text[i++];
      const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', '0': '\0' };
      if (e in simple) out += simple[e];
      else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i, i + 2))) {
        out += String.fromCharCode(parseInt(text.slice(i, i + 2), 16));
        i += 2;
      } else fail(`unsupported escape \\${e ?? ''} in a string`);
    }
  };

  const int = (): bigint => {
    const m = /^[+-]?\d+/.exec(text.slice(i, i + 400));
    if (!m) return fail(`unexpected ${show(peekChar())}`);
    if (m[0].replace(/^[+-]/, '').length > 300) fail('an integer of more than 300 digits');
    i += m[0].length;
    if (text[i] === 'L' || text[i] === 'l') i++; // Python 2 long
    return BigInt(m[0]);
  };

  const value = (depth: number): PyValue => {
    if (depth > MAX_LITERAL_DEPTH) fail(`nesting deeper than ${MAX_LITERAL_DEPTH}`);
    ws();
    const c = peekChar();
    if (c === "'" || c === '"') return str();
    if (c === '{' || c === '(' || c === '[') {
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      const items: PyValue[] = [];
      const dict = new Map<string, PyValue>();
      let sawComma = false;
      while (true) {
        ws();
        if (peekChar() === close) {
          i++;
          break;
        }
        if (items.length + dict.size > 0 && !sawComma) fail(`expected ',' or '${close}' but found ${show(peekChar())}`);
        if (c === '{') {
          const k = value(depth + 1);
          if (typeof k !== 'string') fail('a dict key that is not a string');
          ws();
          if (peekChar() !== ':') fail(`expected ':' but found ${show(peekChar())}`);
          i++;
          if (dict.has(k as string)) fail(`the key '${k}' twice`);
          dict.set(k as string, value(depth + 1));
        } else items.push(value(depth + 1));
        ws();
        sawComma = peekChar() === ',';
        if (sawComma) i++;
      }
      if (c === '{') return dict;
      if (c === '[') return items;
      // (x) is x, not a tuple; (x,) and () are tuples
      if (items.length === 1 && !sawComma) return items[0];
      return { tuple: items };
    }
    for (const [word, v] of [['True', true], ['False', false], ['None', null]] as const) {
      if (text.startsWith(word, i) && !/[A-Za-z0-9_]/.test(text[i + word.length] ?? '')) {
        i += word.length;
        return v;
      }
    }
    return int();
  };

  const v = value(0);
  ws();
  if (i < text.length) fail(`unexpected ${show(peekChar())} after the literal`);
  return v;
}

// ---------------------------------------------------------------------------------------- header

function checkMagic(bytes: Uint8Array, label: string): void {
  const n = Math.min(bytes.length, MAGIC.length);
  for (let k = 0; k < n; k++) {
    if (bytes[k] !== MAGIC[k]) {
      const start = Buffer.from(bytes.subarray(0, 8)).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
      throw npyError(label, `not an .npy file: it begins with ${JSON.stringify(start)}, not \\x93NUMPY`);
    }
  }
  if (bytes.length < 10) throw npyError(label, `truncated: ${bytes.length} bytes, shorter than an .npy preamble`);
}

/**
 * The header of an .npy file from its first bytes (all of them, or at least the preamble and the
 * header). `fileBytes`: the whole file's length, to check the data length against.
 */
export function parseNpyHeader(bytes: Uint8Array, label = 'npy', fileBytes: number = bytes.length): NpyHeader {
  checkMagic(bytes, label);
  const major = bytes[6];
  const minor = bytes[7];
  if (minor !== 0 || major < 1 || major > 3) throw npyError(label, `format version ${major}.${minor} is not one of 1.0, 2.0, 3.0`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw npyError(label, `truncated: ${fileBytes} bytes, shorter than a version ${major}.0 preamble`);
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const dataOffset = 8 + lengthBytes + headerLength;
  if (dataOffset > fileBytes) throw npyError(label, `the header claims ${headerLength} bytes, beyond the end of the ${fileBytes}-byte file`);
  if (headerLength > NPY_MAX_HEADER_BYTES) throw npyError(label, `a header of ${headerLength} bytes, more than the ${NPY_MAX_HEADER_BYTES} allowed`);
  if (dataOffset > bytes.length) throw npyError(label, `the header (${headerLength} bytes) was not read whole`);
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset + 8 + lengthBytes, headerLength);
  let text: string;
  if (major === 3) {
    text = raw.toString('utf8');
    if (Buffer.from(text, 'utf8').length !== raw.length || text.includes('\ufffd')) throw npyError(label, 'the version 3.0 header is not valid UTF-8');
  } else text = raw.toString('latin1');

  let literal: PyValue;
  try {
    literal = parsePythonLiteral(text);
  } catch (e) {
    throw npyError(label, `the header is not a Python literal: ${(e as Error).message}`);
  }
  if (!(literal instanceof Map)) throw npyError(label, 'the header is not a dict');
  const keys = [...literal.keys()].sort();
  if (keys.join(',') !== 'descr,fortran_order,shape') throw npyError(label, `the header's keys are ${JSON.stringify(keys)}, not descr, fortran_order and shape`);

  const descr = literal.get('descr');
  if (typeof descr !== 'string') throw npyError(label, 'a structured dtype (descr is not a string); only plain numeric arrays are read');
  if (/^[|<>=]?O\d*$/.test(descr)) throw npyError(label, `dtype ${descr} holds Python objects (pickles), which are refused`);
  if (!(NPY_DTYPES as readonly string[]).includes(descr)) {
    const hint = descr.startsWith('>') ? ' (big-endian: convert with arr.astype(arr.dtype.newbyteorder("<")))' : '';
    throw npyError(label, `dtype ${JSON.stringify(descr)} is not supported${hint}; supported: ${NPY_DTYPES.join(', ')}`);
  }
  const dtype = descr as NpyDtype;

  const fortran = literal.get('fortran_order');
  if (typeof fortran !== 'boolean') throw npyError(label, 'fortran_order is not True or False');

  const shapeValue = literal.get('shape');
  if (!(shapeValue && typeof shapeValue === 'object' && 'tuple' in shapeValue)) throw npyError(label, 'shape is not a tuple');
  const dims = shapeValue.tuple;
  if (dims.length > NPY_MAX_DIMS) throw npyError(label, `${dims.length} dimensions, more than numpy's ${NPY_MAX_DIMS}`);
  const shape: number[] = [];
  let count = 1n;
  for (const d of dims) {
    if (typeof d !== 'bigint') throw npyError(label, `shape ${describeShape(dims)} holds a value that is not an integer`);
    if (d < 0n) throw npyError(label, `shape ${describeShape(dims)} has a negative dimension`);
    if (d > BigInt(Number.MAX_SAFE_INTEGER)) throw npyError(label, `shape ${describeShape(dims)} has a dimension too large to address`);
    shape.push(Number(d));
    count *= d;
  }
  const need = count * BigInt(ITEM_SIZE[dtype]);
  const have = BigInt(fileBytes - dataOffset);
  if (need > have) throw npyError(label, `truncated: shape ${describeShape(dims)} of ${dtype} needs ${need} bytes of data, the file has ${have}`);
  if (need < have) throw npyError(label, `shape ${describeShape(dims)} of ${dtype} needs ${need} bytes of data, the file has ${have} (${have - need} bytes too many)`);
  return { version: [major, minor], dtype, shape, fortranOrder: fortran, dataOffset, dataBytes: Number(need) };
}

function describeShape(dims: PyValue[]): string {
  return `(${dims.map((d) => String(d)).join(', ')}${dims.length === 1 ? ',' : ''})`;
}

// ------------------------------------------------------------------------------------------ data

/** IEEE half-precision bits to the (exactly representable) number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A number to IEEE half-precision bits, rounding to nearest, ties to even (numpy's astype). */
export function floatToHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  // as a multiple of 2^-24 below the normal range, of 2^(e-10) above it
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  if (e < -14) {
    const m = roundHalfEven(a / 2 ** -24);
    return sign | m; // m may reach 1024: the smallest normal, which these bits also encode
  }
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/** Python's round(): to the nearest integer, halves to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The data of `header` from the file's bytes, in C order. */
function decodeData(bytes: Uint8Array, header: NpyHeader, label: string): NpyData {
  const { dtype, dataOffset, dataBytes } = header;
  const count = dataBytes / ITEM_SIZE[dtype];
  const src = bytes.subarray(dataOffset, dataOffset + dataBytes);
  // an aligned copy: the file's buffer may start at any offset
  const copy = new Uint8Array(dataBytes);
  copy.set(src);
  const dv = new DataView(copy.buffer);
  let data: NpyData;
  switch (dtype) {
    case '<f4':
      data = LITTLE_ENDIAN_HOST ? new Float32Array(copy.buffer) : Float32Array.from({ length: count }, (_, k) => dv.getFloat32(4 * k, true));
      break;
    case '<f8':
      data = LITTLE_ENDIAN_HOST ? new Float64Array(copy.buffer) : Float64Array.from({ length: count }, (_, k) => dv.getFloat64(8 * k, true));
      break;
    case '<i4':
      data = LITTLE_ENDIAN_HOST ? new Int32Array(copy.buffer) : Int32Array.from({ length: count }, (_, k) => dv.getInt32(4 * k, true));
      break;
    case '<i8':
      data = LITTLE_ENDIAN_HOST ? new BigInt64Array(copy.buffer) : BigInt64Array.from({ length: count }, (_, k) => dv.getBigInt64(8 * k, true));
      break;
    case '<f2': {
      const out = new Float32Array(count);
      for (let k = 0; k < count; k++) out[k] = halfToFloat(dv.getUint16(2 * k, true));
      data = out;
      break;
    }
    case '|u1':
      data = copy;
      break;
    case '|b1':
      for (let k = 0; k < count; k++) if (copy[k] > 1) copy[k] = 1; // numpy reads any non-zero byte as True
      data = copy;
      break;
    default:
      throw npyError(label, `dtype ${dtype} has no decoder`);
  }
  return header.fortranOrder && header.shape.length > 1 ? reorder(data, header.shape, true) : data;
}

/**
 * Reorders data of `shape` between column-major (Fortran) and row-major (C): `toC` reads Fortran order
 * and writes C order, else the reverse. Walks the C indices, the last axis fastest, keeping the
 * matching Fortran offset.
 */
function reorder<T extends NpyData>(data: T, shape: number[], toC: boolean): T {
  const n = shape.length;
  const out = new (data.constructor as { new (length: number): T })(data.length);
  const o = out as unknown as { [k: number]: unknown };
  const fStride = new Array<number>(n);
  let s = 1;
  for (let k = 0; k < n; k++) {
    fStride[k] = s;
    s *= shape[k];
  }
  const idx = new Array<number>(n).fill(0);
  let f = 0; // the Fortran offset of idx
  for (let c = 0; c < data.length; c++) {
    if (toC) o[c] = data[f];
    else o[f] = data[c];
    for (let k = n - 1; k >= 0; k--) {
      idx[k]++;
      f += fStride[k];
      if (idx[k] < shape[k]) break;
      f -= fStride[k] * shape[k];
      idx[k] = 0;
    }
  }
  return out;
}

/** An .npy file's bytes parsed; `label` (the file name) names it in errors. */
export function parseNpy(bytes: Uint8Array, label = 'npy'): NpyArray {
  const header = parseNpyHeader(bytes, label);
  return { shape: header.shape, dtype: header.dtype, data: decodeData(bytes, header, label) };
}

/** Reads an .npy file (a regular file of at most maxBytes). */
export function readNpy(file: string, opts: { maxBytes?: number } = {}): NpyArray {
  const bytes = readFileLimited(file, opts.maxBytes ?? NPY_MAX_BYTES, 'npy file');
  return parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
}

/**
 * Reads only an .npy file's header (and checks the data length against the file's size): the
 * shapes of many feature files without reading their data.
 */
export function readNpyHeader(file: string, opts: { maxBytes?: number } = {}): NpyHeader {
  const st = checkRegularFile(file, opts.maxBytes ?? NPY_MAX_BYTES, 'npy file');
  const fd = fs.openSync(file, 'r');
  try {
    const want = Math.min(st.size, 12 + NPY_MAX_HEADER_BYTES);
    const buf = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const n = fs.readSync(fd, buf, got, want - got, got);
      if (n === 0) break;
      got += n;
    }
    const head = new Uint8Array(buf.buffer, buf.byteOffset, got);
    // the preamble tells how much of the header to expect; parseNpyHeader checks it against st.size
    return parseNpyHeader(head, file, st.size);
  } finally {
    fs.closeSync(fd);
  }
}

/** The values as float32 (integers and booleans converted; <i8 beyond 2^24 lose precision, as in numpy). */
export function npyToFloat32(arr: NpyArray): Float32Array {
  const d = arr.data;
  if (d instanceof Float32Array) return d;
  const out = new Float32Array(d.length);
  if (d instanceof BigInt64Array) for (let k = 0; k < d.length; k++) out[k] = Number(d[k]);
  else out.set(d);
  return out;
}

// --------------------------------------------------------------------------------------- writing

function pythonShape(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

/**
 * The bytes of an .npy file, as numpy.save writes them (the header padded with spaces to a multiple
 * of 64 bytes). `data` is in C order and must match the dtype's array type (see NpyData; <f2 takes
 * a Float32Array, rounded to half precision); `fortranOrder` stores it column-major. Version 1.0
 * by default.
 */
export function encodeNpy(arr: NpyArray, opts: { version?: 1 | 2 | 3; fortranOrder?: boolean } = {}): Buffer {
  const { shape, dtype } = arr;
  if (!(NPY_DTYPES as readonly string[]).includes(dtype)) throw new Error(`encodeNpy: dtype ${dtype} is not one of ${NPY_DTYPES.join(', ')}`);
  for (const d of shape) if (!Number.isSafeInteger(d) || d < 0) throw new Error(`encodeNpy: shape [${shape.join(', ')}] is not a list of non-negative integers`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (arr.data.length !== count) throw new Error(`encodeNpy: ${arr.data.length} values for shape [${shape.join(', ')}]`);
  const version = opts.version ?? 1;
  const fortran = opts.fortranOrder === true;
  const dict = `{'descr': '${dtype}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${pythonShape(shape)}, }`;
  const lengthBytes = version === 1 ? 2 : 4;
  const dictBytes = Buffer.byteLength(dict, version === 3 ? 'utf8' : 'latin1');
  const unpadded = 8 + lengthBytes + dictBytes + 1;
  const headerLength = dictBytes + 1 + ((64 - (unpadded % 64)) % 64);
  if (version === 1 && headerLength > 0xffff) throw new Error('encodeNpy: the header is too long for version 1.0');
  const itemSize = ITEM_SIZE[dtype];
  const out = Buffer.alloc(8 + lengthBytes + headerLength + count * itemSize);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(headerLength, 8);
  else out.writeUInt32LE(headerLength, 8);
  const headerStart = 8 + lengthBytes;
  out.fill(0x20, headerStart, headerStart + headerLength - 1);
  out.write(dict, headerStart, version === 3 ? 'utf8' : 'latin1');
  out[headerStart + headerLength - 1] = 0x0a;

  const values = fortran && shape.length > 1 ? reorder(arr.data, shape, false) : arr.data;
  let o = headerStart + headerLength;
  for (let k = 0; k < count; k++, o += itemSize) {
    const v = values[k];
    switch (dtype) {
      case '<f4':
        out.writeFloatLE(Number(v), o);
        break;
      case '<f8':
        out.writeDoubleLE(Number(v), o);
        break;
      case '<f2':
        out.writeUInt16LE(floatToHalf(Number(v)), o);
        break;
      case '<i4':
        out.writeInt32LE(Number(v), o);
        break;
      case '<i8':
        out.writeBigInt64LE(typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v))), o);
        break;
      case '|u1':
        out[o] = Number(v);
        break;
      case '|b1':
        out[o] = Number(v) ? 1 : 0;
        break;
    }
  }
  return out;
}

/** Writes an .npy file atomically (a temporary file beside it, then a rename). */
export function writeNpy(file: string, arr: NpyArray, opts: { version?: 1 | 2 | 3; fortranOrder?: boolean } = {}): void {
  writeFileAtomic(file, encodeNpy(arr, opts));
}
