// A toy contrastive world for pretraining tests (coloured squares captioned by their colour), and the
// worker functions that run it data-parallel (src/train/workers.ts loads this module in each thread).
import { initBackend } from '../../src/backend';
import { ClipConfig } from '../../src/clip/config';
import { ClipTokenizer } from '../../src/clip/tokenizer';
import { uniform } from '../../src/random';
import { pretrain, type PairSource, type PretrainConfig } from '../../src/train/pretrain';
import type { WorkerContext } from '../../src/train/workers';

export const TOY_RN: ClipConfig = {
  embedDim: 16, imageResolution: 32, visionLayers: [1, 1, 1, 1], visionWidth: 8, visionPatchSize: null, visionHeads: 2,
  contextLength: 8, vocabSize: 520, transformerWidth: 32, transformerHeads: 2, transformerLayers: 1,
  textAct: 'quick_gelu', visionAct: 'quick_gelu', layerNormEps: 1e-5,
};

const COLOURS: [string, number[]][] = [['red', [220, 30, 30]], ['green', [30, 200, 30]], ['blue', [30, 30, 220]], ['yellow', [230, 220, 40]]];

/** Squares of four colours at random places; the caption names the colour. Pair b of a step depends on (step, b) only. */
export function toySource(size: number): PairSource {
  return {
    batch(step, batchSize, from = 0, to = batchSize) {
      const n = to - from;
      const pixels = new Float32Array(n * 3 * size * size);
      const captions: string[] = [];
      for (let k = 0; k < n; k++) {
        const b = from + k;
        const r = uniform(1000 + step, b);
        const [name, rgb] = COLOURS[b % COLOURS.length];
        captions.push(`a ${name} square`);
        const x0 = Math.floor((r() * size) / 2);
        const y0 = Math.floor((r() * size) / 2);
        for (let c = 0; c < 3; c++) for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
          const inside = x >= x0 && x < x0 + size / 2 && y >= y0 && y < y0 + size / 2;
          pixels[((k * 3 + c) * size + y) * size + x] = ((inside ? rgb[c] : 128) / 255 - 0.45) / 0.27;
        }
      }
      return { pixels, shape: [n, 3, size, size], captions };
    },
  };
}

export const toyTokenizer = ClipTokenizer.fromMerges('#version: 0.2\nr e\nre d</w>\ns q\nsq u\n');
export const toyTokenize = (c: string[]) => toyTokenizer.tokenize(c, { contextLength: TOY_RN.contextLength, truncate: true });

/** One rank of a data-parallel toy run; returns its final weights and losses. */
export async function toyRank(ctx: WorkerContext<{ dir: string; train: PretrainConfig }>): Promise<{ weights: Record<string, Float32Array>; losses: number[] }> {
  await initBackend();
  const { model, history } = pretrain({ model: TOY_RN, train: ctx.data.train, source: toySource(32), tokenize: toyTokenize, dir: ctx.data.dir }, ctx.collective);
  const weights: Record<string, Float32Array> = {};
  for (const [k, t] of model.stateDict()) weights[k] = Float32Array.from(t.data);
  model.dispose();
  return { weights, losses: history.map((h) => h.loss) };
}

/** Rank 1 fails after its first exchange; rank 0 would wait for it forever without the abort. */
export async function failingRank(ctx: WorkerContext<null>): Promise<void> {
  ctx.collective.allGather(new Float32Array([ctx.rank]));
  if (ctx.rank === 1) throw new Error('rank 1 broke on purpose');
  ctx.collective.allGather(new Float32Array([ctx.rank]));
}
