// File policy, in one place: what promptlab reads and writes, and how.
//   * every read has a size limit (named in the error) and takes regular files only (no devices,
//     FIFOs or directories, which would hang or grow without end);
//   * every path taken from a file or a record is confined to its folder;
//   * every result, record, checkpoint and figure is written atomically (a temporary file beside it,
//     then a rename), so a kill never leaves a half-written file under the real name; the
//     temporaries a killed process left behind are removed by the next writer of that folder.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** Default read limits (bytes). */
export const READ_LIMITS = {
  json: 64 * 1024 * 1024,          // results, records, manifests, configs, tokenizer.json
  text: 256 * 1024 * 1024,         // bpe vocabularies, logs
  weights: 16 * 1024 * 1024 * 1024, // checkpoints
} as const;

const TMP_MARK = '.tmp-';

function sizeText(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * The stat of a regular file no larger than maxBytes, or a one-line error naming the file and what
 * is wrong (missing, not a regular file, too large).
 */
export function checkRegularFile(file: string, maxBytes: number, what = 'file'): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${what} ${file} does not exist` : `${what} ${file} cannot be read (${code ?? (e as Error).message})`);
  }
  if (!st.isFile()) throw new Error(`${what} ${file} is not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'a special file'})`);
  if (st.size > maxBytes) throw new Error(`${what} ${file} is ${sizeText(st.size)}, more than the ${sizeText(maxBytes)} allowed`);
  return st;
}

/** A regular file's bytes, refused beyond maxBytes. */
export function readFileLimited(file: string, maxBytes: number, what = 'file'): Buffer {
  checkRegularFile(file, maxBytes, what);
  const bytes = fs.readFileSync(file);
  if (bytes.length > maxBytes) throw new Error(`${what} ${file} grew beyond the ${sizeText(maxBytes)} allowed while being read`);
  return bytes;
}

/** A regular file's text (UTF-8), refused beyond maxBytes. */
export function readTextLimited(file: string, maxBytes: number = READ_LIMITS.text, what = 'file'): string {
  return readFileLimited(file, maxBytes, what).toString('utf8');
}

/** A JSON file parsed, with the file's name in every error. */
export function readJsonFile<T = unknown>(file: string, what = 'JSON file', maxBytes: number = READ_LIMITS.json): T {
  const text = readTextLimited(file, maxBytes, what);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${what} ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * root joined with a relative path taken from a file or record, refused when it is absolute or
 * leaves root (`..`, or a symbolic link pointing out, when the target exists).
 */
export function confinedPath(root: string, relative: string, what = 'path'): string {
  if (typeof relative !== 'string' || relative.length === 0) throw new Error(`${what}: expected a relative path inside ${root}, got ${JSON.stringify(relative)}`);
  if (relative.includes('\0')) throw new Error(`${what}: ${JSON.stringify(relative)} contains a NUL character`);
  if (path.isAbsolute(relative) || path.win32.isAbsolute(relative)) throw new Error(`${what}: ${JSON.stringify(relative)} is absolute; only paths inside ${root} are allowed`);
  const base = path.resolve(root);
  const full = path.resolve(base, relative);
  const inside = (p: string, b: string) => p === b || p.startsWith(b.endsWith(path.sep) ? b : b + path.sep);
  if (!inside(full, base)) throw new Error(`${what}: ${JSON.stringify(relative)} leaves ${root}; only paths inside it are allowed`);
  if (fs.existsSync(full)) {
    const realBase = fs.realpathSync(base);
    const realFull = fs.realpathSync(full);
    if (!inside(realFull, realBase)) throw new Error(`${what}: ${JSON.stringify(relative)} is a link out of ${root} (to ${realFull})`);
  }
  return full;
}

/** Writes a file atomically: a temporary file beside it, then a rename over the real name. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}${TMP_MARK}${process.pid}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files (`NAME.tmp-PID`) in dir that a killed process left behind: those whose
 * process no longer runs. With `recursive`, in every folder below dir too (links are not followed).
 * Returns their paths relative to dir.
 */
export function removeStaleTemporaries(dir: string, opts: { recursive?: boolean } = {}): string[] {
  if (!fs.existsSync(dir) || !fs.lstatSync(dir).isDirectory()) return [];
  const removed: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (opts.recursive) removed.push(...removeStaleTemporaries(full, opts).map((n) => path.join(entry.name, n)));
      continue;
    }
    const at = entry.name.lastIndexOf(TMP_MARK);
    if (at <= 0 || !entry.isFile()) continue;
    const pid = Number(entry.name.slice(at + TMP_MARK.length));
    if (!Number.isInteger(pid) || pid <= 0 || processAlive(pid)) continue;
    fs.rmSync(full, { force: true });
    removed.push(entry.name);
  }
  return removed;
}

/** The hex digest of a file, read in 1 MiB pieces (a released checkpoint can be larger than one Buffer). */
export function hashFile(file: string, algorithm: 'sha256' | 'sha1'): string {
  const h = createHash(algorithm);
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}
