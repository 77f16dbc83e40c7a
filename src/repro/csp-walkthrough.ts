// Notebook 04's look inside one CSP run on world-czsl: train CSP on the seen pairs (seed 1), then show
// what recombination reaches. Per attribute x object, the test accuracy of zero-shot CLIP and of CSP
// at their best-HM calibration bias (closed world), with the seen pairs marked; the seen-vs-unseen
// accuracy curves over the bias sweep with their AUC; test images of unseen pairs with each model's
// top predictions; and how far each learned vocabulary vector moved from its initial word embedding,
// with its nearest tokens.
import * as tf from '@tensorflow/tfjs';
import type { RawImage } from '../clip/image';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { CompositionalDataset, CompositionalItem, Pair } from '../data/dataset';
import { getWorldDataset } from '../data/world-benchmarks';
import { evaluateCzslDetailed, type CzslEvaluation } from '../eval/czsl';
import { interpretPrompt } from '../eval/interpret';
import { cspName, type CSP } from '../methods/csp';
import { l2normalize } from '../methods/method';
import type { ProgressCallback } from '../train/progress';
import type { EpochRecord } from '../train/trainer';
import { czslPresets } from './czsl';
import { SplitFeatures } from './features-cache';
import { buildCompositional, trainingSetup, trainOn } from './setup';

export interface PairPrediction {
  pair: string;
  /** Softmax probability over the closed-world pairs, %. */
  probability: number;
}

export interface RecombinationExample {
  image: RawImage;
  truth: string;
  zeroshot: PairPrediction[];
  csp: PairPrediction[];
}

export interface VocabularyShift {
  name: string;
  kind: 'attribute' | 'object';
  /** Euclidean distance from the initial (word-embedding) vector. */
  moved: number;
  /** The nearest vocabulary tokens of the learned vector. */
  nearest: string[];
}

export interface CspWalkthrough {
  dataset: string;
  seed: number;
  preset: string;
  epochs: number;
  attrs: string[];
  objs: string[];
  /** [attr][obj]: in the training pairs / among the test pairs. */
  seen: boolean[][];
  tested: boolean[][];
  /** [attr][obj] test accuracy (%) at the best-HM bias; null where the pair has no test images. */
  accuracy: { zeroshot: (number | null)[][]; csp: (number | null)[][] };
  curves: { zeroshot: CzslEvaluation['curve'] & { auc: number }; csp: CzslEvaluation['curve'] & { auc: number } };
  examples: RecombinationExample[];
  vocabulary: VocabularyShift[];
  history: EpochRecord[];
}

export function runCspWalkthrough(model: ClipModel, tokenizer: ClipTokenizer, opts: { quick?: boolean; seed?: number; examples?: number; onProgress?: ProgressCallback; log?: (s: string) => void } = {}): CspWalkthrough {
  const quick = opts.quick === true;
  const seed = opts.seed ?? 1;
  const ds = getWorldDataset('world-czsl', { quick }) as CompositionalDataset;
  const { preset, epochs } = czslPresets(quick).csp;
  const setup = trainingSetup(preset, { dataset: ds.name, seed, imageResolution: model.config.imageResolution, cachedFeatures: false, epochs });
  const idx = (pairs: readonly Pair[]) => pairs.map(([a, o]) => [ds.attrs.indexOf(a), ds.objs.indexOf(o)] as const);
  const feats = new SplitFeatures<CompositionalItem>(model, ds, opts.log);
  const csp = buildCompositional(preset, model, tokenizer, ds.attrs, ds.objs, idx(ds.trainPairs), seed) as CSP;
  try {
    const initial = Float32Array.from(csp.softEmbeddings.dataSync());
    const train = ds.split('train');
    const trainIndex = new Map(ds.trainPairs.map(([a, o], i) => [`${a} ${o}`, i]));
    csp.training = true;
    const history = trainOn(csp, setup, { ds, items: train, labels: train.map((t) => trainIndex.get(`${ds.attrs[t.attr]} ${ds.objs[t.obj]}`) as number) }, feats, { onProgress: opts.onProgress }).history;
    csp.training = false;

    const test = ds.split('test');
    const f = feats.all('test');
    const pairIndex = new Map(ds.pairs.map(([a, o], i) => [`${a} ${o}`, i]));
    const evaluate = (text: tf.Tensor2D) => {
      const logits = tf.tidy(() => tf.mul(tf.matMul(f, l2normalize(text), false, true), Math.exp(model.logitScale)).dataSync() as Float32Array);
      const ev = evaluateCzslDetailed({
        attrs: ds.attrs, objs: ds.objs, pairs: ds.pairs, trainPairs: ds.trainPairs, valPairs: ds.valPairs, testPairs: ds.testPairs, openWorld: false, logits,
        attrTruth: test.map((t) => t.attr), objTruth: test.map((t) => t.obj), pairTruth: test.map((t) => pairIndex.get(`${ds.attrs[t.attr]} ${ds.objs[t.obj]}`) as number),
      });
      return { ev, logits };
    };
    const zsText = model.encodeText(tokenizer.tokenize(ds.pairs.map(([a, o]) => `a photo of ${cspName(a)} ${cspName(o)}`), { contextLength: model.config.contextLength }));
    const cspText = csp.textFeatures(idx(ds.pairs));
    const zs = evaluate(zsText);
    const cs = evaluate(cspText);
    tf.dispose([zsText, cspText]);

    const grid = (ev: CzslEvaluation) => {
      const hit = ds.attrs.map(() => ds.objs.map(() => [0, 0]));
      test.forEach((t, i) => {
        const c = hit[t.attr][t.obj];
        c[1]++;
        if (ds.pairs[ev.predictions[i]][0] === ds.attrs[t.attr] && ds.pairs[ev.predictions[i]][1] === ds.objs[t.obj]) c[0]++;
      });
      return hit.map((row) => row.map(([h, n]) => (n ? (100 * h) / n : null)));
    };
    const seenSet = new Set(ds.trainPairs.map(([a, o]) => `${a} ${o}`));
    const testSet = new Set(ds.testPairs.map(([a, o]) => `${a} ${o}`));
    const mark = (set: Set<string>) => ds.attrs.map((a) => ds.objs.map((o) => set.has(`${a} ${o}`)));

    // unseen test pairs, one image each, in the order of the test split
    const top = (logits: Float32Array, i: number) => {
      const p = ds.pairs.length;
      const row = Array.from(logits.subarray(i * p, (i + 1) * p));
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      return row.map((v, j) => ({ pair: `${ds.pairs[j][0]} ${ds.pairs[j][1]}`, probability: (100 * Math.exp(v - max)) / z })).sort((a, b) => b.probability - a.probability).slice(0, 3);
    };
    const examples: RecombinationExample[] = [];
    const shown = new Set<string>();
    test.forEach((t, i) => {
      const truth = `${ds.attrs[t.attr]} ${ds.objs[t.obj]}`;
      if (seenSet.has(truth) || shown.has(truth) || examples.length >= (opts.examples ?? 6)) return;
      shown.add(truth);
      examples.push({ image: ds.image(t, 'test'), truth, zeroshot: top(zs.logits, i), csp: top(cs.logits, i) });
    });

    const learned = csp.softEmbeddings.dataSync();
    const d = csp.softEmbeddings.shape[1] as number;
    const words = interpretPrompt(csp.softEmbeddings, model.text.tokenEmbedding, tokenizer, { topk: 3 });
    const names = [...ds.attrs, ...ds.objs];
    const vocabulary = names.map((name, r) => {
      let sq = 0;
      for (let k = 0; k < d; k++) sq += (learned[r * d + k] - initial[r * d + k]) ** 2;
      return { name, kind: r < ds.attrs.length ? 'attribute' : 'object', moved: Math.sqrt(sq), nearest: words[r].words.map((w) => `${w.readable} (${w.distance.toFixed(2)})`) } as VocabularyShift;
    });
    return {
      dataset: ds.name, seed, preset: preset.name, epochs, attrs: ds.attrs, objs: ds.objs,
      seen: mark(seenSet), tested: mark(testSet),
      accuracy: { zeroshot: grid(zs.ev), csp: grid(cs.ev) },
      curves: { zeroshot: { ...zs.ev.curve, auc: zs.ev.stats.AUC }, csp: { ...cs.ev.curve, auc: cs.ev.stats.AUC } },
      examples, vocabulary, history,
    };
  } finally {
    csp.dispose();
    feats.dispose();
  }
}
