// Results and run records in the pinned format: DIR/results.json with the experiment, its config,
// the environment, one row per measurement and a summary (mean, std, n) per method/dataset/split.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { backendInfo } from '../backend';

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
  platform: string;
  git: { commit: string | null; dirty: boolean | null };
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: path.resolve(__dirname, '..', '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export function environment(): Environment {
  const status = git(['status', '--porcelain']);
  return {
    node: process.versions.node,
    backend: backendInfo()?.name ?? null,
    tfjs: tf.version.tfjs,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    platform: `${os.platform()} ${os.arch()}`,
    git: { commit: git(['rev-parse', 'HEAD']), dirty: status === null ? null : status.length > 0 },
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

export interface Results {
  experiment: string;
  config: Record<string, unknown>;
  env: Environment;
  rows: ResultRow[];
  summary: SummaryRow[];
}

/** Writes DIR/results.json (and returns it). */
export function writeResults(dir: string, experiment: string, config: Record<string, unknown>, rows: ResultRow[]): Results {
  const results: Results = { experiment, config, env: environment(), rows, summary: summarise(rows) };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  return results;
}
