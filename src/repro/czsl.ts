// promptlab repro czsl: compositional zero-shot learning on world-czsl (CSP's Table 1 and its open-world
// table): zero-shot CLIP ("a photo of attr obj"), the CSP repo's CoOp baseline and CSP, trained on the
// seen pairs' images and evaluated with the official evaluator (src/eval/czsl.ts) over every closed-world
// pair and, in the open world, over every attribute x object with the feasibility threshold chosen on val.
// Word vectors for feasibility: the official code's GloVe is not available offline; its own alternative
// (feasibility.py clip_embeddings: the frozen text features of "a photo of {word}") is used instead.
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from '../clip/model';
import type { ClipTokenizer } from '../clip/tokenizer';
import type { CompositionalDataset, CompositionalItem, Pair } from '../data/dataset';
import { getWorldDataset } from '../data/world-benchmarks';
import { evaluateCzsl, thresholdWithFeasibility, type CzslStats } from '../eval/czsl';
import { chooseThreshold, cosineMatrix, feasibilityScores } from '../eval/feasibility';
import { cspName, type CompositionalPrompt, type PairIndex } from '../methods/csp';
import { l2normalize } from '../methods/method';
import { getPreset, type MethodPreset } from '../methods/presets';
import { labelled, type ProgressCallback } from '../train/progress';
import { SplitFeatures } from './features-cache';
import { quickEpochs } from './fewshot';
import type { ResultRow } from './record';
import { buildCompositional, describePreset, describeTraining, trainingSetup, trainOn } from './setup';

export const CZSL_METHODS = ['zeroshot', 'coop', 'csp'] as const;

/** The presets of the world's CZSL protocol and their epochs (a fifth in quick runs). */
export function czslPresets(quick: boolean): Record<'coop' | 'csp', { preset: MethodPreset; epochs: number }> {
  const of = (name: string) => {
    const preset = getPreset(name);
    return { preset, epochs: quick ? quickEpochs(preset.optim.epochs) : preset.optim.epochs };
  };
  return { coop: of('world_czsl_coop'), csp: of('world_csp') };
}

export function czslConfig(quick: boolean, opts: { cachedFeatures?: boolean } = {}) {
  const p = czslPresets(quick);
  return {
    coop: describePreset(p.coop.preset, p.coop.epochs),
    csp: describePreset(p.csp.preset, p.csp.epochs),
    zeroshot: 'prompts "a photo of {attr} {obj}" (names cleaned as csp_init does, no period), as evaluate.py clip_baseline',
    evaluation: "the official CSP evaluator: bias 1e3, topk 1, the seen/unseen curve over the calibration-bias sweep; open world over every attribute x object, infeasible pairs' logits multiplied by 0 at the threshold with the best val AUC",
    feasibility: 'word vectors: the frozen text features of "a photo of {word}" (feasibility.py clip_embeddings; GloVe is not available offline)',
    ...describeTraining(p.csp.preset, ['world-czsl'], opts.cachedFeatures === true),
  };
}

const indexPairs = (ds: CompositionalDataset, pairs: readonly Pair[]): PairIndex[] => pairs.map(([a, o]) => [ds.attrs.indexOf(a), ds.objs.indexOf(o)] as const);

/** Logits [N, P] of normalised image features against text features (normalised here). */
function logitsOf(model: ClipModel, images: tf.Tensor2D, text: tf.Tensor2D): Float32Array {
  return tf.tidy(() => tf.mul(tf.matMul(images, l2normalize(text), false, true), Math.exp(model.logitScale)).dataSync() as Float32Array);
}

/** Zero-shot CLIP's text features for pairs: "a photo of {attr} {obj}". */
function zeroshotText(model: ClipModel, tokenizer: ClipTokenizer, pairs: readonly Pair[]): tf.Tensor2D {
  const prompts = pairs.map(([a, o]) => `a photo of ${cspName(a)} ${cspName(o)}`);
  return model.encodeText(tokenizer.tokenize(prompts, { contextLength: model.config.contextLength }));
}

interface SplitEval {
  features: tf.Tensor2D;
  items: CompositionalItem[];
}

/** The official evaluator's statistics of one method on one split, closed or open world. */
function statsFor(ds: CompositionalDataset, split: 'val' | 'test', e: SplitEval, pairs: readonly Pair[], text: tf.Tensor2D, model: ClipModel, openWorld: boolean, feasibility?: { scores: Float32Array; threshold: number }): CzslStats {
  const index = new Map(pairs.map(([a, o], i) => [`${a}\u0000${o}`, i]));
  let logits = logitsOf(model, e.features, text);
  if (feasibility) {
    const train = new Set(ds.trainPairs.map(([a, o]) => `${a}\u0000${o}`));
    const seen = pairs.map(([a, o]) => train.has(`${a}\u0000${o}`));
    logits = thresholdWithFeasibility(logits, pairs.length, seen, feasibility.scores, feasibility.threshold);
  }
  return evaluateCzsl({
    attrs: ds.attrs, objs: ds.objs, pairs, trainPairs: ds.trainPairs, valPairs: ds.valPairs, testPairs: ds.testPairs,
    openWorld, phase: split, logits,
    attrTruth: e.items.map((it) => it.attr), objTruth: e.items.map((it) => it.obj),
    pairTruth: e.items.map((it) => index.get(`${ds.attrs[it.attr]}\u0000${ds.objs[it.obj]}`) as number),
  });
}

/** The six rows of one method: closed and open world x seen, unseen, hm, auc, attr, obj (percent). */
function rowsOf(method: string, seed: number, closed: CzslStats, open: CzslStats): ResultRow[] {
  const metrics: [string, keyof CzslStats][] = [['seen', 'best_seen'], ['unseen', 'best_unseen'], ['hm', 'best_hm'], ['auc', 'AUC'], ['attr', 'attr_acc'], ['obj', 'obj_acc']];
  return [['closed', closed], ['open', open]].flatMap(([split, st]) => metrics.map(([metric, key]) => ({ method, dataset: 'world-czsl', split: split as string, metric, seed, value: 100 * (st as CzslStats)[key] })));
}

export interface CzslOptions {
  quick?: boolean;
  seeds?: number[];
  cachedFeatures?: boolean;
  log?: (line: string) => void;
  onProgress?: ProgressCallback;
}

export function runCzsl(model: ClipModel, tokenizer: ClipTokenizer, opts: CzslOptions = {}): ResultRow[] {
  const quick = opts.quick === true;
  const log = opts.log ?? (() => undefined);
  const ds = getWorldDataset('world-czsl', { quick }) as CompositionalDataset;
  const feats = new SplitFeatures<CompositionalItem>(model, ds, log);
  const rows: ResultRow[] = [];
  try {
    const evalSet = (split: 'val' | 'test'): SplitEval => ({ features: feats.all(split), items: ds.split(split) });
    const [val, test] = [evalSet('val'), evalSet('test')];
    // feasibility from the frozen text features of "a photo of {word}"
    const words = (names: readonly string[]) => tf.tidy(() => l2normalize(model.encodeText(tokenizer.tokenize(names.map((n) => `a photo of ${cspName(n)}`), { contextLength: model.config.contextLength }))).arraySync() as number[][]);
    const scores = feasibilityScores(ds.attrs, ds.objs, ds.openWorldPairs, ds.trainPairs, cosineMatrix(words(ds.attrs)), cosineMatrix(words(ds.objs)));
    /** Closed- and open-world statistics of text features over the closed and open pair lists. */
    const evaluate = (text: { closed: tf.Tensor2D; open: tf.Tensor2D }) => {
      const closed = statsFor(ds, 'test', test, ds.pairs, text.closed, model, false);
      const valLogits = logitsOf(model, val.features, text.open);
      const index = new Map(ds.openWorldPairs.map(([a, o], i) => [`${a}\u0000${o}`, i]));
      const { threshold } = chooseThreshold({
        attrs: ds.attrs, objs: ds.objs, pairs: ds.openWorldPairs, trainPairs: ds.trainPairs, valPairs: ds.valPairs, testPairs: ds.testPairs, logits: valLogits,
        attrTruth: val.items.map((it) => it.attr), objTruth: val.items.map((it) => it.obj),
        pairTruth: val.items.map((it) => index.get(`${ds.attrs[it.attr]}\u0000${ds.objs[it.obj]}`) as number),
      }, scores);
      const open = statsFor(ds, 'test', test, ds.openWorldPairs, text.open, model, true, { scores, threshold });
      return { closed, open, threshold };
    };
    const zs = { closed: zeroshotText(model, tokenizer, ds.pairs), open: zeroshotText(model, tokenizer, ds.openWorldPairs) };
    const zr = evaluate(zs);
    tf.dispose([zs.closed, zs.open]);
    log(`world-czsl: zero-shot closed AUC ${(100 * zr.closed.AUC).toFixed(1)}, unseen ${(100 * zr.closed.best_unseen).toFixed(1)}; open AUC ${(100 * zr.open.AUC).toFixed(1)}`);
    const train = ds.split('train');
    const trainIdx = new Map(ds.trainPairs.map(([a, o], i) => [`${a}\u0000${o}`, i]));
    const labels = train.map((it) => trainIdx.get(`${ds.attrs[it.attr]}\u0000${ds.objs[it.obj]}`) as number);
    for (const seed of opts.seeds ?? [1]) {
      rows.push(...rowsOf('zeroshot', seed, zr.closed, zr.open));
      for (const which of ['coop', 'csp'] as const) {
        const { preset, epochs } = czslPresets(quick)[which];
        const setup = trainingSetup(preset, { dataset: 'world-czsl', seed, imageResolution: model.config.imageResolution, cachedFeatures: opts.cachedFeatures === true, epochs });
        const m: CompositionalPrompt = buildCompositional(preset, model, tokenizer, ds.attrs, ds.objs, indexPairs(ds, ds.trainPairs), seed);
        try {
          m.training = true;
          const t0 = Date.now();
          const r = trainOn(m, setup, { ds, items: train, labels }, feats, { onProgress: labelled(opts.onProgress, `world-czsl seed ${seed}, ${which}`) });
          m.training = false;
          const text = tf.tidy(() => ({ closed: m.textFeatures(indexPairs(ds, ds.pairs)), open: m.textFeatures(indexPairs(ds, ds.openWorldPairs)) }));
          const res = evaluate(text);
          tf.dispose([text.closed, text.open]);
          rows.push(...rowsOf(which, seed, res.closed, res.open));
          const last = r.history[r.history.length - 1];
          log(`world-czsl, seed ${seed}, ${which} (${epochs} epochs, ${((Date.now() - t0) / 1000).toFixed(0)} s, train loss ${last.loss.toFixed(3)}): closed AUC ${(100 * res.closed.AUC).toFixed(1)}, unseen ${(100 * res.closed.best_unseen).toFixed(1)}, HM ${(100 * res.closed.best_hm).toFixed(1)}; open AUC ${(100 * res.open.AUC).toFixed(1)} (threshold ${res.threshold.toFixed(3)})`);
        } finally {
          m.dispose();
        }
      }
    }
  } finally {
    feats.dispose();
  }
  return rows;
}
