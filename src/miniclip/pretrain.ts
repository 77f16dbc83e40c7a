// Pretraining MiniCLIP on the world, on one core or data-parallel on several (worker threads, one
// TensorFlow.js each: src/train/workers.ts). A recipe is plain data, so each worker rebuilds the same
// run from it: the model config, the training config, the run folder and the vocabulary file.
import type { ClipConfig } from '../clip/config';
import type { ClipModel } from '../clip/model';
import { ClipTokenizer } from '../clip/tokenizer';
import { initBackend } from '../backend';
import { useRecompute } from '../clip/recompute';
import { checkpointModel, exchangeCapacity, pretrain, type PretrainConfig, type PretrainRun } from '../train/pretrain';
import { runWorkers, type WorkerContext } from '../train/workers';
import { worldPairSource } from './index';

export interface WorldPretrainRecipe {
  model: ClipConfig;
  train: PretrainConfig;
  /** The run folder (checkpoint.safetensors, log.jsonl). */
  dir: string;
  /** CLIP-format BPE merges for the captions. */
  vocabFile: string;
  stopAt?: number;
  /**
   * Gradient checkpointing (src/clip/recompute.ts; default false): each block keeps only its input and
   * recomputes its activations in the backward: the same bits in about a third of the memory, for a
   * third more time per step. Not part of the run's identity: a checkpoint resumes either way.
   */
  recompute?: boolean;
}

function worldRun(r: WorldPretrainRecipe, log?: (s: string) => void): PretrainRun {
  const tokenizer = ClipTokenizer.fromMergesFile(r.vocabFile);
  return {
    model: r.model,
    train: r.train,
    source: worldPairSource(r.train.seed, r.model.imageResolution),
    tokenize: (c) => tokenizer.tokenize(c, { contextLength: r.model.contextLength, truncate: true }),
    dir: r.dir,
    stopAt: r.stopAt,
    log,
  };
}

/**
 * Pretrains (or resumes) on `workers` threads and returns the trained model (the caller disposes
 * it). One worker runs here; more split every batch between them.
 */
export async function pretrainWorld(recipe: WorldPretrainRecipe, workers: number, log: (s: string) => void): Promise<ClipModel> {
  if (workers === 1) {
    const was = useRecompute(recipe.recompute ?? false);
    try {
      return pretrain(worldRun(recipe, log)).model;
    } finally {
      useRecompute(was);
    }
  }
  await runWorkers<WorldPretrainRecipe, void>(__filename, 'pretrainRank', workers, recipe, {
    capacity: exchangeCapacity(recipe.model, recipe.train),
    onMessage: (_rank, m) => log(String(m)),
  });
  return checkpointModel(recipe.dir);
}

/** One rank of a data-parallel run (in a worker thread). */
export async function pretrainRank(ctx: WorkerContext<WorldPretrainRecipe>): Promise<void> {
  await initBackend();
  useRecompute(ctx.data.recompute ?? false);
  const { model } = pretrain(worldRun(ctx.data, (s) => ctx.post(s)), ctx.collective);
  model.dispose();
}
