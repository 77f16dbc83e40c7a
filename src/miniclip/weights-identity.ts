// Which weights a pretraining run made: the sha256 of its model.safetensors, and whether they are the
// shipped MiniCLIP's. Pretraining is deterministic for a given recipe and backend, so a run of the
// model card's command must write the shipped file byte for byte; a different recipe (another
// schedule, seed, batch, BatchNorm group or number of workers: two workers agree with one only
// within 1e-5) or another backend makes other weights, and the comparison says which it was.
import * as fs from 'fs';
import * as path from 'path';
import { hashFile, readJsonFile } from '../io/files';

/** The `pretrain` block of an exported config.json (what `promptlab pretrain` writes). */
export interface PretrainRecord {
  steps: number; batchSize: number; lr: number; warmup: number; weightDecay: number; seed: number;
  bnGroup?: number; backend?: string; sittings?: Sitting[];
}

export interface Sitting { fromStep: number; steps: number; batchSize: number; lr: number; warmup: number; seed: number; bnGroup?: number; workers?: number; backend?: string }

function sittingsOf(p: PretrainRecord): Sitting[] {
  return p.sittings ?? [{ fromStep: 0, steps: p.steps, batchSize: p.batchSize, lr: p.lr, warmup: p.warmup, seed: p.seed, bnGroup: p.bnGroup, backend: p.backend }];
}

/**
 * The schedules a run followed: its sittings less the resumes (a sitting with the previous one's
 * target, learning rate and warm-up continues the same cosine; any other starts a warm restart).
 */
export function schedulesOf(p: PretrainRecord): Sitting[] {
  return sittingsOf(p).filter((x, i, all) => i === 0 || x.steps !== all[i - 1].steps || x.lr !== all[i - 1].lr || x.warmup !== all[i - 1].warmup);
}

/**
 * What decides the weights, as one line: every schedule the run followed (a sitting with a new
 * --steps is a warm restart; resumes with the same target change nothing), the optimizer settings,
 * seed, BatchNorm group, workers and backend. Two runs with the same line make the same bytes.
 */
export function recipeOf(p: PretrainRecord): string {
  const sittings = sittingsOf(p);
  const schedules = schedulesOf(p).map((x) => `from ${x.fromStep}: ${x.steps} steps, lr ${x.lr}, warm-up ${x.warmup}`);
  const workers = [...new Set(sittings.map((x) => x.workers ?? 1))].join('/');
  const backends = [...new Set(sittings.map((x) => x.backend ?? p.backend ?? 'unknown'))].join('/');
  return `${schedules.join('; ')}; batch ${p.batchSize}, weight decay ${p.weightDecay}, seed ${p.seed}, BatchNorm group ${p.bnGroup ?? p.batchSize}, ${workers} worker(s), ${backends} backend`;
}

export interface WeightsIdentity {
  sha256: string;
  /** The reference weights (usually the shipped MiniCLIP), when their folder has weights and a config. */
  reference?: { dir: string; sha256: string; sameRecipe: boolean; recipe: string };
  /** One sentence for the log. */
  verdict: string;
}

/** The sha256 of `dir/model.safetensors` and how it compares with the weights in `referenceDir`. */
export function weightsIdentity(dir: string, record: PretrainRecord, referenceDir: string): WeightsIdentity {
  const sha256 = hashFile(path.join(dir, 'model.safetensors'), 'sha256');
  const refWeights = path.join(referenceDir, 'model.safetensors');
  const refConfig = path.join(referenceDir, 'config.json');
  if (path.resolve(dir) === path.resolve(referenceDir) || !fs.existsSync(refWeights) || !fs.existsSync(refConfig)) {
    return { sha256, verdict: `weights sha256 ${sha256}` };
  }
  const refRecord = readJsonFile<{ pretrain?: PretrainRecord }>(refConfig, 'model config').pretrain;
  const refSha = hashFile(refWeights, 'sha256');
  const recipe = refRecord ? recipeOf(refRecord) : 'unknown (its config.json has no pretrain record)';
  const sameRecipe = refRecord !== undefined && recipe === recipeOf(record);
  const where = path.relative(process.cwd(), referenceDir) || referenceDir;
  let verdict: string;
  if (sha256 === refSha) verdict = `weights sha256 ${sha256}: byte for byte the weights in ${where}`;
  else if (sameRecipe) verdict = `weights sha256 ${sha256} DIFFER from ${where}'s (${refSha}) although the recipe is the same (${recipe}): please report it with both config.json files`;
  else verdict = `weights sha256 ${sha256}; not ${where}'s weights (${refSha.slice(0, 12)}…), as expected from a different recipe: this run ${recipeOf(record)}; that one ${recipe}`;
  return { sha256, reference: { dir: referenceDir, sha256: refSha, sameRecipe, recipe }, verdict };
}
