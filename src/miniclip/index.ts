// MiniCLIP: CLIP's architecture at a size a laptop CPU can pretrain, on the embedded world's
// image-caption pairs, with a BPE vocabulary learned from the world's captions in CLIP's format.
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

/** Loads the shipped MiniCLIP (or another folder with the same files). */
export function loadMiniClip(dir = MINICLIP_DIR): { model: ClipModel; tokenizer: ClipTokenizer } {
  const weights = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(weights)) {
    throw new Error(`${weights}: MiniCLIP's checkpoint is missing; run \`promptlab pretrain\` to make it (see ${path.join(dir, 'MODEL_CARD.md')})`);
  }
  return { model: ClipModel.load(weights), tokenizer: ClipTokenizer.fromMergesFile(path.join(dir, 'bpe.txt')) };
}
