// promptlab bench <case>: one hot path on random weights, timed as the median of repeats.
// Each case states its work so the number can be set against the machine's FLOP/s.
import * as tf from '@tensorflow/tfjs';
import { variableGradsFreeing } from '../clip/backprop';
import { ClipModel } from '../clip/model';
import { lazyRandomStateDict, namedConfig, randomStateDict } from '../clip/random';
import { ParamReader } from '../clip/params';
import { VisionTransformer } from '../clip/vit';
import { ModifiedResNet } from '../clip/resnet';
import { TextTower } from '../clip/text';
import type { ClipConfig } from '../clip/config';
import { uniform } from '../random';
import { initBackend } from '../backend';
import { toClipInput } from '../clip/preprocess';
import { defaultThreads } from '../clip/workers';

export interface BenchResult {
  case: string;
  backend: string;
  median_s: number;
  unit_per_s: number;
}

interface BenchCase {
  describe: string;
  /** true for the cases on CLIP's frozen towers, which split their rows over `threads` */
  towers?: boolean;
  /** what `threads` means for a case that uses it otherwise */
  threadsNote?: (threads: number) => string;
  unit: string;
  /** false for long runs, whose peak memory they log themselves (an untimed profiled run would double them) */
  profile?: boolean;
  /** false for work with no kernels to compile (plain JavaScript), whose first run is as fast as the rest */
  warmUp?: boolean;
  /**
   * Builds the workload; returns the timed function, the units per call, and a cleanup. A run that
   * returns a number reports its own seconds for `units` (e.g. per-step times, without start-up).
   */
  setup(threads: number): { run: () => void | number | Promise<void | number>; units: number; cleanup: () => void | Promise<void> };
}

/** Starts the model's tower workers on the first call (so the warm-up run pays for it), then runs f. */
function withThreads(model: ClipModel, threads: number, towers: ('text' | 'image')[], f: () => void): () => Promise<void> {
  let started = false;
  return async () => {
    if (!started) {
      await model.startWorkers(threads, towers);
      started = true;
    }
    f();
  };
}

/**
 * One frozen tower alone on random weights drawn tensor by tensor (no JavaScript copy of the whole
 * model), as the PyTorch script builds only the tower it times: for the cases without tower workers.
 */
function towerOnly<T>(c: ClipConfig, make: (p: ParamReader) => T): { tower: T; dispose: () => void } {
  const p = new ParamReader(lazyRandomStateDict(c, 0), '<random weights>');
  const tower = make(p);
  return { tower, dispose: () => { for (const t of p.created) t.dispose(); } };
}

function imageCase(name: 'ViT-B/32' | 'RN50', batch: number): BenchCase {
  return {
    describe: `${name} encodeImage, random weights, batch ${batch} at 224 px`,
    towers: true,
    unit: 'images',
    setup(threads) {
      const c = namedConfig(name);
      const pixels = tf.randomNormal([batch, 3, 224, 224], 0, 1, 'float32', 1) as tf.Tensor4D;
      if (threads === 1) {
        const { tower, dispose } = towerOnly(c, (p) => (name === 'RN50' ? new ModifiedResNet(p, c) : new VisionTransformer(p, c)));
        return {
          run: () => { tf.tidy(() => tower.encode(pixels).dataSync()); },
          units: batch,
          cleanup: () => { pixels.dispose(); dispose(); },
        };
      }
      const model = new ClipModel(c, randomStateDict(c, 0));
      return {
        run: withThreads(model, threads, ['image'], () => { tf.tidy(() => model.encodeImage(pixels).dataSync()); }),
        units: batch,
        cleanup: async () => { pixels.dispose(); await model.stopWorkers(); model.dispose(); },
      };
    },
  };
}

/** Writes a tower (ViT-B/32's image or text tower, RN50's image tower) on towerOnly's weights as ONNX in a child process (as a user exports once); returns the file. */
function exportInChild(tower: 'vit' | 'rn50' | 'text', caseName: string): string {
  const fs = require('fs') as typeof import('fs');
  const os = require('os') as typeof import('os');
  const path = require('path') as typeof import('path');
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-bench-onnx-')), `${tower}.onnx`);
  const child = spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'export-onnx.ts'), tower, file], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`${caseName}: exporting the ${tower} tower failed: ${child.stderr}`);
  return file;
}

function removeExport(file: string): void {
  const fs = require('fs') as typeof import('fs');
  const path = require('path') as typeof import('path');
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

function onnxProblem(caseName: string): void {
  const { onnxRuntimeProblem } = require('../onnx/runtime') as typeof import('../onnx/runtime');
  const problem = onnxRuntimeProblem();
  if (problem) throw new Error(`${caseName}: ${problem}`);
}

const onnxThreads = (n: number) => `onnxruntime on ${n} thread${n === 1 ? '' : 's'}`;

/** An image tower exported to ONNX (src/onnx/vit.ts, resnet.ts), run by onnxruntime-node on `threads` threads. */
function onnxImageCase(name: 'ViT-B/32' | 'RN50', batch: number): BenchCase {
  const caseName = name === 'RN50' ? 'image-rn50-onnx' : 'image-vitb32-onnx';
  return {
    describe: `${name} encodeImage on onnxruntime-node (the tower exported to ONNX by a child process), random weights, batch ${batch} at 224 px`,
    towers: true,
    threadsNote: onnxThreads,
    unit: 'images',
    setup(threads) {
      onnxProblem(caseName);
      const { OnnxImageEncoder } = require('../onnx/runtime') as typeof import('../onnx/runtime');
      const file = exportInChild(name === 'RN50' ? 'rn50' : 'vit', caseName);
      const pixels = tf.randomNormal([batch, 3, 224, 224], 0, 1, 'float32', 1) as tf.Tensor4D;
      let encoder: import('../onnx/runtime').OnnxImageEncoder | null = null;
      return {
        run: async () => {
          encoder ??= OnnxImageEncoder.fromFile(file, 224, threads);
          encoder.encode(pixels).dispose();
        },
        units: batch,
        cleanup: () => { pixels.dispose(); encoder?.dispose(); removeExport(file); },
      };
    },
  };
}

/** text-k100's prompts through the ViT-B text tower exported to ONNX (src/onnx/text.ts), cut at the last EOT. */
function onnxTextCase(): BenchCase {
  return {
    describe: 'ViT-B text tower on onnxruntime-node (exported to ONNX by a child process), 100 prompts of 8-20 tokens padded to 77, computed up to the last EOT',
    towers: true,
    threadsNote: onnxThreads,
    unit: 'prompts',
    setup(threads) {
      onnxProblem('text-k100-onnx');
      const { OnnxTextEncoder } = require('../onnx/runtime') as typeof import('../onnx/runtime');
      const file = exportInChild('text', 'text-k100-onnx');
      const c = namedConfig('ViT-B/32');
      const { ids, eot } = benchPrompts();
      const embeds = promptEmbeddings(c, ids);
      let encoder: import('../onnx/runtime').OnnxTextEncoder | null = null;
      return {
        run: async () => {
          encoder ??= OnnxTextEncoder.fromFile(file, c, threads);
          encoder.encodeTokenEmbeddings(embeds, eot, true).dispose();
        },
        units: 100,
        cleanup: () => { embeds.dispose(); encoder?.dispose(); removeExport(file); },
      };
    },
  };
}

/**
 * The token embeddings of `ids` [100 x 77] from the same lazily drawn table the ONNX export used,
 * without building the tower. Its own function, so that the 100 MB table is garbage once it returns
 * (a closure of the case would keep it alive through the run).
 */
function promptEmbeddings(c: ClipConfig, ids: Int32Array): tf.Tensor3D {
  const table = lazyRandomStateDict(c, 0).get('token_embedding.weight')!.data;
  const d = c.transformerWidth;
  const rows = new Float32Array(ids.length * d);
  for (let i = 0; i < ids.length; i++) rows.set(table.subarray(ids[i] * d, (ids[i] + 1) * d), i * d);
  return tf.tensor3d(rows, [ids.length / 77, 77, d]);
}

/** text-k100's prompts: 100 of 6 to 18 random tokens between SOT and EOT, padded to 77. */
function benchPrompts(): { ids: Int32Array; eot: number[] } {
  const r = uniform(3, 'bench');
  const ids = new Int32Array(100 * 77);
  const eot: number[] = [];
  for (let i = 0; i < 100; i++) {
    const n = 6 + Math.floor(r() * 13);
    ids[i * 77] = 49406;
    for (let j = 1; j <= n; j++) ids[i * 77 + j] = 1 + Math.floor(r() * 49000);
    ids[i * 77 + n + 1] = 49407;
    eot.push(n + 1);
  }
  return { ids, eot };
}

/** 100 CoOp-like prompts of 8 to 20 tokens, padded to 77, through the ViT-B text tower. */
function textCase(truncate: boolean): BenchCase {
  return {
    describe: `ViT-B text tower, 100 prompts of 8-20 tokens padded to 77, ${truncate ? 'computed up to the last EOT (exact causal truncation)' : 'all 77 positions computed'}`,
    towers: true,
    unit: 'prompts',
    setup(threads) {
      const c = namedConfig('ViT-B/32');
      const { ids, eot } = benchPrompts();
      if (threads === 1) {
        const { tower, dispose } = towerOnly(c, (p) => new TextTower(p, c));
        const embeds = tf.tidy(() => tower.embed(tf.tensor2d(ids, [100, 77], 'int32')));
        return {
          run: () => { tf.tidy(() => tower.encodeTokenEmbeddings(embeds, eot, truncate).dataSync()); },
          units: 100,
          cleanup: () => { embeds.dispose(); dispose(); },
        };
      }
      const model = new ClipModel(c, randomStateDict(c, 0));
      const embeds = model.tokenEmbeddings({ ids, shape: [100, 77] });
      return {
        run: withThreads(model, threads, ['text'], () => { tf.tidy(() => model.text.encodeTokenEmbeddings(embeds, eot, truncate).dataSync()); }),
        units: 100,
        cleanup: async () => { embeds.dispose(); await model.stopWorkers(); model.dispose(); },
      };
    },
  };
}

/** CLIP's transform (antialiased bicubic to 224, centre crop, normalise) on 1000x700 RGB images. */
const preprocessCase: BenchCase = {
  describe: "CLIP preprocessing of a 1000x700 RGB image to [3,224,224] (Pillow's bicubic in 8 bits)",
  unit: 'images',
  setup() {
    const r = uniform(1, 'bench');
    const img = { width: 1000, height: 700, channels: 3 as const, data: Uint8Array.from({ length: 1000 * 700 * 3 }, () => Math.floor(256 * r())) };
    return { run: () => { for (let i = 0; i < 10; i++) toClipInput(img); }, units: 10, cleanup: () => undefined };
  },
};

/**
 * 1,000 CoOp training steps (16 context vectors, 10 classes, batch 32 of cached features) on
 * MiniCLIP's architecture: speed, and whether memory stays flat (tensors, bytes and process RSS
 * are logged before and after).
 */
/** CoOp steps on MiniCLIP's architecture; tensor count and RSS are printed as the run goes (a leak shows as growth). */
const coopStepsCase = (total: number, every: number): BenchCase => ({
  describe: `${total.toLocaleString('en-US')} CoOp steps on MiniCLIP's architecture (16 ctx, 10 classes, batch 32 of cached features), tensors and RSS every ${every.toLocaleString('en-US')}`,
  unit: 'steps',
  profile: false,
  setup() {
    const { CoOp } = require('../methods/coop') as typeof import('../methods/coop');
    const { crossEntropy } = require('../methods/method') as typeof import('../methods/method');
    const { SGD } = require('../train/sgd') as typeof import('../train/sgd');
    const { miniClipConfig } = require('../miniclip') as typeof import('../miniclip');
    const { ClipTokenizer } = require('../clip/tokenizer') as typeof import('../clip/tokenizer');
    const tok = ClipTokenizer.fromMerges('#version: 0.2\ns t\nst a\nsta r</w>');
    const c = miniClipConfig(tok.vocabSize);
    const model = new ClipModel(c, randomStateDict(c, 0));
    const names = ['star', 'circle', 'square', 'heart', 'cross', 'arrow', 'crescent', 'diamond', 'triangle', 'lightning bolt'];
    const coop = new CoOp(model, tok, names, { nCtx: 16, seed: 1 });
    const sgd = new SGD(coop.trainableVariables(), { momentum: 0.9, weightDecay: 5e-4 });
    const features = tf.tidy(() => { const f = tf.randomNormal([32, c.embedDim], 0, 1, 'float32', 2); return tf.div(f, tf.norm(f, 2, -1, true)) as tf.Tensor2D; });
    const labels = Array.from({ length: 32 }, (_, i) => i % 10);
    const vars = coop.trainableVariables();
    const step = () => {
      const { value, grads } = variableGradsFreeing(() => crossEntropy(coop.logits({ features }), labels), vars);
      sgd.apply(vars.map((v) => grads[v.name]), 0.002);
      tf.dispose([value, ...Object.values(grads)]);
    };
    const mem = (label: string) => {
      const m = tf.memory();
      process.stderr.write(`  ${label}: ${m.numTensors} tensors, ${(m.numBytes / 1e6).toFixed(1)} MB in tensors, RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB\n`);
    };
    return {
      run: () => {
        step();
        mem('after the first step');
        for (let i = 1; i < total; i++) {
          step();
          if ((i + 1) % every === 0) mem(`after ${i + 1} steps`);
        }
      },
      units: total,
      cleanup: () => { features.dispose(); sgd.dispose(); coop.dispose(); model.dispose(); },
    };
  },
});

/**
 * One prompt-learning training step at the papers' shapes: the ViT-B/32 text tower (width 512,
 * 12 layers, context 77), 100 classes, 16 context vectors, forward, backward and the SGD update.
 * CoOp: a batch of 32 cached image features; CoCoOp: a batch of 4 (each image has its own 100
 * prompts, so 400 prompts go through the text tower). Class names are 1-2 tokens of a small BPE,
 * so each prompt is [SOT] + 16 ctx + name + "." + [EOT], about 21 tokens; the tower computes up to
 * the last EOT (exact causal truncation), where PyTorch's reference computes all 77 positions.
 */
function promptStepCase(method: 'coop' | 'cocoop'): BenchCase {
  const batch = method === 'coop' ? 32 : 4;
  return {
    describe: `one ${method === 'coop' ? 'CoOp' : 'CoCoOp'} step: ViT-B/32 text tower, 100 classes, 16 ctx, batch ${batch} of cached image features, forward + backward + SGD`,
    towers: true,
    unit: 'steps',
    setup(threads) {
      const { CoOp } = require('../methods/coop') as typeof import('../methods/coop');
      const { CoCoOp } = require('../methods/cocoop') as typeof import('../methods/cocoop');
      const { crossEntropy } = require('../methods/method') as typeof import('../methods/method');
      const { SGD } = require('../train/sgd') as typeof import('../train/sgd');
      const { ClipTokenizer } = require('../clip/tokenizer') as typeof import('../clip/tokenizer');
      const tok = ClipTokenizer.fromMerges('#version: 0.2\ns t\nst a\nsta r</w>');
      const c = namedConfig('ViT-B/32');
      const model = new ClipModel(c, randomStateDict(c, 0));
      const letters = 'abcdefghij';
      const names = Array.from({ length: 100 }, (_, i) => `${letters[Math.floor(i / 10)]}${letters[i % 10]}`);
      const prompt = method === 'coop' ? new CoOp(model, tok, names, { nCtx: 16, seed: 1 }) : new CoCoOp(model, tok, names, { nCtx: 16, seed: 1 });
      const vars = prompt.trainableVariables();
      const sgd = new SGD(vars, { momentum: 0.9, weightDecay: 5e-4 });
      const features = tf.tidy(() => { const f = tf.randomNormal([batch, c.embedDim], 0, 1, 'float32', 2); return tf.div(f, tf.norm(f, 2, -1, true)) as tf.Tensor2D; });
      const labels = Array.from({ length: batch }, (_, i) => (7 * i) % 100);
      return {
        run: withThreads(model, threads, ['text'], () => {
          const { value, grads } = variableGradsFreeing(() => crossEntropy(prompt.logits({ features }), labels), vars);
          sgd.apply(vars.map((v) => grads[v.name]), 0.002);
          value.dataSync();
          tf.dispose([value, ...Object.values(grads)]);
        }),
        units: 1,
        cleanup: async () => { features.dispose(); sgd.dispose(); prompt.dispose(); await model.stopWorkers(); model.dispose(); },
      };
    },
  };
}

/** The world generator: 1,000 pretraining pairs (64x64 image + caption, the default mix of styles). */
const worldCase: BenchCase = {
  describe: 'the world generator: 1,000 pretraining pairs at 64x64 (default mix of objects, styles and backgrounds)',
  unit: 'images',
  setup() {
    const { pretrainPair } = require('../world') as typeof import('../world');
    let start = 0;
    return {
      run: () => {
        for (let i = 0; i < 1000; i++) pretrainPair(0, start + i);
        start += 1000;
      },
      units: 1000,
      cleanup: () => undefined,
    };
  },
};

/**
 * MiniCLIP pretraining steps on the world (its architecture, batch 64, BatchNorm over groups of 32,
 * 8 steps after 2 warm-up steps) on `workers` worker threads: the median seconds per step, from the
 * run's own step log (so thread start-up and model loading are not counted).
 */
function pretrainCase(workers: number, recompute = false): BenchCase {
  return {
    describe: `MiniCLIP pretraining step (batch 64 of world pairs, BatchNorm groups of 32) on ${workers} worker thread${workers === 1 ? '' : 's'}, ${recompute ? 'activations recomputed in the backward (--recompute)' : 'activations kept'}`,
    unit: 'pairs',
    setup() {
      const fs = require('fs') as typeof import('fs');
      const os = require('os') as typeof import('os');
      const path = require('path') as typeof import('path');
      const { MINICLIP_DIR, miniClipConfig } = require('../miniclip') as typeof import('../miniclip');
      const { pretrainWorld } = require('../miniclip/pretrain') as typeof import('../miniclip/pretrain');
      const { ClipTokenizer } = require('../clip/tokenizer') as typeof import('../clip/tokenizer');
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'promptlab-bench-pretrain-'));
      const vocabFile = path.join(MINICLIP_DIR, 'bpe.txt');
      const model = miniClipConfig(ClipTokenizer.fromMergesFile(vocabFile).vocabSize);
      let run = 0;
      return {
        run: async () => {
          const dir = path.join(tmp, String(run++));
          const train = { steps: 10, batchSize: 64, bnGroup: 32, lr: 2e-3, warmup: 2, weightDecay: 0.1, seed: 0, checkpointEvery: 1000, logEvery: 1000 };
          (await pretrainWorld({ model, train, dir, vocabFile, recompute }, workers, () => undefined)).dispose();
          const steps = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seconds: number }).slice(2);
          const sorted = steps.map((x) => x.seconds).sort((a, b) => a - b);
          return sorted[Math.floor(sorted.length / 2)];
        },
        units: 64,
        cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }),
      };
    },
  };
}

/**
 * CSP's evaluation: text features of 10,000 attribute-object pairs (100 x 100) through the ViT-B/32
 * text tower (random weights, CSP's context length 8, "a photo of X X"), in chunks of 1,000 pairs; with
 * the shared "[SOT] a photo of" prefix computed once (the default) or with every pair's whole prompt.
 */
function cspEvalCase(sharedPrefix: boolean): BenchCase {
  return {
    describe: `CSP text features of 10,000 attribute-object pairs, ViT-B/32 text tower, context 8, ${sharedPrefix ? 'the shared prefix computed once' : 'every prompt whole'}`,
    unit: 'pairs',
    setup() {
      const { CSP } = require('../methods/csp') as typeof import('../methods/csp');
      const c = { ...namedConfig('ViT-B/32'), contextLength: 77 };
      const model = new ClipModel(c, randomStateDict(c, 0));
      const names = 100;
      const r = uniform(5, 'bench-csp');
      const vocab = new Int32Array(2 * names * 8);
      for (let i = 0; i < 2 * names; i++) {
        vocab[i * 8] = 49406;
        vocab[i * 8 + 1] = 1 + Math.floor(r() * 49000);
        vocab[i * 8 + 2] = 49407;
      }
      const template = Int32Array.from([49406, 320, 1125, 539, 343, 343, 49407, 0]);
      const attrs = Array.from({ length: names }, (_, i) => `a${i}`);
      const objs = Array.from({ length: names }, (_, i) => `o${i}`);
      const pairs = attrs.flatMap((_, a) => objs.map((__, o) => [a, o] as const));
      const csp = new CSP(model, null, attrs, objs, pairs.slice(0, 1), { contextLength: 8 }, { template: { ids: template, shape: [1, 8] }, vocab: { ids: vocab, shape: [2 * names, 8] } });
      return {
        run: () => {
          for (let s = 0; s < pairs.length; s += 1000) {
            const chunk = pairs.slice(s, s + 1000);
            tf.tidy(() => (sharedPrefix ? csp.textFeatures(chunk) : model.encodeTokenEmbeddings(csp.tokenTensors(chunk), new Int32Array(chunk.length).fill(6))).dataSync());
          }
        },
        units: pairs.length,
        cleanup: () => { csp.dispose(); model.dispose(); },
      };
    },
  };
}

/**
 * CoOp's linear probe as the few-shot protocol runs it at 16 shots on world-colors (seed 1): MiniCLIP's
 * raw image features of 1,280 train, 320 val and 2,400 test images (80 classes, encoded before the
 * timing): L-BFGS fits in float64 over the C search (7 grid values, then 8 rounds of two, a C fitted
 * once: 16 fits on these features).
 */
const linearProbeCase: BenchCase = {
  describe: "CoOp's linear probe (C search, L-BFGS in float64) on world-colors' 16-shot MiniCLIP features, seed 1: 1,280 x 128 train, 80 classes",
  unit: 'probes',
  profile: false,
  warmUp: false,
  setup() {
    const { loadMiniClip } = require('../miniclip') as typeof import('../miniclip');
    const { getWorldDataset } = require('../data/world-benchmarks') as typeof import('../data/world-benchmarks');
    const { sampleFewShot } = require('../data/protocols') as typeof import('../data/protocols');
    const { SplitFeatures } = require('../repro/features-cache') as typeof import('../repro/features-cache');
    const { linearProbe } = require('../eval/linear-probe') as typeof import('../eval/linear-probe');
    const { model } = loadMiniClip();
    const ds = getWorldDataset('world-colors');
    const feats = new SplitFeatures(model, ds, () => undefined);
    const fs = sampleFewShot(ds, 16, 1);
    const labels = (items: readonly { label: number }[]) => Int32Array.from(items, (it) => it.label);
    const read = (t: tf.Tensor2D) => ({ data: t.dataSync(), rows: t.shape[0], dim: t.shape[1] });
    const [tr, va, te] = [feats.rawOf('train', fs.train), feats.rawOf('val', fs.val), feats.raw('test')];
    const splits = [{ features: read(tr), labels: labels(fs.train) }, { features: read(va), labels: labels(fs.val) }, { features: read(te), labels: labels(ds.split('test')) }] as const;
    tf.dispose([tr, va]);
    return {
      run: () => { linearProbe(...splits); },
      units: 1,
      cleanup: () => { feats.dispose(); model.dispose(); },
    };
  },
};

export const BENCH_CASES: Record<string, BenchCase> = {
  'csp-eval': cspEvalCase(true),
  'csp-eval-plain': cspEvalCase(false),
  'pretrain-step': pretrainCase(1),
  'pretrain-step-2-workers': pretrainCase(2),
  'pretrain-step-recompute': pretrainCase(1, true),
  'pretrain-step-2-workers-recompute': pretrainCase(2, true),
  'world-64': worldCase,
  'coop-1000-steps': coopStepsCase(1000, 250),
  'coop-10000-steps': coopStepsCase(10000, 2000),
  'preprocess-1000x700': preprocessCase,
  'coop-step': promptStepCase('coop'),
  'cocoop-step': promptStepCase('cocoop'),
  'image-vitb32': imageCase('ViT-B/32', 16),
  'image-rn50': imageCase('RN50', 16),
  'image-vitb32-onnx': onnxImageCase('ViT-B/32', 16),
  'image-rn50-onnx': onnxImageCase('RN50', 16),
  'text-k100': textCase(true),
  'text-k100-full': textCase(false),
  'text-k100-onnx': onnxTextCase(),
  'linear-probe': linearProbeCase,
};

/**
 * Runs a case. `threads` (default: defaultThreads(), i.e. PROMPTLAB_WORKERS or the cores on WASM)
 * is what the cases on CLIP's frozen towers split their rows over (ClipModel.startWorkers).
 */
export async function runBench(name: string, repeats = 3, log: (s: string) => void = () => undefined, threads?: number): Promise<BenchResult> {
  const bc = BENCH_CASES[name];
  if (!bc) throw new Error(`unknown bench case '${name}' (valid: ${Object.keys(BENCH_CASES).join(', ')})`);
  const info = await initBackend();
  const n = threads ?? defaultThreads();
  const threadsNote = bc.threadsNote ? `, ${bc.threadsNote(n)}` : !bc.towers ? '' : n > 1 ? `, ${n} threads for the frozen towers (worker threads hold copies)` : ', no tower workers';
  const wasmNote = info.threads && info.threads > 1 ? ` (threaded build, ${info.threads} threads in one heap)` : '';
  log(`${name}: ${bc.describe} on ${info.name}${wasmNote}${threadsNote}`);
  const { run, units, cleanup } = bc.setup(n);
  try {
    if (bc.warmUp !== false) await run(); // warm-up: kernel compilation and first allocations
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = process.hrtime.bigint();
      const own = await run();
      times.push(typeof own === 'number' ? own : Number(process.hrtime.bigint() - t0) / 1e9);
      log(`  run ${i + 1}/${repeats}: ${times[i].toFixed(3)} s`);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    // Peak memory: the process's peak resident set over the warm-up and the timed runs (the WASM heap,
    // V8 and the rest; what bench-pytorch.py reports for PyTorch), then one more (untimed) run under
    // tf.profile for the most bytes held in tensors at once (profiling itself costs memory, so the
    // resident set is read before it).
    const rss = (process.resourceUsage().maxRSS / 1024).toFixed(0);
    if (bc.profile === false || info.name === 'webgpu') {
      // tf.profile of pretrain-step crashed the process (SIGSEGV) on WebGPU under Dawn on Mesa's
      // lavapipe (cause not found; coop-step's profile ran), so it is not run on WebGPU
      const why = info.name === 'webgpu' && bc.profile !== false ? ' (tensor bytes not profiled on webgpu)' : '';
      log(`  peak memory: peak process RSS ${rss} MB${why}`);
      return { case: name, backend: info.name, median_s: median, unit_per_s: units / median };
    }
    const prof = await tf.profile(async () => { await run(); return []; });
    const tensors = Number.isFinite(prof.peakBytes) ? `${(prof.peakBytes / 1e6).toFixed(1)} MB in tensors during a run` : 'no tfjs kernels during a run';
    log(`  peak memory: ${tensors}, peak process RSS ${rss} MB`);
    return { case: name, backend: info.name, median_s: median, unit_per_s: units / median };
  } finally {
    await cleanup();
  }
}
