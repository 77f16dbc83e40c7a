// PyTorch checkpoints as state dicts, read without PyTorch and without running any of the file:
//   * torch.save(...) files (a zip: <name>/data.pkl plus one <name>/data/<key> entry per storage):
//     a state dict, possibly nested under 'state_dict' or 'model';
//   * TorchScript archives, as OpenAI released CLIP's .pt files (the same zip layout, data.pkl holding
//     the module tree): the tree is walked and every tensor attribute becomes a state-dict key
//     ('visual.conv1.weight', ...), as module.state_dict() would name it.
// Tensors are materialised from their storage with their offset and strides, in float32 (fp16 and
// bf16 decoded exactly). The legacy (pre-1.6, non-zip) format is refused for checkpoints with what to
// do; readTorchData reads plain data (no tensors) from either format, e.g. the CZSL metadata files.
import { bf16ToF32, f16ToF32 } from './safetensors';
import { readFileLimited, READ_LIMITS } from '../io/files';
import { unpickle, unpickleAt, type ScriptObject, type StorageRef, type TensorRef } from './pickle';
import type { StateDict, StateTensor } from './weights';
import { ZipArchive } from './zip';

const BYTES: Record<string, number> = { HalfStorage: 2, BFloat16Storage: 2, FloatStorage: 4, DoubleStorage: 8, LongStorage: 8, IntStorage: 4, ShortStorage: 2, CharStorage: 1, ByteStorage: 1, BoolStorage: 1 };

function storageValues(bytes: Uint8Array, dtype: string, numel: number, file: string, key: string): Float32Array {
  const size = BYTES[dtype];
  if (bytes.length < numel * size) throw new Error(`${file}: storage ${key} holds ${bytes.length} bytes, ${numel} ${dtype} values need ${numel * size}`);
  const copy = new Uint8Array(numel * size); // a fresh, aligned buffer (Buffer.slice would be a view)
  copy.set(bytes.subarray(0, numel * size));
  const view = new DataView(copy.buffer);
  switch (dtype) {
    case 'HalfStorage': return f16ToF32(new Uint16Array(copy.buffer, 0, numel));
    case 'BFloat16Storage': return bf16ToF32(new Uint16Array(copy.buffer, 0, numel));
    case 'FloatStorage': return new Float32Array(copy.buffer, 0, numel);
    case 'DoubleStorage': return Float32Array.from(new Float64Array(copy.buffer, 0, numel));
    case 'LongStorage': return Float32Array.from({ length: numel }, (_, i) => Number(view.getBigInt64(8 * i, true)));
    case 'IntStorage': return Float32Array.from(new Int32Array(copy.buffer, 0, numel));
    case 'ShortStorage': return Float32Array.from(new Int16Array(copy.buffer, 0, numel));
    case 'CharStorage': return Float32Array.from(new Int8Array(copy.buffer, 0, numel));
    default: return Float32Array.from(copy.subarray(0, numel)); // Byte, Bool
  }
}

function materialise(t: TensorRef, storage: Float32Array, file: string, name: string): StateTensor {
  const numel = t.size.reduce((a, b) => a * b, 1);
  const data = new Float32Array(numel);
  if (numel === 0) return { shape: t.size, data };
  let last = t.offset;
  t.size.forEach((d, i) => { last += (d - 1) * t.stride[i]; });
  if (last >= storage.length) throw new Error(`${file}: tensor ${name} (size [${t.size}], stride [${t.stride}], offset ${t.offset}) reaches past its storage of ${storage.length} values`);
  const idx = new Array(t.size.length).fill(0);
  for (let o = 0; o < numel; o++) {
    let at = t.offset;
    for (let d = 0; d < idx.length; d++) at += idx[d] * t.stride[d];
    data[o] = storage[at];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.size[d]) break;
      idx[d] = 0;
    }
  }
  return { shape: t.size.slice(), data };
}

const isTensor = (v: unknown): v is TensorRef => typeof v === 'object' && v !== null && (v as TensorRef).kind === 'tensor';
const isObject = (v: unknown): v is ScriptObject => typeof v === 'object' && v !== null && (v as ScriptObject).kind === 'object';

/** A TorchScript module tree's tensors by their state-dict names. */
function walkModule(obj: ScriptObject, prefix: string, out: Map<string, TensorRef>, depth = 0): void {
  if (depth > 64) throw new Error(`module tree deeper than 64 levels at ${prefix || 'the root'}`);
  const state = obj.state;
  if (!(state instanceof Map)) return;
  for (const [k, v] of state) {
    if (typeof k !== 'string') continue;
    const key = prefix ? `${prefix}.${k}` : k;
    if (isTensor(v)) out.set(key, v);
    else if (isObject(v)) walkModule(v, key, out, depth + 1);
  }
}

/** The tensors of a torch.save'd value: a state dict, or one nested under 'state_dict' / 'model'. */
function stateDictOf(root: unknown, file: string): Map<string, TensorRef> {
  if (isObject(root)) {
    const out = new Map<string, TensorRef>();
    walkModule(root, '', out);
    return out;
  }
  if (!(root instanceof Map)) throw new Error(`${file}: the checkpoint holds neither a state dict nor a TorchScript module`);
  for (const nested of ['state_dict', 'model']) {
    const v = root.get(nested);
    if (v instanceof Map || isObject(v)) return stateDictOf(v, file);
  }
  const out = new Map<string, TensorRef>();
  for (const [k, v] of root) if (typeof k === 'string' && isTensor(v)) out.set(k, v);
  if (out.size === 0) throw new Error(`${file}: the checkpoint's dict holds no tensors (keys: ${[...root.keys()].slice(0, 8).map(String).join(', ')})`);
  return out;
}

/**
 * Reads a PyTorch checkpoint (torch.save zip or TorchScript archive) as a float32 state dict; `info`,
 * when given, receives the storage types the tensors came from (e.g. HalfStorage).
 */
export function readTorchCheckpoint(file: string, info?: { dtypes: Set<string> }): StateDict {
  const bytes = readFileLimited(file, READ_LIMITS.weights, 'PyTorch checkpoint');
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
    throw new Error(`${file}: a legacy (pre-1.6) torch.save file, which promptlab does not read; re-save it with a current PyTorch: torch.save(torch.load(f), f2)`);
  }
  if (bytes.length < 4 || bytes.readUInt32LE(0) !== 0x04034b50) throw new Error(`${file}: not a PyTorch checkpoint (neither a torch.save zip nor a TorchScript archive)`);
  const zip = new ZipArchive(bytes, file);
  const pkl = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) throw new Error(`${file}: expected one <name>/data.pkl in the archive, found ${pkl.length}`);
  const prefix = pkl[0].slice(0, -'data.pkl'.length);
  const storages = new Map<string, StorageRef>();
  const root = unpickle(zip.read(pkl[0]), file, (pid) => {
    const [tag, type, key, , numel] = pid as [unknown, { kind?: string; name?: string }, unknown, unknown, unknown];
    const dtype = type?.name?.replace(/^torch\./, '');
    if (tag !== 'storage' || !dtype || !(dtype in BYTES) || typeof key !== 'string' || !/^[\w.]+$/.test(key) || typeof numel !== 'number') {
      throw new Error(`${file}: a persistent id that is not a torch storage (${JSON.stringify(pid.map((p) => (typeof p === 'object' ? (p as { name?: string })?.name ?? typeof p : p)))})`);
    }
    const s: StorageRef = { kind: 'storage', dtype, key, numel };
    storages.set(key, s);
    return s;
  });
  const refs = stateDictOf(root, file);
  const values = new Map<string, Float32Array>();
  const sd: StateDict = new Map();
  for (const [name, t] of refs) {
    let v = values.get(t.storage.key);
    if (!v) {
      v = storageValues(zip.read(`${prefix}data/${t.storage.key}`), t.storage.dtype, t.storage.numel, file, t.storage.key);
      values.set(t.storage.key, v);
    }
    sd.set(name, materialise(t, v, file, name));
    info?.dtypes.add(t.storage.dtype);
  }
  return sd;
}

/** The first pickle of a legacy torch.save file: this magic number (as a Python int). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

const noTensors = (file: string) => (): never => {
  throw new Error(`${file}: holds tensors, but promptlab reads only plain data (lists, dicts, strings, numbers) from this file`);
};

/**
 * Reads a torch.save'd value that holds no tensors (lists, dicts, strings, numbers: the CZSL
 * datasets' metadata_*.t7, say), from the zip format (<name>/data.pkl) or the legacy one (a magic
 * number, the protocol version and the system info pickled one after another, then the value). Dicts
 * come back as Maps, lists and tuples as arrays. Nothing in the file is executed; a tensor, an unknown
 * global or opcode is refused naming the file.
 */
export function readTorchData(file: string, maxBytes: number = READ_LIMITS.text): unknown {
  const bytes = readFileLimited(file, maxBytes, 'torch.save file');
  if (bytes.length >= 4 && bytes.readUInt32LE(0) === 0x04034b50) {
    const zip = new ZipArchive(bytes, file);
    const pkl = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkl.length !== 1) throw new Error(`${file}: expected one <name>/data.pkl in the archive, found ${pkl.length}`);
    return unpickle(zip.read(pkl[0]), file, noTensors(file));
  }
  if (bytes.length < 2 || bytes[0] !== 0x80) throw new Error(`${file}: not a torch.save file (neither a zip nor a pickle)`);
  const magic = unpickleAt(bytes, 0, file, noTensors(file));
  if (magic.value !== LEGACY_MAGIC) throw new Error(`${file}: a pickle, but not a torch.save file (its first value is not torch's magic number)`);
  const version = unpickleAt(bytes, magic.end, file, noTensors(file));
  if (version.value !== 1001) throw new Error(`${file}: torch.save protocol version ${String(version.value)}, promptlab reads 1001`);
  const sysInfo = unpickleAt(bytes, version.end, file, noTensors(file));
  const value = unpickleAt(bytes, sysInfo.end, file, noTensors(file));
  // then the list of storage keys, which a file without tensors leaves empty
  const keys = unpickleAt(bytes, value.end, file, noTensors(file));
  if (!Array.isArray(keys.value) || keys.value.length !== 0) throw new Error(`${file}: holds tensor storages, but promptlab reads only plain data from this file`);
  return value.value;
}
