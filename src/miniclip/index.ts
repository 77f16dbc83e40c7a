// MiniCLIP: CLIP's architecture at a size a laptop CPU can pretrain, on the embedded world's
// image-caption pairs, with a BPE vocabulary learned from the world's captions in CLIP's format.
import { userCacheDir } from '../data/fetch';
import { readJsonFile } from '../io/files';
import * as fs from 'fs';
import * as path from 'path';
import type { ClipConfig } from '../clip/config';
import { ClipModel } from '../clip/model';
import { ClipTokenizer } from '../clip/tokenizer';
import { learnMerges } from '../clip/bpe-train';
import { toClipInput } from '../clip/preprocess';
import { pretrainPair } from '../world';
import type { PairSource } from '../train/pretrain';

/** Where the shipped checkpoint lives (model.safetensors, config.json, bpe.txt, MODEL_CARD.md). */
export const MINICLIP_DIR = path.resolve(__dirname, '..', '..', 'models', 'miniclip');

/**
 * A ModifiedResNet image tower (the world.md measurements: a conv tower learns shape far faster
 * than a ViT at this size) at 64 px, and a 4-layer causal text transformer.
 */
export function miniClipConfig(vocabSize: number): ClipConfig {
  return {
    embedDim: 128,
    imageResolution: 64,
    visionLayers: [1, 1, 1, 1],
    visionWidth: 16,
    visionPatchSize: null,
    visionHeads: 8, // (16 * 32) / 64, as build_model infers it
    contextLength: 32,
    vocabSize,
    transformerWidth: 128,
    transformerHeads: 2, // 128 / 64
    transformerLayers: 4,
    textAct: 'quick_gelu',
    visionAct: 'quick_gelu',
    layerNormEps: 1e-5,
  };
}

/** Learns the BPE merges from the captions of the first `count` pretraining pairs of `seed`. */
export function learnWorldVocabulary(seed: number, count = 20000): string {
  function* captions() {
    for (let i = 0; i < count; i++) yield pretrainPair(seed, i).caption;
  }
  return learnMerges(captions(), { vocabSize: 1024 });
}

/** Pretraining batches: pairs [step*B, (step+1)*B) of the world's 'pretrain' stream (or [from, to) of them). */
export function worldPairSource(seed: number, size = 64): PairSource {
  return {
    batch(step, batchSize, from = 0, to = batchSize) {
      const per = 3 * size * size;
      const n = to - from;
      const pixels = new Float32Array(n * per);
      const captions: string[] = [];
      for (let b = 0; b < n; b++) {
        const pair = pretrainPair(seed, step * batchSize + from + b, { size });
        pixels.set(toClipInput(pair.image, { size }), b * per);
        captions.push(pair.caption);
      }
      return { pixels, shape: [n, 3, size, size], captions };
    },
  };
}

/**
 * Loads the shipped MiniCLIP, or any CLIP folder: the weights (model.safetensors or its shard index,
 * OpenAI or Hugging Face layout, with config.json) and the tokenizer beside them: bpe.txt (OpenAI's
 * merges format), else a Hugging Face tokenizer (tokenizer.json, or vocab.json + merges.txt), else,
 * for a model with CLIP's 49,408-token vocabulary, CLIP's BPE file from the user cache
 * (`npx promptlab fetch clip-bpe`).
 */
export function loadMiniClip(dir = MINICLIP_DIR): { model: ClipModel; tokenizer: ClipTokenizer } {
  const weights = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(weights) && !fs.existsSync(path.join(dir, 'model.safetensors.index.json'))) {
    throw new Error(`${weights}: ${path.resolve(dir) === path.resolve(MINICLIP_DIR) ? "MiniCLIP's checkpoint is missing; run `promptlab pretrain --export models/miniclip` to make it" : 'no model.safetensors (or its shard index) in this folder'} (see ${path.join(MINICLIP_DIR, 'MODEL_CARD.md')})`);
  }
  const tokenizer = modelTokenizer(dir);
  const model = ClipModel.load(dir);
  if (tokenizer.vocabSize > model.config.vocabSize) {
    model.dispose();
    throw new Error(`${dir}: the tokenizer has ${tokenizer.vocabSize} tokens, the model's embedding table ${model.config.vocabSize}: they do not belong together`);
  }
  return { model, tokenizer };
}

/** The tokenizer of a model folder (see loadMiniClip). */
export function modelTokenizer(dir: string): ClipTokenizer {
  const bpe = path.join(dir, 'bpe.txt');
  if (fs.existsSync(bpe)) return ClipTokenizer.fromMergesFile(bpe);
  const hf = ['tokenizer.json', 'vocab.json'].some((f) => fs.existsSync(path.join(dir, f)));
  if (hf) return ClipTokenizer.fromHuggingFace(dir);
  const cached = path.join(userCacheDir(), 'clip-bpe', 'bpe_simple_vocab_16e6.txt.gz');
  const config = path.join(dir, 'config.json');
  const vocab = fs.existsSync(config) ? configVocabSize(config) : null;
  if (vocab === CLIP_VOCAB_SIZE && fs.existsSync(cached)) return ClipTokenizer.fromMergesFile(cached);
  throw new Error(`${dir}: no tokenizer beside the model (bpe.txt, tokenizer.json, or vocab.json + merges.txt)${vocab === CLIP_VOCAB_SIZE ? "; this model has CLIP's vocabulary: run `npx promptlab fetch clip-bpe` once and it is found in the user cache" : ''}`);
}

const CLIP_VOCAB_SIZE = 49408;

function configVocabSize(file: string): number | null {
  const c = readJsonFile<Record<string, unknown>>(file, 'config');
  const v = (c.text_config as Record<string, unknown> | undefined)?.vocab_size ?? c.vocab_size;
  return typeof v === 'number' ? v : null;
}
