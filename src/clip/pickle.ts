// A pickle reader for what promptlab needs from PyTorch files: the tensors of a checkpoint, and the
// plain data (lists, dicts, strings, numbers) of torch.save'd metadata such as the CZSL datasets'
// metadata_*.t7. It executes nothing. It understands the opcodes torch.save and TorchScript archives
// use (protocol 2-5 data opcodes) and a closed list of globals: collections.OrderedDict, torch's
// tensor rebuilders and storage types, and TorchScript's module classes (`__torch__.*`, kept as
// plain objects of attributes). Any other global or opcode is refused with the file's name, as is
// anything that would grow without bound (stack, memo, nesting).

export interface StorageRef {
  kind: 'storage';
  /** e.g. 'HalfStorage' */
  dtype: string;
  key: string;
  numel: number;
}

export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  size: number[];
  stride: number[];
}

/** A TorchScript module (or any `__torch__` class instance): its attributes. */
export interface ScriptObject {
  kind: 'object';
  cls: string;
  state: unknown;
}

interface GlobalRef {
  kind: 'global';
  name: string;
}

const STORAGE_TYPES = new Set(['HalfStorage', 'FloatStorage', 'DoubleStorage', 'BFloat16Storage', 'LongStorage', 'IntStorage', 'ShortStorage', 'CharStorage', 'ByteStorage', 'BoolStorage']);
const MAX_STACK = 1 << 20;
const MAX_MEMO = 1 << 22;

const isGlobal = (v: unknown, name?: string): v is GlobalRef => typeof v === 'object' && v !== null && (v as GlobalRef).kind === 'global' && (name === undefined || (v as GlobalRef).name === name);

function allowedGlobal(module: string, name: string, file: string): GlobalRef {
  const full = `${module}.${name}`;
  const ok = full === 'collections.OrderedDict'
    || full === 'torch._utils._rebuild_tensor_v2'
    || full === 'torch._utils._rebuild_parameter'
    || (module === 'torch' && STORAGE_TYPES.has(name))
    || module === '__torch__' || module.startsWith('__torch__.');
  if (!ok) throw new Error(`${file}: the pickle names ${full}, which promptlab does not read (only tensors, their storages, OrderedDict and TorchScript modules; nothing in the file is executed)`);
  return { kind: 'global', name: full };
}

const int = (v: unknown, what: string, file: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`${file}: ${what} is ${String(v)}, not a non-negative integer`);
  return v;
};

/**
 * Unpickles `bytes`. `persistentLoad` turns a persistent id (a tuple) into a value (torch: the
 * storages); returns the top-level object.
 */
export function unpickle(bytes: Uint8Array, file: string, persistentLoad: (pid: unknown[]) => unknown): unknown {
  return unpickleAt(bytes, 0, file, persistentLoad).value;
}

/**
 * Unpickles the pickle that starts at byte `start` of `bytes` (a file may hold several one after
 * another, as the legacy torch.save format does); returns its value and the offset after its STOP.
 */
export function unpickleAt(bytes: Uint8Array, start: number, file: string, persistentLoad: (pid: unknown[]) => unknown): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8', { fatal: false });
  let pos = start;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const fail = (what: string) => new Error(`${file}: ${what} (pickle byte ${pos})`);
  const need = (n: number) => {
    if (n < 0 || pos + n > bytes.length) throw fail(`truncated: ${n} more bytes needed`);
  };
  const u8 = () => { need(1); return bytes[pos++]; };
  const u16 = () => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const push = (v: unknown) => {
    if (stack.length >= MAX_STACK) throw fail('the stack grows beyond any checkpoint');
    stack.push(v);
  };
  const pop = () => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) throw fail('pop from an empty stack');
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw fail('no MARK for this opcode');
    return stack.splice(m);
  };
  const top = () => {
    if (stack.length === 0) throw fail('an opcode needs a value on the stack');
    return stack[stack.length - 1];
  };
  const str = (n: number) => { need(n); const s = text.decode(bytes.subarray(pos, pos + n)); pos += n; return s; };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw fail('unterminated text argument');
    const s = text.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const memoPut = (i: number, v: unknown) => {
    if (memo.size >= MAX_MEMO && !memo.has(i)) throw fail('the memo grows beyond any checkpoint');
    memo.set(i, v);
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) throw fail(`memo entry ${i} is not defined`);
    return memo.get(i);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (items.length % 2 !== 0) throw fail('SETITEMS with an odd number of values');
    if (target instanceof Map) {
      for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
    } else {
      throw fail('SETITEM(S) on something that is not a dict');
    }
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!Array.isArray(args)) throw fail('REDUCE arguments are not a tuple');
    if (isGlobal(fn, 'collections.OrderedDict')) return new Map();
    if (isGlobal(fn, 'torch._utils._rebuild_tensor_v2')) {
      const [storage, offset, size, stride] = args as [StorageRef, unknown, unknown, unknown];
      if (!storage || (storage as StorageRef).kind !== 'storage') throw fail('_rebuild_tensor_v2 without a storage');
      if (!Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length) throw fail('_rebuild_tensor_v2 with a bad size or stride');
      return { kind: 'tensor', storage, offset: int(offset, 'a tensor offset', file), size: size.map((d) => int(d, 'a tensor size', file)), stride: stride.map((d) => int(d, 'a tensor stride', file)) } as TensorRef;
    }
    if (isGlobal(fn, 'torch._utils._rebuild_parameter')) return args[0];
    throw fail(`REDUCE calls ${isGlobal(fn) ? fn.name : 'something that is not a known function'}, which promptlab does not run`);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break;                                   // PROTO
      case 0x95: need(8); pos += 8; break;                      // FRAME
      case 0x2e: {                                              // STOP
        if (stack.length !== 1) throw fail(`STOP with ${stack.length} values on the stack`);
        return { value: stack[0], end: pos };
      }
      case 0x28: marks.push(stack.length); break;               // MARK
      case 0x7d: push(new Map()); break;                        // EMPTY_DICT
      case 0x5d: push([]); break;                               // EMPTY_LIST
      case 0x29: push([]); break;                               // EMPTY_TUPLE
      case 0x74: push(popMark()); break;                        // TUPLE
      case 0x85: push([pop()]); break;                          // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); push([a, b]); break; }           // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); push([a, b, c]); break; } // TUPLE3
      case 0x6c: push(popMark()); break;                        // LIST
      case 0x64: { const items = popMark(); const d = new Map(); setItems(d, items); push(d); break; } // DICT
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) throw fail('APPEND to a non-list'); l.push(v); break; } // APPEND
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l)) throw fail('APPENDS to a non-list'); l.push(...items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; }           // SETITEMS
      case 0x71: memoPut(u8(), top()); break;                   // BINPUT
      case 0x72: memoPut(u32(), top()); break;                  // LONG_BINPUT
      case 0x94: memoPut(memo.size, top()); break;              // MEMOIZE
      case 0x68: push(memoGet(u8())); break;                    // BINGET
      case 0x6a: push(memoGet(u32())); break;                   // LONG_BINGET
      case 0x4a: { need(4); push(view.getInt32(pos, true)); pos += 4; break; }         // BININT
      case 0x4b: push(u8()); break;                             // BININT1
      case 0x4d: push(u16()); break;                            // BININT2
      case 0x8a: {                                              // LONG1
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]);
        if (n > 0 && bytes[pos + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: { need(8); push(view.getFloat64(pos, false)); pos += 8; break; }      // BINFLOAT
      case 0x4e: push(null); break;                             // NONE
      case 0x88: push(true); break;                             // NEWTRUE
      case 0x89: push(false); break;                            // NEWFALSE
      case 0x58: push(str(u32())); break;                       // BINUNICODE
      case 0x8c: push(str(u8())); break;                        // SHORT_BINUNICODE
      case 0x55: push(str(u8())); break;                        // SHORT_BINSTRING
      case 0x54: push(str(u32())); break;                       // BINSTRING
      case 0x43: { const n = u8(); need(n); push(bytes.slice(pos, pos + n)); pos += n; break; } // SHORT_BINBYTES
      case 0x42: { const n = u32(); need(n); push(bytes.slice(pos, pos + n)); pos += n; break; } // BINBYTES
      case 0x63: { const module = line(); const name = line(); push(allowedGlobal(module, name, file)); break; } // GLOBAL
      case 0x93: {                                              // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw fail('STACK_GLOBAL without two strings');
        push(allowedGlobal(module, name, file));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); push(call(fn, args)); break; } // REDUCE
      case 0x81: {                                              // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!isGlobal(cls) || !cls.name.startsWith('__torch__.')) throw fail(`NEWOBJ of ${isGlobal(cls) ? cls.name : 'a non-class'}, which promptlab does not build`);
        if (!Array.isArray(args) || args.length !== 0) throw fail(`NEWOBJ of ${cls.name} with arguments`);
        push({ kind: 'object', cls: cls.name, state: null } as ScriptObject);
        break;
      }
      case 0x62: {                                              // BUILD
        const state = pop();
        const obj = top();
        if (typeof obj === 'object' && obj !== null && (obj as ScriptObject).kind === 'object') (obj as ScriptObject).state = state;
        else if (!(obj instanceof Map)) throw fail('BUILD on something that is neither a TorchScript object nor a dict');
        // an OrderedDict's own attributes (a state dict's _metadata) are not needed
        break;
      }
      case 0x51: {                                              // BINPERSID
        const pid = pop();
        if (!Array.isArray(pid)) throw fail('a persistent id that is not a tuple');
        push(persistentLoad(pid));
        break;
      }
      default:
        throw fail(`opcode 0x${op.toString(16).padStart(2, '0')} is not one promptlab reads (only the data opcodes of torch checkpoints)`);
    }
  }
}

export function isStorageType(name: string): boolean {
  return STORAGE_TYPES.has(name.replace(/^torch\./, ''));
}
