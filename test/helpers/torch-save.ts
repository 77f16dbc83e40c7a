// Writes PyTorch files for tests (test data only, never read by the library): pickles of plain data in
// protocol 2 as torch.save writes them, torch.save's legacy (pre-1.6) and zip formats, and torch.save'd
// float32 state dicts. Made byte by byte from the pickle and zip formats, so that the safe readers are
// tested on files no PyTorch was needed to make.
import * as fs from 'fs';
import type { StateDict } from '../../src/clip/weights';

/** A tuple, as opposed to a list. */
export class Tuple {
  constructor(readonly items: unknown[]) {}
}

/** A global (module.name), e.g. to write a hostile pickle. */
export class Global {
  constructor(readonly module: string, readonly name: string) {}
}

/** A tensor of a state dict: its storage key, numel and shape (contiguous float32). */
class TensorOut {
  constructor(readonly key: string, readonly shape: number[]) {}
}

function long1(v: bigint): Buffer {
  const bytes: number[] = [];
  let x = v;
  while (true) {
    const b = Number(x & 0xffn);
    bytes.push(b);
    x >>= 8n;
    if ((x === 0n && !(b & 0x80)) || (x === -1n && b & 0x80)) break;
  }
  return Buffer.from([0x8a, bytes.length, ...bytes]);
}

function body(v: unknown, out: Buffer[]): void {
  const op = (...b: number[]) => out.push(Buffer.from(b));
  if (v === null || v === undefined) op(0x4e);
  else if (v === true) op(0x88);
  else if (v === false) op(0x89);
  else if (typeof v === 'bigint') out.push(long1(v));
  else if (typeof v === 'number' && Number.isInteger(v)) {
    if (v >= 0 && v < 256) op(0x4b, v);
    else if (v >= 0 && v < 65536) op(0x4d, v & 0xff, v >> 8);
    else if (v >= -(2 ** 31) && v < 2 ** 31) { const b = Buffer.alloc(5); b[0] = 0x4a; b.writeInt32LE(v, 1); out.push(b); }
    else out.push(long1(BigInt(v)));
  } else if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0x47;
    b.writeDoubleBE(v, 1);
    out.push(b);
  } else if (typeof v === 'string') {
    const s = Buffer.from(v, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58;
    h.writeUInt32LE(s.length, 1);
    out.push(h, s);
  } else if (v instanceof Global) {
    out.push(Buffer.from(`c${v.module}\n${v.name}\n`, 'latin1'));
  } else if (v instanceof Tuple) {
    op(0x28);
    for (const x of v.items) body(x, out);
    op(0x74);
  } else if (v instanceof TensorOut) {
    // torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())
    body(new Global('torch._utils', '_rebuild_tensor_v2'), out);
    op(0x28);
    body(new Tuple(['storage', new Global('torch', 'FloatStorage'), v.key, 'cpu', v.shape.reduce((a, b) => a * b, 1)]), out);
    op(0x51); // BINPERSID
    const stride = v.shape.map((_, i) => v.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    for (const x of [0, new Tuple(v.shape), new Tuple(stride), false]) body(x, out);
    body(new Global('collections', 'OrderedDict'), out);
    op(0x29, 0x52); // () REDUCE
    op(0x74, 0x52); // TUPLE, REDUCE
  } else if (Array.isArray(v)) {
    op(0x5d);
    if (v.length) {
      op(0x28);
      for (const x of v) body(x, out);
      op(0x65);
    }
  } else if (v instanceof Map || typeof v === 'object') {
    const entries = v instanceof Map ? [...v.entries()] : Object.entries(v as object);
    op(0x7d);
    if (entries.length) {
      op(0x28);
      for (const [k, x] of entries) { body(k, out); body(x, out); }
      op(0x75);
    }
  } else {
    throw new Error(`pickle: cannot write ${typeof v}`);
  }
}

/** A protocol-2 pickle of plain data (null, booleans, numbers, bigints, strings, arrays, objects, Maps, Tuples, Globals). */
export function pickle(v: unknown): Buffer {
  const out: Buffer[] = [Buffer.from([0x80, 0x02])];
  body(v, out);
  out.push(Buffer.from('.'));
  return Buffer.concat(out);
}

/** A zip of stored entries, as torch.save writes its archive. */
export function zipOf(entries: [string, Uint8Array][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    centrals.push(central, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** torch.save(value, file) in the zip format (PyTorch >= 1.6), for a value without tensors. */
export function torchSaveZip(file: string, value: unknown, name = 'archive'): void {
  fs.writeFileSync(file, zipOf([[`${name}/data.pkl`, pickle(value)], [`${name}/version`, Buffer.from('3\n')]]));
}

/** torch.save(value, file) in the legacy format (PyTorch < 1.6, _use_new_zipfile_serialization=False), without tensors. */
export function torchSaveLegacy(file: string, value: unknown): void {
  const sysInfo = { protocol_version: 1001, little_endian: true, type_sizes: { short: 2, int: 4, long: 4 } };
  fs.writeFileSync(file, Buffer.concat([pickle(0x1950a86a20f9469cfc6cn), pickle(1001), pickle(sysInfo), pickle(value), pickle([])]));
}

/**
 * torch.save(state_dict) in the zip format: an OrderedDict of float32 tensors, one storage each
 * (`logit_scale` written 0-dimensional, as CLIP's is).
 */
export function torchSaveStateDict(file: string, sd: StateDict): void {
  const dict = new Map<string, unknown>();
  const storages: [string, Uint8Array][] = [];
  let k = 0;
  for (const [name, t] of sd) {
    const key = String(k++);
    const shape = name === 'logit_scale' && t.data.length === 1 ? [] : t.shape;
    dict.set(name, new TensorOut(key, shape));
    const data = Float32Array.from(t.data);
    storages.push([`archive/data/${key}`, new Uint8Array(data.buffer)]);
  }
  const out: Buffer[] = [Buffer.from([0x80, 0x02])];
  body(new Global('collections', 'OrderedDict'), out);
  out.push(Buffer.from([0x29, 0x52])); // OrderedDict()
  out.push(Buffer.from([0x28]));
  for (const [name, t] of dict) { body(name, out); body(t, out); }
  out.push(Buffer.from([0x75, 0x2e])); // SETITEMS, STOP
  fs.writeFileSync(file, zipOf([['archive/data.pkl', Buffer.concat(out)], ...storages, ['archive/version', Buffer.from('3\n')]]));
}
