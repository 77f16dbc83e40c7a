// A read-only ZIP reader for PyTorch's checkpoint archives (torch.save and TorchScript both write a
// zip): the central directory, stored and deflated entries, nothing else. Entry names are checked
// (no absolute paths, no '..'), sizes are bounded by the file, and anything unexpected (ZIP64,
// encryption, other compression methods) is refused with the archive's name.
import * as zlib from 'zlib';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  offset: number; // of the local header
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();

  constructor(private readonly bytes: Uint8Array, readonly file: string) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const fail = (what: string) => new Error(`${file}: not a readable PyTorch zip archive (${what})`);
    // the end-of-central-directory record: the last 22 bytes, or earlier when a comment follows
    let eocd = -1;
    for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
      if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
    }
    if (eocd < 0) throw fail('no end-of-central-directory record');
    const count = buf.readUInt16LE(eocd + 10);
    const cdSize = buf.readUInt32LE(eocd + 12);
    let at = buf.readUInt32LE(eocd + 16);
    if (count === 0xffff || at === 0xffffffff || cdSize === 0xffffffff) throw fail('ZIP64 archives are not supported');
    if (at + cdSize > buf.length) throw fail('the central directory lies past the end of the file');
    for (let n = 0; n < count; n++) {
      if (at + 46 > buf.length || buf.readUInt32LE(at) !== 0x02014b50) throw fail(`central directory entry ${n} is damaged`);
      const flags = buf.readUInt16LE(at + 8);
      const method = buf.readUInt16LE(at + 10);
      const compressedSize = buf.readUInt32LE(at + 20);
      const size = buf.readUInt32LE(at + 24);
      const nameLen = buf.readUInt16LE(at + 28);
      const extraLen = buf.readUInt16LE(at + 30);
      const commentLen = buf.readUInt16LE(at + 32);
      const offset = buf.readUInt32LE(at + 42);
      const name = buf.toString('utf8', at + 46, at + 46 + nameLen);
      if (flags & 1) throw fail(`entry ${name} is encrypted`);
      if (method !== 0 && method !== 8) throw fail(`entry ${name} uses compression method ${method} (only stored and deflated are read)`);
      if (name.startsWith('/') || name.split('/').includes('..') || name.includes('\\')) throw fail(`entry name ${JSON.stringify(name)} points outside the archive`);
      if (offset + 30 > buf.length || offset + compressedSize > buf.length) throw fail(`entry ${name} lies past the end of the file`);
      this.entries.set(name, { name, method, compressedSize, size, offset });
      at += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** An entry's bytes (inflated when deflated), or an error naming the archive and the entry. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) throw new Error(`${this.file}: the archive has no entry ${name}`);
    const buf = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    if (buf.readUInt32LE(e.offset) !== 0x04034b50) throw new Error(`${this.file}: entry ${name} has no local header`);
    const start = e.offset + 30 + buf.readUInt16LE(e.offset + 26) + buf.readUInt16LE(e.offset + 28);
    if (start + e.compressedSize > buf.length) throw new Error(`${this.file}: entry ${name} lies past the end of the file`);
    const raw = this.bytes.subarray(start, start + e.compressedSize);
    if (e.method === 0) return raw;
    try {
      return zlib.inflateRawSync(raw, { maxOutputLength: Math.max(e.size, 1) });
    } catch (err) {
      throw new Error(`${this.file}: entry ${name} does not inflate to its ${e.size} bytes (${(err as Error).message})`);
    }
  }

  /** The names of the entries, in archive order. */
  names(): string[] {
    return [...this.entries.keys()];
  }
}
