// promptlab fetch: downloads what a download manifest lists, resumes a partial file (HTTP Range),
// checks size and checksum (a mismatch is an error, and the bad bytes never take the good file's name),
// skips files already there and whole, and reports progress. Manifests live in
// data-manifests/downloads/<id>.json:
//   { "id": "clip-bpe", "description": "...", "license": "...",
//     "files": [{ "url": "https://...", "path": "bpe_simple_vocab_16e6.txt.gz", "size": 1356917, "sha256": "..." }] }
// What is not known is said so, never guessed: "size": null where the byte count is unknown (the
// checksum still decides), and "sha256": null with "verify" saying what is checked instead ("sha1"
// with a "sha1" field, "size", or "none") and a "note" saying why. A file fetched without any checksum
// is still refused when it is an HTML page (what a moved or login-walled link serves). "manual": true
// marks a file promptlab cannot download (a login, a licence form, a host that only serves a page):
// fetch downloads the rest, then stops with each such file's "note" and where to put it.
// A manifest may also describe what the files are: "model" (a released CLIP checkpoint: its name, the
// weights file and its tokenizer among the files; or, with "format": "huggingface", a Hugging Face CLIP
// folder: config.json, the weights, the folder's own tokenizer files, and the Hub repository and
// revision its URLs resolve at) or "dataset" (a benchmark: its name in the papers'
// code, the loader format, its folder under a data root and the layout inside it, expected counts,
// class-name rewrites, and the steps that turn the downloads into that layout), with "sources" (where
// each fact came from). checkDownloadManifest validates all of it.
// Files go to --dest, by default the user cache (PROMPTLAB_CACHE, else ~/.cache/promptlab) under the id.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { confinedPath, hashFile, readJsonFile } from '../io/files';
import { REPO_ROOT } from '../repro/record';

export const DOWNLOAD_MANIFEST_DIR = path.join(REPO_ROOT, 'data-manifests', 'downloads');

/** What fetch checks of a file: its sha256 (the default), its sha1, its size only, or nothing. */
export type VerifyMode = 'sha256' | 'sha1' | 'size' | 'none';
export const VERIFY_MODES: readonly VerifyMode[] = ['sha256', 'sha1', 'size', 'none'];

export interface DownloadFile {
  url: string;
  /** Where the file goes, relative to the destination folder. */
  path: string;
  /** The byte count, or null where it is not known. */
  size: number | null;
  /** The sha256, or null where it is not known (then `verify` says what is checked, and `note` why). */
  sha256: string | null;
  /** A sha1 published for the file, checked when given. */
  sha1?: string;
  /** What is checked (default 'sha256'); required when sha256 is null. */
  verify?: VerifyMode;
  /** promptlab cannot download it (login, licence form): `note` says how to get it. */
  manual?: boolean;
  note?: string;
}

/**
 * A released CLIP checkpoint: the name users type (`--model ViT-B/16`, `--model openai/clip-vit-base-patch32`),
 * its weights and tokenizer among the files.
 */
export interface ModelSection {
  name: string;
  aliases?: string[];
  /**
   * How the files are read: 'openai' (the default) is a weights file with CLIP's merges file beside it
   * (`tokenizer`); 'huggingface' is a Hugging Face CLIPModel folder: its config.json (`config`), the
   * weights, and the folder's own tokenizer files (`tokenizerFiles`), never CLIP's merges file from elsewhere.
   */
  format?: 'openai' | 'huggingface';
  /** The weights file (a files[].path). */
  weights: string;
  /** openai: the tokenizer file (a files[].path), so that the model folder is complete. */
  tokenizer?: string;
  /** huggingface: the folder's config.json (a files[].path beside the weights). */
  config?: string;
  /** huggingface: the folder's tokenizer files (files[].paths beside the weights): vocab.json + merges.txt, or tokenizer.json. */
  tokenizerFiles?: string[];
  /**
   * huggingface: the Hub repository and the revision every file's URL resolves at
   * (https://huggingface.co/<repo>/resolve/<revision>/<path>). A revision that is not a 40-digit commit
   * is a branch whose files may change: its files can carry no sha256.
   */
  hub?: { repo: string; revision: string };
  imageResolution?: number;
}

/** The weights file names a Hugging Face CLIP folder is read from (src/clip/weights.ts reads either). */
export const HF_WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin'] as const;
/** The tokenizer files of a Hugging Face folder that src/clip/tokenizer.ts reads (ClipTokenizer.fromHuggingFace). */
export const HF_TOKENIZER_FILE_SETS: readonly (readonly string[])[] = [['vocab.json', 'merges.txt'], ['tokenizer.json']];

/** The loaders that read a dataset section's layout. */
export const DATASET_FORMATS = ['coop-split', 'fgvc-variants', 'imagenet-folders', 'imagenet-label-folders', 'imagenet-wnid-folders', 'czsl', 'ade20k', 'hmdb51', 'ucf101'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** A benchmark's description: enough to find it under a data root, load it, and check it. */
export interface DatasetSection {
  /** The name in the papers' code (CoOp's DATASET.NAME, e.g. 'Caltech101'). */
  name: string;
  /** Other names it answers to (CoOp's config names, e.g. 'caltech101'). */
  aliases?: string[];
  format: DatasetFormat;
  /** Its folder under a data root (CoOp's dataset_dir, e.g. 'caltech-101'). */
  dir: string;
  /** Paths inside `dir` the loader reads, by role (relative; '.' for the folder itself). */
  layout: Record<string, string>;
  /** The hand-crafted zero-shot prompt (CoOp's CUSTOM_TEMPLATES), with {} for the class name. */
  template?: string;
  /** Expected counts (classes, train, val, test, ...); null where unknown. */
  counts?: Record<string, number | null>;
  /** Whether the counts were checked against the released files (false: quoted, see countsSource). */
  countsVerified?: boolean;
  countsSource?: string;
  /** Class-name rewrites the official code applies (old -> new), as documentation and for checks. */
  classNameRewrites?: Record<string, string>;
  /** How class names are made, in words. */
  classNames?: string;
  /** Steps that turn the downloaded files into the layout (shell commands or instructions), in `dir`. */
  prepare?: string[];
  /** A test-only benchmark (no train split of its own: ImageNet's shifted variants). */
  testOnly?: boolean;
}

export interface DownloadManifest {
  id: string;
  description: string;
  license: string;
  /** 'model', 'dataset' or 'tokenizer' (a plain list of files when absent). */
  kind?: 'model' | 'dataset' | 'tokenizer';
  /** Where the manifest's facts come from. */
  sources?: { what: string; url: string }[];
  notes?: string[];
  model?: ModelSection;
  dataset?: DatasetSection;
  files: DownloadFile[];
}

/** The user cache: PROMPTLAB_CACHE, else ~/.cache/promptlab. */
export function userCacheDir(): string {
  return process.env.PROMPTLAB_CACHE || path.join(os.homedir(), '.cache', 'promptlab');
}

const ID_RE = /^[a-z0-9][a-z0-9._-]*$/;
const isRelative = (p: unknown): p is string => typeof p === 'string' && p !== '' && !path.isAbsolute(p) && !path.win32.isAbsolute(p) && !p.split(/[\\/]/).includes('..') && !p.includes('\0');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a download manifest's schema; throws naming the file and the field. */
export function checkDownloadManifest(m: unknown, file: string): DownloadManifest {
  const bad = (what: string) => new Error(`download manifest ${file}: ${what}`);
  if (!isObject(m)) throw bad('not a JSON object');
  const r = m;
  if (typeof r.id !== 'string' || !ID_RE.test(r.id)) throw bad(`id ${JSON.stringify(r.id)} is not a lower-case name (letters, digits, . _ -)`);
  for (const k of ['description', 'license']) if (typeof r[k] !== 'string') throw bad(`"${k}" is not a string`);
  const url = (u: unknown, where: string) => {
    let parsed: URL;
    try {
      parsed = new URL(String(u));
    } catch {
      throw bad(`${where} ${JSON.stringify(u)} is not a URL`);
    }
    if (typeof u !== 'string' || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) throw bad(`${where} ${JSON.stringify(u)} is not http(s)`);
    if (parsed.username || parsed.password) throw bad(`${where} carries credentials`);
  };
  const strings = (v: unknown, where: string) => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`${where} is not a list of strings`);
  };
  if (r.kind !== undefined && !['model', 'dataset', 'tokenizer'].includes(r.kind as string)) throw bad(`kind ${JSON.stringify(r.kind)} is not model, dataset or tokenizer`);
  if (r.sources !== undefined) {
    if (!Array.isArray(r.sources)) throw bad('"sources" is not a list');
    r.sources.forEach((s: unknown, i: number) => {
      if (!isObject(s) || typeof s.what !== 'string') throw bad(`sources[${i}] is not {"what": string, "url": string}`);
      url(s.url, `sources[${i}].url`);
    });
  }
  if (r.notes !== undefined) strings(r.notes, '"notes"');
  if (!Array.isArray(r.files) || r.files.length === 0) throw bad('"files" lists no file');
  const paths = new Set<string>();
  r.files.forEach((f: unknown, i: number) => {
    if (!isObject(f)) throw bad(`files[${i}] is not an object`);
    const e = f;
    url(e.url, `files[${i}].url`);
    if (!isRelative(e.path)) throw bad(`files[${i}].path ${JSON.stringify(e.path)} is not a relative path inside the destination`);
    if (paths.has(e.path)) throw bad(`files[${i}].path ${JSON.stringify(e.path)} is listed twice`);
    paths.add(e.path);
    if (e.sha256 !== null && (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256))) throw bad(`files[${i}].sha256 ${JSON.stringify(e.sha256)} is not 64 lower-case hex digits (or null where it is not known)`);
    if (e.size !== null && (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0)) throw bad(`files[${i}].size ${JSON.stringify(e.size)} is not a byte count (or null where it is not known)`);
    if (e.sha1 !== undefined && (typeof e.sha1 !== 'string' || !/^[0-9a-f]{40}$/.test(e.sha1))) throw bad(`files[${i}].sha1 ${JSON.stringify(e.sha1)} is not 40 lower-case hex digits`);
    if (e.note !== undefined && (typeof e.note !== 'string' || e.note.trim() === '')) throw bad(`files[${i}].note is not a non-empty string`);
    if (e.manual !== undefined && typeof e.manual !== 'boolean') throw bad(`files[${i}].manual is not true or false`);
    if (e.manual === true && e.note === undefined) throw bad(`files[${i}] is manual: its "note" must say how to get it`);
    if (e.verify !== undefined && !VERIFY_MODES.includes(e.verify as VerifyMode)) throw bad(`files[${i}].verify ${JSON.stringify(e.verify)} is not one of ${VERIFY_MODES.join(', ')}`);
    const verify = (e.verify ?? 'sha256') as VerifyMode;
    if (typeof e.sha256 === 'string' && verify !== 'sha256') throw bad(`files[${i}] has a sha256, so "verify" can only be sha256 (a known checksum is always checked)`);
    if (e.sha256 === null && e.verify === undefined) throw bad(`files[${i}].sha256 is null: say what is checked instead ("verify": "sha1", "size" or "none") and why (a "note")`);
    if (verify === 'sha1' && e.sha1 === undefined) throw bad(`files[${i}].verify is sha1 but the file has no "sha1"`);
    if (verify === 'size' && e.size === null) throw bad(`files[${i}].verify is size but its size is null`);
    if (e.sha256 === null && e.note === undefined) throw bad(`files[${i}] has no sha256: its "note" must say why`);
  });
  if (r.model !== undefined) {
    const mo = r.model;
    if (!isObject(mo) || typeof mo.name !== 'string' || mo.name === '') throw bad('"model" is not {"name", "weights", ...}');
    if (mo.aliases !== undefined) strings(mo.aliases, 'model.aliases');
    if (mo.format !== undefined && mo.format !== 'openai' && mo.format !== 'huggingface') throw bad(`model.format ${JSON.stringify(mo.format)} is not openai or huggingface`);
    const isFile = (k: string, v: unknown) => {
      if (typeof v !== 'string' || !paths.has(v)) throw bad(`model.${k} ${JSON.stringify(v)} is not the path of one of the files`);
    };
    isFile('weights', mo.weights);
    if (mo.tokenizer !== undefined) isFile('tokenizer', mo.tokenizer);
    if (mo.imageResolution !== undefined && (!Number.isSafeInteger(mo.imageResolution) || (mo.imageResolution as number) <= 0)) throw bad('model.imageResolution is not a positive integer');
    if (mo.format === 'huggingface') checkHuggingFaceModel(mo, r.files as Record<string, unknown>[], isFile, bad);
    else for (const k of ['config', 'tokenizerFiles', 'hub']) if (mo[k] !== undefined) throw bad(`model.${k} belongs to a Hugging Face folder ("format": "huggingface")`);
  }
  if (r.dataset !== undefined) {
    const d = r.dataset;
    if (!isObject(d) || typeof d.name !== 'string' || d.name === '') throw bad('"dataset" is not {"name", "format", "dir", "layout", ...}');
    if (d.aliases !== undefined) strings(d.aliases, 'dataset.aliases');
    if (!DATASET_FORMATS.includes(d.format as DatasetFormat)) throw bad(`dataset.format ${JSON.stringify(d.format)} is not one of ${DATASET_FORMATS.join(', ')}`);
    if (!isRelative(d.dir) || d.dir === '.') throw bad(`dataset.dir ${JSON.stringify(d.dir)} is not a folder name under a data root`);
    if (!isObject(d.layout)) throw bad('dataset.layout is not an object of relative paths');
    for (const [k, v] of Object.entries(d.layout)) if (!isRelative(v)) throw bad(`dataset.layout.${k} ${JSON.stringify(v)} is not a relative path inside the dataset's folder`);
    if (d.template !== undefined && (typeof d.template !== 'string' || d.template.split('{}').length !== 2)) throw bad('dataset.template must hold exactly one {} for the class name');
    if (d.counts !== undefined) {
      if (!isObject(d.counts)) throw bad('dataset.counts is not an object');
      for (const [k, v] of Object.entries(d.counts)) if (v !== null && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw bad(`dataset.counts.${k} ${JSON.stringify(v)} is not a count (or null where unknown)`);
      if (typeof d.countsVerified !== 'boolean' || typeof d.countsSource !== 'string') throw bad('dataset.counts needs "countsVerified" (true or false) and "countsSource" (where they come from)');
    }
    if (d.classNameRewrites !== undefined && (!isObject(d.classNameRewrites) || Object.values(d.classNameRewrites).some((v) => typeof v !== 'string'))) throw bad('dataset.classNameRewrites is not an object of strings');
    if (d.classNames !== undefined && typeof d.classNames !== 'string') throw bad('dataset.classNames is not a string');
    if (d.prepare !== undefined) strings(d.prepare, 'dataset.prepare');
    if (d.testOnly !== undefined && typeof d.testOnly !== 'boolean') throw bad('dataset.testOnly is not true or false');
  }
  if (r.kind === 'model' && r.model === undefined) throw bad('kind is model but there is no "model" section');
  if (r.kind === 'dataset' && r.dataset === undefined) throw bad('kind is dataset but there is no "dataset" section');
  return r as unknown as DownloadManifest;
}

/**
 * The model section of a Hugging Face CLIP folder: config.json and the tokenizer files beside the
 * weights, under the names the loaders look for, and every file's URL at the section's repository and
 * revision; a branch (not a commit) pins no checksum.
 */
function checkHuggingFaceModel(mo: Record<string, unknown>, files: Record<string, unknown>[], isFile: (k: string, v: unknown) => void, bad: (what: string) => Error): void {
  const weights = mo.weights as string;
  const dir = path.posix.dirname(weights);
  const beside = (f: string) => (dir === '.' ? f : `${dir}/${f}`);
  if (!(HF_WEIGHT_FILES as readonly string[]).includes(path.posix.basename(weights))) throw bad(`model.weights ${JSON.stringify(weights)}: a Hugging Face folder's weights are ${HF_WEIGHT_FILES.join(' or ')}`);
  if (mo.tokenizer !== undefined) throw bad('model.tokenizer is a merges file for an OpenAI checkpoint; a Hugging Face folder lists its own tokenizer files in model.tokenizerFiles');
  if (mo.config !== beside('config.json')) throw bad(`model.config ${JSON.stringify(mo.config)} must be ${JSON.stringify(beside('config.json'))}: the config.json beside the weights`);
  isFile('config', mo.config);
  const tok = mo.tokenizerFiles;
  if (!Array.isArray(tok) || tok.some((t) => typeof t !== 'string')) throw bad('model.tokenizerFiles is not a list of the folder\'s tokenizer files');
  const sets = HF_TOKENIZER_FILE_SETS.map((set) => set.map(beside));
  if (!sets.some((set) => set.length === tok.length && set.every((f) => tok.includes(f)))) throw bad(`model.tokenizerFiles ${JSON.stringify(tok)} must be ${sets.map((set) => JSON.stringify(set)).join(' or ')} (the files the tokenizer reads, beside the weights)`);
  tok.forEach((t, i) => isFile(`tokenizerFiles[${i}]`, t));
  const hub = mo.hub;
  if (!isObject(hub) || typeof hub.repo !== 'string' || !/^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/.test(hub.repo) || typeof hub.revision !== 'string' || !/^[A-Za-z0-9][\w.-]*$/.test(hub.revision)) {
    throw bad(`model.hub ${JSON.stringify(hub)} is not {"repo": "<owner>/<name>", "revision": "<branch, tag or 40-digit commit>"}`);
  }
  const commit = /^[0-9a-f]{40}$/.test(hub.revision);
  files.forEach((f, i) => {
    const want = `https://huggingface.co/${hub.repo}/resolve/${hub.revision}/${f.path as string}`;
    if (f.url !== want) throw bad(`files[${i}].url ${JSON.stringify(f.url)} is not ${want} (the file at model.hub's repository and revision)`);
    if (!commit && f.sha256 !== null) throw bad(`files[${i}] has a sha256, but model.hub.revision "${hub.revision}" is a branch, not a commit: its files may change, so no checksum is pinned`);
  });
}

/** Every download manifest in data-manifests/downloads (or `dir`), checked, by id. */
export function listDownloadManifests(dir = DOWNLOAD_MANIFEST_DIR): DownloadManifest[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => {
    const file = path.join(dir, f);
    const m = checkDownloadManifest(readJsonFile(file, 'download manifest'), file);
    if (`${m.id}.json` !== f) throw new Error(`download manifest ${file}: its id is ${m.id}, so its file must be ${m.id}.json`);
    return m;
  });
}

/** The manifest file of an id in data-manifests/downloads, as a path relative to the repository. */
export function manifestPathOf(id: string): string {
  return path.relative(REPO_ROOT, path.join(DOWNLOAD_MANIFEST_DIR, `${id}.json`));
}

const nameKey = (s: string) => s.toLowerCase().replace(/[\s_]/g, '-');

/**
 * The dataset manifest whose id, dataset name or alias is `name` (case, '_' and '-' alike), or null.
 * `formats` narrows the search to some loader formats.
 */
export function findDatasetManifest(name: string, formats?: readonly DatasetFormat[], dir = DOWNLOAD_MANIFEST_DIR): DownloadManifest | null {
  const key = nameKey(name);
  for (const m of listDownloadManifests(dir)) {
    const d = m.dataset;
    if (!d || (formats && !formats.includes(d.format))) continue;
    if ([m.id, d.name, ...(d.aliases ?? [])].some((n) => nameKey(n) === key)) return m;
  }
  return null;
}

/**
 * What to add to an error about a missing file of a dataset: the manifest that describes it and
 * the command that fetches what can be fetched into the dataset's folder.
 */
export function describedBy(m: DownloadManifest | null, datasetDir: string): string {
  if (!m) return '';
  return `; ${manifestPathOf(m.id)} describes this dataset's files and layout (npx promptlab fetch ${m.id} --dest ${datasetDir}${m.dataset?.prepare?.length ? ', then the steps in its "prepare"' : ''})`;
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


function formatBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(0)} kB`;
}

/** The most a download of unknown size may grow to before it is stopped (RN50x64.pt is about 1.3 GB). */
export const MAX_UNKNOWN_SIZE = 64 * 1024 ** 3;

/**
 * GETs url into `part` (appending from `from` with a Range request); resolves when the body ended.
 * `total` is the manifest's size, or null (then the server's Content-Length only drives the progress).
 */
function download(url: string, part: string, from: number, total: number | null, progress: (done: number, total: number | null) => void, redirects = 5): Promise<void> {
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
      const length = Number(res.headers['content-length']);
      const shown = total ?? (Number.isSafeInteger(length) && length > 0 ? (append ? from : 0) + length : null);
      const limit = total ?? MAX_UNKNOWN_SIZE;
      const out = fs.createWriteStream(part, { flags: append ? 'a' : 'w' });
      let done = append ? from : 0;
      let ended = false;
      let failure: Error | null = null;
      const of = total === null ? '' : ` of ${total}`;
      res.on('data', (chunk: Buffer) => {
        done += chunk.length;
        if (done > limit) {
          failure = new Error(total === null ? `${url}: the server sends more than ${formatBytes(limit)}, the most a file of unknown size may have` : `${url}: the server sends more than the manifest's ${total} bytes`);
          req.destroy(failure);
          return;
        }
        progress(done, shown);
      });
      res.on('end', () => { ended = true; });
      // whatever arrived is on disk before the promise settles, so the next run can resume from it
      res.on('close', () => {
        if (!ended && !failure) failure = new Error(`${url}: the connection closed after ${done}${of} bytes; the partial file is kept and the next run resumes it`);
      });
      res.pipe(out);
      out.on('finish', () => (failure ? reject(failure) : resolve()));
      out.on('error', reject);
      res.on('error', (e) => {
        failure = failure ?? new Error(`${url}: the connection broke (${e.message}) after ${done}${of} bytes; the partial file is kept and the next run resumes it`);
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

/** What a file's manifest entry lets fetch check, in words. */
function checkedBy(f: DownloadFile): string {
  if (f.sha256 !== null) return 'sha256';
  if (f.sha1 !== undefined) return 'sha1';
  return f.size !== null ? 'size only' : 'nothing';
}

/** Why a file on disk is not the manifest's, or null when it is (as far as the manifest can tell). */
function mismatch(file: string, f: DownloadFile): string | null {
  const size = fs.statSync(file).size;
  if (f.size !== null && size !== f.size) return `${size} bytes; the manifest says ${f.size} bytes`;
  if (f.sha256 !== null) {
    const sha = hashFile(file, 'sha256');
    if (sha !== f.sha256) return `${size} bytes with sha256 ${sha}; the manifest says ${f.size === null ? '' : `${f.size} bytes, `}sha256 ${f.sha256}`;
  }
  if (f.sha1 !== undefined) {
    const sha1 = hashFile(file, 'sha1');
    if (sha1 !== f.sha1) return `${size} bytes with sha1 ${sha1}; the manifest says sha1 ${f.sha1}`;
  }
  if (f.sha256 === null && f.sha1 === undefined) {
    // no checksum: at least refuse the page a moved, expired or login-walled link serves instead
    const fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(512);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    if (/^\s*<(!doctype html|html)[\s>]/i.test(head.subarray(0, n).toString('latin1'))) return 'an HTML page, not the file (the link may have moved or need a login or a confirmation)';
  }
  return null;
}

/**
 * Fetches every file of the manifest into dest; see the header. Files marked manual are not
 * downloaded: when any of them is missing, fetch ends (after the others) with an error saying how to
 * get each and where to put it.
 */
export async function fetchManifest(m: DownloadManifest, dest: string, log: (s: string) => void = () => undefined): Promise<FetchResult> {
  fs.mkdirSync(dest, { recursive: true });
  const result: FetchResult = { dest, files: [] };
  const manual: string[] = [];
  for (const f of m.files) {
    const target = confinedPath(dest, f.path, `${m.id}: files path`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (fs.existsSync(target)) {
      const wrong = mismatch(target, f);
      if (wrong === null) {
        log(`${m.id}: ${f.path} is already there (${checkedBy(f) === 'nothing' ? 'not verified: the manifest has no checksum or size' : `${checkedBy(f)} checked`})`);
        result.files.push({ path: f.path, status: 'present' });
        continue;
      }
      if (f.manual) {
        manual.push(`${target} is ${wrong}. ${f.note} (${f.url})`);
        continue;
      }
    }
    if (f.manual) {
      manual.push(`${target}: ${f.note} (${f.url})`);
      continue;
    }
    const part = `${target}.part`;
    let from = fs.existsSync(part) ? fs.statSync(part).size : 0;
    if (f.size !== null && from > f.size) {
      fs.rmSync(part);
      from = 0;
    }
    const total = f.size === null ? 'an unknown size' : formatBytes(f.size);
    if (from > 0) log(`${m.id}: resuming ${f.path} at ${formatBytes(from)} of ${total}`);
    const t0 = Date.now();
    let last = 0;
    if (f.size === null || from < f.size) {
      await download(f.url, part, from, f.size, (done, size) => {
        const now = Date.now();
        if (now - last < 500 && done !== size) return;
        last = now;
        const rate = (done - from) / Math.max((now - t0) / 1000, 1e-3);
        const eta = size !== null && rate > 0 ? `, ETA ${((size - done) / rate).toFixed(0)} s` : '';
        log(`${m.id}: ${f.path} ${formatBytes(done)}${size === null ? '' : ` / ${formatBytes(size)} (${((100 * done) / Math.max(size, 1)).toFixed(0)}%`}${size === null ? ` (${formatBytes(rate)}/s)` : `, ${formatBytes(rate)}/s${eta})`}`);
      });
    } else if (!fs.existsSync(part)) {
      fs.writeFileSync(part, ''); // a zero-byte file
    }
    const wrong = mismatch(part, f);
    if (wrong !== null) {
      fs.rmSync(part, { force: true });
      throw new Error(`${m.id}: ${f.path} from ${f.url} is ${wrong}. The download was deleted; nothing was written under ${f.path}`);
    }
    fs.renameSync(part, target);
    const by = checkedBy(f);
    log(by === 'sha256' || by === 'sha1'
      ? `${m.id}: ${f.path} downloaded and verified (${by} ${(by === 'sha256' ? f.sha256 as string : f.sha1 as string).slice(0, 12)}...)`
      : `${m.id}: ${f.path} downloaded; ${by === 'size only' ? 'its size checked, no checksum' : 'NOT verified'}: ${f.note}`);
    result.files.push({ path: f.path, status: 'downloaded' });
  }
  const steps = (m.dataset?.prepare ?? []).map((l) => `  ${l}`).join('\n');
  const then = steps ? `\nthen, in ${dest}:\n${steps}` : '';
  if (manual.length > 0) {
    throw new Error(`${m.id}: ${manual.length} file(s) must be downloaded by hand${result.files.length ? ` (the other ${result.files.length} are in ${dest})` : ''}:\n${manual.map((l) => `  - ${l}`).join('\n')}${then}`);
  }
  if (steps) log(`${m.id}: the files are in ${dest}; to lay them out as the loader reads them (${manifestPathOf(m.id)}, dataset.prepare), run there:\n${steps}`);
  return result;
}
