// Open-world feasibility of attribute-object pairs, as the official CSP code computes it
// (datasets/feasibility.py compute_feasibility, after Mancini et al.'s CompCos): for an unseen pair (a, o),
//
//   s_obj  = max over objects o' != o that a is paired with in training of cos(w(o), w(o'))   (-1 if none)
//   s_attr = max over attributes a' != a paired with o in training of cos(w(a), w(a'))       (-1 if none)
//   feasibility(a, o) = (s_obj + s_attr) / 2;  0 for seen pairs
//
// where w are word vectors (GloVe in the paper). The threshold applied at test time is the one of 50
// evenly spaced values between the unseen pairs' smallest and largest feasibility with the best AUC on
// the validation split (evaluate.py), the first best kept.
import { evaluateCzsl, thresholdWithFeasibility, type CzslInput, type PairNames } from './czsl';

/** Cosine similarity of each pair of rows of vectors [n][d]. */
export function cosineMatrix(vectors: readonly (readonly number[])[]): number[][] {
  const norms = vectors.map((v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1);
  return vectors.map((a, i) => vectors.map((b, j) => a.reduce((s, x, k) => s + x * b[k], 0) / (norms[i] * norms[j])));
}

/** Feasibility of each of `pairs` (usually every attribute x object) given the train pairs and the names' similarities. */
export function feasibilityScores(attrs: readonly string[], objs: readonly string[], pairs: PairNames, trainPairs: PairNames, attrSim: number[][], objSim: number[][]): Float32Array {
  const train = new Set(trainPairs.map(([a, o]) => `${a}\u0000${o}`));
  const ai = new Map(attrs.map((a, i) => [a, i]));
  const oi = new Map(objs.map((o, i) => [o, i]));
  const attrsByObj = new Map<string, Set<string>>(objs.map((o) => [o, new Set()]));
  const objsByAttr = new Map<string, Set<string>>(attrs.map((a) => [a, new Set()]));
  for (const [a, o] of trainPairs) {
    attrsByObj.get(o)?.add(a);
    objsByAttr.get(a)?.add(o);
  }
  return Float32Array.from(pairs, ([a, o]) => {
    if (train.has(`${a}\u0000${o}`)) return 0;
    let sObj = -1;
    for (const o2 of objs) if (o2 !== o && attrsByObj.get(o2)?.has(a)) sObj = Math.max(sObj, objSim[oi.get(o) as number][oi.get(o2) as number]);
    let sAttr = -1;
    for (const a2 of attrs) if (a2 !== a && objsByAttr.get(a2)?.has(o)) sAttr = Math.max(sAttr, attrSim[ai.get(a) as number][ai.get(a2) as number]);
    return (sObj + sAttr) / 2;
  });
}

/**
 * evaluate.py's threshold search on the validation split: 50 thresholds from the smallest to the
 * largest unseen feasibility; the first with the best val AUC (above 0), else -10 (nothing filtered).
 */
export function chooseThreshold(val: Omit<CzslInput, 'phase' | 'openWorld'>, feasibility: Float32Array, trials = 50): { threshold: number; auc: number } {
  const train = new Set(val.trainPairs.map(([a, o]) => `${a}\u0000${o}`));
  const seen = val.pairs.map(([a, o]) => train.has(`${a}\u0000${o}`));
  let lo = Infinity;
  let hi = -Infinity;
  feasibility.forEach((f, j) => {
    lo = Math.min(lo, f + (seen[j] ? 10 : 0));
    hi = Math.max(hi, f - (seen[j] ? 10 : 0));
  });
  let best = { threshold: -10, auc: 0 };
  for (let t = 0; t < trials; t++) {
    const th = trials === 1 ? lo : lo + ((hi - lo) * t) / (trials - 1);
    const logits = thresholdWithFeasibility(val.logits, val.pairs.length, seen, feasibility, th);
    const auc = evaluateCzsl({ ...val, logits, openWorld: true, phase: 'val' }).AUC;
    if (auc > best.auc) best = { threshold: th, auc };
  }
  return best;
}
