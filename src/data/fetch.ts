// promptlab fetch: downloads what a download manifest lists, resumes a partial file (HTTP Range),
// checks size and sha256 (a mismatch is an error, and the bad bytes never take the good file's name),
// skips files already there and whole, and reports progress. Manifests live in
// data-manifests/downloads/<id>.json:
//   { "id": "clip-bpe", "description": "...", "license": "...",
//     "files": [{ "url": "https://...", "path": "bpe_simple_vocab_16e6.txt.gz", "size": 1356917, "sha256": "..." }] }
// Files go to --dest, by default the user cache (PROMPTLAB_CACHE, else ~/.cache/promptlab) under the id.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { confinedPath, readJsonFile } from '../io/files';
import { REPO_ROOT } from '../repro/record';

export const DOWNLOAD_MANIFEST_DIR = path.join(REPO_ROOT, 'data-manifests', 'downloads');

export interface DownloadFile {
  url: string;
  /** Where the file goes, relative to the destination folder. */
  path: string;
  size: number;
  sha256: string;
}

export interface DownloadManifest {
  id: string;
  description: string;
  license: string;
  files: DownloadFile[];
}

/** The user cache: PROMPTLAB_CACHE, else ~/.cache/promptlab. */
export function userCacheDir(): string {
  return process.env.PROMPTLAB_CACHE || path.join(os.homedir(), '.cache', 'promptlab');
}

/** Checks a download manifest's schema; throws naming the file and the field. */
export function checkDownloadManifest(m: unknown, file: string): DownloadManifest {
  const bad = (what: string) => new Error(`download manifest ${file}: ${what}`);
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad('not a JSON object');
  const r = m as Record<string, unknown>;
  if (typeof r.id !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(r.id)) throw bad(`id ${JSON.stringify(r.id)} is not a lower-case name (letters, digits, . _ -)`);
  for (const k of ['description', 'license']) if (typeof r[k] !== 'string') throw bad(`"${k}" is not a string`);
  if (!Array.isArray(r.files) || r.files.length === 0) throw bad('"files" lists no file');
  r.files.forEach((f: unknown, i: number) => {
    const e = f as Record<string, unknown>;
    if (typeof e !== 'object' || e === null) throw bad(`files[${i}] is not an object`);
    let url: URL;
    try {
      url = new URL(String(e.url));
    } catch {
      throw bad(`files[${i}].url ${JSON.stringify(e.url)} is not a URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad(`files[${i}].url ${JSON.stringify(e.url)} is not http(s)`);
    if (url.username || url.password) throw bad(`files[${i}].url carries credentials`);
    if (typeof e.path !== 'string' || e.path === '' || path.isAbsolute(e.path) || e.path.split(/[\\/]/).includes('..')) throw bad(`files[${i}].path ${JSON.stringify(e.path)} is not a relative path inside the destination`);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) throw bad(`files[${i}].sha256 ${JSON.stringify(e.sha256)} is not 64 lower-case hex digits`);
    if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0) throw bad(`files[${i}].size ${JSON.stringify(e.size)} is not a byte count`);
  });
  return r as unknown as DownloadManifest;
}

/** A manifest by id (data-manifests/downloads/<id>.json) or from a file. */
export function loadDownloadManifest(idOrFile: string): DownloadManifest {
  const byId = /^[a-z0-9][a-z0-9._-]*$/.test(idOrFile) ? path.join(DOWNLOAD_MANIFEST_DIR, `${idOrFile}.json`) : null;
  const file = byId && fs.existsSync(byId) ? byId : idOrFile;
  if (!fs.existsSync(file)) {
    const have = fs.existsSync(DOWNLOAD_MANIFEST_DIR) ? fs.readdirSync(DOWNLOAD_MANIFEST_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)) : [];
    throw new Error(`no download manifest '${idOrFile}' (available: ${have.join(', ') || 'none'}; or give --manifest FILE)`);
  }
  return checkDownloadManifest(readJsonFile(file, 'download manifest'), file);
}

function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function formatBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(0)} kB`;
}

/** GETs url into `part` (appending from `from` with a Range request); resolves when the body ended. */
function download(url: string, part: string, from: number, total: number, progress: (done: number) => void, redirects = 5): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const get = u.protocol === 'https:' ? https.get : http.get;
    const req = get(u, { headers: from > 0 ? { Range: `bytes=${from}-` } : {}, timeout: 60000 }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects === 0) return reject(new Error(`${url}: too many redirects`));
        return resolve(download(new URL(res.headers.location, url).toString(), part, from, total, progress, redirects - 1));
      }
      if (status !== 200 && status !== 206) {
        res.resume();
        return reject(new Error(`${url}: HTTP ${status}${status === 404 ? ' (not found: the manifest may be out of date)' : ''}`));
      }
      // 206: the rest of a partial file; 200: the server ignored Range, start over
      const append = status === 206 && from > 0;
      const out = fs.createWriteStream(part, { flags: append ? 'a' : 'w' });
      let done = append ? from : 0;
      let ended = false;
      let failure: Error | null = null;
      res.on('data', (chunk: Buffer) => {
        done += chunk.length;
        if (done > total) {
          failure = new Error(`${url}: the server sends more than the manifest's ${total} bytes`);
          req.destroy(failure);
          return;
        }
        progress(done);
      });
      res.on('end', () => { ended = true; });
      // whatever arrived is on disk before the promise settles, so the next run can resume from it
      res.on('close', () => {
        if (!ended && !failure) failure = new Error(`${url}: the connection closed after ${done} of ${total} bytes; the partial file is kept and the next run resumes it`);
      });
      res.pipe(out);
      out.on('finish', () => (failure ? reject(failure) : resolve()));
      out.on('error', reject);
      res.on('error', (e) => {
        failure = failure ?? new Error(`${url}: the connection broke (${e.message}) after ${done} of ${total} bytes; the partial file is kept and the next run resumes it`);
        out.end();
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no response for 60 s`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH'].includes(e.code ?? '')) reject(new Error(`cannot reach ${u.host} (${e.code}): offline, or the host is down; the partial file is kept and the next run resumes it`));
      else reject(e);
    });
  });
}

export interface FetchResult {
  dest: string;
  files: { path: string; status: 'present' | 'downloaded' }[];
}

/** Fetches every file of the manifest into dest; see the header. */
export async function fetchManifest(m: DownloadManifest, dest: string, log: (s: string) => void = () => undefined): Promise<FetchResult> {
  fs.mkdirSync(dest, { recursive: true });
  const result: FetchResult = { dest, files: [] };
  for (const f of m.files) {
    const target = confinedPath(dest, f.path, `${m.id}: files path`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (fs.existsSync(target) && fs.statSync(target).size === f.size && sha256File(target) === f.sha256) {
      log(`${m.id}: ${f.path} is already there (sha256 checked)`);
      result.files.push({ path: f.path, status: 'present' });
      continue;
    }
    const part = `${target}.part`;
    let from = fs.existsSync(part) ? fs.statSync(part).size : 0;
    if (from > f.size) {
      fs.rmSync(part);
      from = 0;
    }
    if (from > 0) log(`${m.id}: resuming ${f.path} at ${formatBytes(from)} of ${formatBytes(f.size)}`);
    const t0 = Date.now();
    let last = 0;
    if (from < f.size) {
      await download(f.url, part, from, f.size, (done) => {
        const now = Date.now();
        if (now - last < 500 && done < f.size) return;
        last = now;
        const rate = (done - from) / Math.max((now - t0) / 1000, 1e-3);
        const eta = rate > 0 ? (f.size - done) / rate : 0;
        log(`${m.id}: ${f.path} ${formatBytes(done)} / ${formatBytes(f.size)} (${((100 * done) / Math.max(f.size, 1)).toFixed(0)}%, ${formatBytes(rate)}/s, ETA ${eta.toFixed(0)} s)`);
      });
    } else if (!fs.existsSync(part)) {
      fs.writeFileSync(part, ''); // a zero-byte file
    }
    const size = fs.statSync(part).size;
    const sha = sha256File(part);
    if (size !== f.size || sha !== f.sha256) {
      fs.rmSync(part, { force: true });
      throw new Error(`${m.id}: ${f.path} from ${f.url} is ${size} bytes with sha256 ${sha}; the manifest says ${f.size} bytes, sha256 ${f.sha256}. The download was deleted; nothing was written under ${f.path}`);
    }
    fs.renameSync(part, target);
    log(`${m.id}: ${f.path} downloaded and verified (sha256 ${sha.slice(0, 12)}...)`);
    result.files.push({ path: f.path, status: 'downloaded' });
  }
  return result;
}
