// Results and run records in the pinned format: DIR/results.json with the experiment, its config,
// the environment, one row per measurement and a summary (mean, std, n) per method/dataset/split.
import { confinedPath, hashFile, readJsonFile, removeStaleTemporaries, writeFileAtomic } from '../io/files';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo } from '../backend';
import { commandOutput } from '../backend/system';
import { frozenRuntime, onnxRuntimeVersion } from '../onnx/runtime';
import { contentSha256, loadManifest, sameHeader, WORLD_MANIFEST_DIR, type DescribedDataset } from '../data/manifest';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface ResultRow {
  method: string;
  dataset: string;
  split: string;
  metric: string;
  seed: number;
  value: number;
}

export interface SummaryRow {
  method: string;
  dataset: string;
  split: string;
  metric: string;
  mean: number;
  std: number;
  n: number;
}

export interface Environment {
  node: string;
  backend: string | null;
  tfjs: string;
  cpu: string;
  cpus: number;
  /** The GPU the backend computes on (node-gpu only), from nvidia-smi. */
  gpu: string | null;
  platform: string;
  git: { commit: string | null; dirty: boolean | null };
  /** Where the frozen towers' calls without a gradient tape ran when not on the backend (PROMPTLAB_FROZEN=onnx): "onnxruntime-node 1.30.0". */
  frozen?: string;
}

function git(args: string[]): string | null {
  return commandOutput('git', ['-C', REPO_ROOT, ...args], 30000);
}

export function environment(): Environment {
  // results/ and the executed notebooks hold the committed outputs of runs (notebooks call the
  // library, they define none of it): writing them does not make the code dirty
  const status = git(['status', '--porcelain', '--', '.', ':(exclude)results', ':(exclude,glob)notebooks/*.ipynb']);
  const backend = backendInfo()?.name ?? null;
  return {
    node: process.versions.node,
    backend,
    tfjs: tf.version.tfjs,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    gpu: backend === 'node-gpu' ? commandOutput('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader']) : null,
    platform: `${os.platform()} ${os.arch()}`,
    git: { commit: git(['rev-parse', 'HEAD']), dirty: status === null ? null : status.length > 0 },
    ...(frozenRuntime() === 'onnx' ? { frozen: `onnxruntime-node ${onnxRuntimeVersion() ?? '(does not load)'}` } : {}),
  };
}

/** Mean, sample standard deviation and count per (method, dataset, split, metric), plus the average over datasets. */
export function summarise(rows: ResultRow[]): SummaryRow[] {
  const groups = new Map<string, ResultRow[]>();
  const add = (key: string, r: ResultRow) => groups.set(key, [...(groups.get(key) ?? []), r]);
  for (const r of rows) add(JSON.stringify([r.method, r.dataset, r.split, r.metric]), r);
  // average over datasets: per seed, the mean over datasets; then mean/std over seeds. Where an
  // experiment gives its own 'average' rows (base-to-new's H from the averaged accuracies), those stand.
  const explicit = new Set(rows.filter((r) => r.dataset === 'average').map((r) => JSON.stringify([r.method, r.split, r.metric])));
  const perSeed = new Map<string, ResultRow[]>();
  for (const r of rows) {
    if (r.dataset === 'average' || explicit.has(JSON.stringify([r.method, r.split, r.metric]))) continue;
    const k = JSON.stringify([r.method, r.split, r.metric, r.seed]);
    perSeed.set(k, [...(perSeed.get(k) ?? []), r]);
  }
  for (const [k, rs] of perSeed) {
    const [method, split, metric, seed] = JSON.parse(k) as [string, string, string, number];
    const value = rs.reduce((s, r) => s + r.value, 0) / rs.length;
    add(JSON.stringify([method, 'average', split, metric]), { method, dataset: 'average', split, metric, seed, value });
  }
  return [...groups.entries()].map(([k, rs]) => {
    const [method, dataset, split, metric] = JSON.parse(k) as string[];
    const n = rs.length;
    const mean = rs.reduce((s, r) => s + r.value, 0) / n;
    const std = n > 1 ? Math.sqrt(rs.reduce((s, r) => s + (r.value - mean) ** 2, 0) / (n - 1)) : 0;
    return { method, dataset, split, metric, mean, std, n };
  });
}

/** What data a run used: enough to tell whether two runs saw the same pixels. */
export interface DataRecord {
  dataset: string;
  /** The manifest id of this variant (e.g. world-patterns-quick-seed1; a folder dataset's download manifest, e.g. coop-caltech101). */
  id: string;
  variant: 'quick' | 'full';
  seed: number;
  /** The world's generator and benchmark versions (world datasets only). */
  generatorVersion?: number;
  benchmarkVersion?: number;
  counts: Record<string, number>;
  /** sha256 over every item (world: data/manifest.ts contentSha256; a folder dataset: its split files, file names and labels, data/real.ts). */
  contentSha256: string;
  /** The committed manifest it matches (full variant, seed 0; a folder dataset's download manifest), with the file's own sha256. */
  manifest: { file: string; sha256: string } | null;
  /** A folder dataset's folder and loader format. */
  root?: string;
  format?: string;
}

/** What model a run used: the sha256 of each of its files. */
export interface ModelRecord {
  dir: string;
  files: Record<string, string>;
}

export function sha256File(file: string): string {
  return hashFile(file, 'sha256');
}

/**
 * The data record of a world dataset. For the full variant with seed 0 the committed manifest's
 * checksum stands (the test suite recomputes it from the generator); otherwise the content is hashed
 * here (quick variants are small).
 */
export function describeData(ds: DescribedDataset, variant: 'quick' | 'full'): DataRecord {
  const header = ds.manifestHeader();
  let manifest: DataRecord['manifest'] = null;
  let content: string | null = null;
  if (variant === 'full' && header.seed === 0) {
    const m = loadManifest(header.id);
    if (sameHeader(m, header)) {
      const file = path.join(WORLD_MANIFEST_DIR, `${header.id}.json`);
      manifest = { file: path.relative(REPO_ROOT, file), sha256: sha256File(file) };
      content = m.contentSha256;
    }
  }
  return {
    dataset: ds.name,
    id: header.id,
    variant,
    seed: header.seed,
    generatorVersion: header.generatorVersion,
    benchmarkVersion: header.benchmarkVersion,
    counts: { ...header.counts },
    contentSha256: content ?? contentSha256(ds),
    manifest,
  };
}

/**
 * The model record: sha256 of every file in the model folder (weights, vocabulary, config), or of a
 * weights file and `extra` files used with it (its tokenizer).
 */
export function describeModel(dir: string, extra: readonly string[] = []): ModelRecord {
  const files: Record<string, string> = {};
  if (fs.statSync(dir).isFile()) {
    for (const f of [dir, ...extra]) files[path.basename(f)] = sha256File(f);
    return { dir, files };
  }
  for (const f of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, f);
    if (fs.statSync(full).isFile() && /\.(safetensors|txt|json)$/.test(f)) files[f] = sha256File(full);
  }
  for (const f of extra) files[path.basename(f)] = sha256File(f);
  return { dir, files };
}

export interface Results {
  experiment: string;
  config: Record<string, unknown>;
  env: Environment;
  rows: ResultRow[];
  summary: SummaryRow[];
  /** The data and model the run used (absent in records written before they were recorded). */
  data?: DataRecord[];
  model?: ModelRecord;
}

/**
 * Writes DIR/results.json in the pinned format (experiment, config, env, rows, summary) and the run
 * records beside it: DIR/record.json (config, environment, data and model checksums) and one per
 * seed, DIR/seed<k>/record.json (the same plus that seed's rows). `env` defaults to now; a run
 * passes the environment it started in (a commit made while it ran did not make it). Returns the
 * results with the data and model records attached.
 */
export function writeResults(dir: string, experiment: string, config: Record<string, unknown>, rows: ResultRow[], used: { data?: DataRecord[]; model?: ModelRecord } = {}, env: Environment = environment()): Results {
  const seeds = [...new Set(rows.map((r) => r.seed))];
  for (const seed of seeds) {
    // a seed names a folder (seed<k>): only whole numbers, so no row can write outside dir
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) throw new Error(`writeResults: a row's seed is ${JSON.stringify(seed)}; seeds are whole numbers >= 0`);
  }
  const pinned = { experiment, config, env, rows, summary: summarise(rows) };
  fs.mkdirSync(dir, { recursive: true });
  removeStaleTemporaries(dir, { recursive: true });
  // results.json last: a run killed while writing leaves no results.json without its records (a
  // sweep takes results.json as "finished")
  for (const seed of seeds) {
    const seedDir = confinedPath(dir, `seed${seed}`, 'writeResults');
    const record = { experiment, seed, config, env, rows: rows.filter((r) => r.seed === seed), ...used };
    writeFileAtomic(path.join(seedDir, 'record.json'), JSON.stringify(record, null, 2) + '\n');
  }
  writeFileAtomic(path.join(dir, 'record.json'), JSON.stringify({ experiment, config, env, ...used }, null, 2) + '\n');
  writeFileAtomic(path.join(dir, 'results.json'), JSON.stringify(pinned, null, 2) + '\n');
  return { ...pinned, ...used };
}

/**
 * The pinned format's structure (the values are checked where they are used): an object with the
 * experiment's name, config and env objects, rows of {method, dataset, split, metric: strings,
 * seed: a whole number, value: a number} and a summary list. Throws naming the file and the field.
 */
export function checkResults(r: unknown, file: string): asserts r is Results {
  const bad = (what: string) => new Error(`results file ${file}: ${what}; not a promptlab results.json (rerun the experiment, or restore the file)`);
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(r)) throw bad('not a JSON object');
  if (typeof r.experiment !== 'string') throw bad('"experiment" is not a string');
  for (const key of ['config', 'env'] as const) if (!isObject(r[key])) throw bad(`"${key}" is not an object`);
  const env = r.env as Record<string, unknown>;
  if (env.backend !== null && typeof env.backend !== 'string') throw bad('"env.backend" is not a string');
  if (!isObject(env.git)) throw bad('"env.git" is not an object');
  if (env.frozen !== undefined && typeof env.frozen !== 'string') throw bad('"env.frozen" is not a string');
  if (!Array.isArray(r.rows)) throw bad('"rows" is not a list');
  if (!Array.isArray(r.summary)) throw bad('"summary" is not a list');
  r.rows.forEach((row: unknown, i: number) => {
    if (!isObject(row)) throw bad(`rows[${i}] is not an object`);
    for (const key of ['method', 'dataset', 'split', 'metric']) if (typeof row[key] !== 'string') throw bad(`rows[${i}].${key} is ${JSON.stringify(row[key]) ?? 'missing'}, not a string`);
    if (typeof row.seed !== 'number' || !Number.isSafeInteger(row.seed) || row.seed < 0) throw bad(`rows[${i}].seed is ${JSON.stringify(row.seed) ?? 'missing'}, not a whole number`);
    if (typeof row.value !== 'number') throw bad(`rows[${i}].value is ${JSON.stringify(row.value) ?? 'missing'}, not a number`);
  });
}

/** DIR/results.json with the data and model records of DIR/record.json attached (when there is one). */
export function readResults(dir: string): Results {
  const file = path.join(dir, 'results.json');
  const results = readJsonFile<Results>(file, 'results file');
  checkResults(results, file);
  const recordFile = path.join(dir, 'record.json');
  if (fs.existsSync(recordFile)) {
    const record = readJsonFile<{ data?: DataRecord[]; model?: ModelRecord }>(recordFile, 'run record');
    return { ...results, data: record.data, model: record.model };
  }
  return results;
}

/** One line on where a run came from: commit, backend, time, model and data checksums. */
export function runProvenance(r: Results): string {
  const model = Object.entries(r.model?.files ?? {}).map(([f, h]) => `${f} ${h.slice(0, 12)}`).join(', ');
  const data = (r.data ?? []).map((d) => `${d.dataset} (${d.variant}, sha256 ${d.contentSha256.slice(0, 12)})`).join(', ');
  return `${r.experiment}: ${provenanceCommits(r)}, ${r.env.backend} backend${r.env.gpu ? ` on ${r.env.gpu}` : ''}${r.env.frozen ? ` (frozen towers on ${r.env.frozen})` : ''}, ${String(r.config.seconds ?? '?')} s; model ${model || 'not recorded'}; data ${data || 'not recorded'}`;
}

/**
 * The commit a run was made at; for a run merged from parts (`config.parts`, merge-results: its
 * env is the first part's) every part's commit, each once, in the parts' order.
 */
function provenanceCommits(r: Results): string {
  const one = (commit: unknown) => (typeof commit === 'string' && commit ? commit.slice(0, 10) : 'no git commit');
  const parts = Array.isArray(r.config.parts) ? (r.config.parts as { commit?: unknown; dirty?: unknown }[]) : [];
  if (parts.length > 1 && parts.every((p) => typeof p === 'object' && p !== null && 'commit' in p)) {
    const commits = [...new Set(parts.map((p) => one(p.commit)))];
    const dirty = parts.filter((p) => p.dirty === true).length;
    const at = commits.length === 1 && commits[0] === one(null) ? 'no git commit' : `at commit${commits.length > 1 ? 's' : ''} ${commits.join(', ')}`;
    return `${parts.length} runs merged, ${at}${dirty ? ` (${dirty} of them on a dirty tree)` : ''}`;
  }
  return r.env.git.commit ? `commit ${one(r.env.git.commit)}${r.env.git.dirty ? ' (dirty tree)' : ''}` : 'no git commit';
}

/**
 * Whether a run's prompts trained on cached features (config.cachedFeatures; runs recorded before
 * the field existed said so in config.features). False for zero-shot, which trains nothing.
 */
export function trainedOnCachedFeatures(results: Pick<Results, 'experiment' | 'config'>): boolean {
  // zero-shot trains nothing; video trains on frozen frame features by design (the paper's method), and
  // dense on the scenes' pixels: neither has the augmented path this question is about
  if (results.experiment === 'zeroshot' || results.experiment === 'video' || results.experiment === 'dense') return false;
  const c = results.config as { cachedFeatures?: unknown; features?: unknown };
  if (typeof c.cachedFeatures === 'boolean') return c.cachedFeatures;
  return /cached/.test(String(c.features ?? ''));
}

/** A path as logs and notebook outputs show it: relative to the working directory when inside it (no machine's absolute paths in committed outputs). */
/** A path as a run record keeps it: relative to the repository when inside it (no machine's directory in committed results), else absolute. */
export function recordedPath(p: string): string {
  const rel = path.relative(REPO_ROOT, path.resolve(p));
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(p);
}

export function shownPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
