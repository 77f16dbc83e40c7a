// The compositional zero-shot evaluator of the official CSP code (BatsResearch/csp evaluate.py:
// Evaluator and test(), after Nagarajan and Grauman's attributes-as-operators and the czsl library),
// ported literally, with its arithmetic in float32 as torch does it:
//
//   L [N, P]: logits of N images over the P pairs (closed world: the sorted union of the train, val
//   and test pairs; open world: every attribute x object).
//   closed prediction:  L + bias on unseen pairs, pairs outside (test ∪ train) at -1e10 (none in the
//                       open world), argmax; "unbiased": the same without the bias.
//   bias sweep:         for each unseen test image the closed prediction got right at bias 1e3, the
//                       margin max_seen L - L_true (less 1e-4); sorted; every (n // 20)-th is a bias;
//                       seen and unseen accuracy at each bias, plus the bias-1e3 point.
//   AUC = trapezoid area of seen accuracy over unseen accuracy (numpy.trapz, in list order);
//   best HM = max of their harmonic means (scipy.stats.hmean: 0 when either is 0), and so on.
//
// Open world with feasibility (evaluate.py threshold_with_feasibility): L * ((feasibility >= th) + seen)
// multiplies infeasible unseen logits by 0, not -inf, as the official code does.

export type PairNames = readonly (readonly [string, string])[];

export interface CzslInput {
  attrs: readonly string[];
  objs: readonly string[];
  /** The logits' columns, in order. */
  pairs: PairNames;
  trainPairs: PairNames;
  valPairs: PairNames;
  testPairs: PairNames;
  /** Every attribute x object is a candidate (no closed-world mask). */
  openWorld: boolean;
  /** Which split the images come from (decides the closed-world mask); default 'test'. */
  phase?: 'train' | 'val' | 'test';
  /** [N * P] row-major (float32 values). */
  logits: Float32Array;
  attrTruth: ArrayLike<number>;
  objTruth: ArrayLike<number>;
  /** Index into `pairs` of each image's true pair. */
  pairTruth: ArrayLike<number>;
  /** Bias added to unseen pairs for the "closed" prediction; default 1e3. */
  bias?: number;
}

/** Every statistic the official evaluator returns (accuracies in [0, 1]). */
export interface CzslStats {
  [key: string]: number;
  closed_attr_match: number;
  closed_obj_match: number;
  closed_match: number;
  closed_seen_match: number;
  closed_unseen_match: number;
  closed_ub_attr_match: number;
  closed_ub_obj_match: number;
  closed_ub_match: number;
  closed_ub_seen_match: number;
  closed_ub_unseen_match: number;
  biasterm: number;
  best_unseen: number;
  best_seen: number;
  AUC: number;
  hm_unseen: number;
  hm_seen: number;
  best_hm: number;
  attr_acc: number;
  obj_acc: number;
}

const f32 = Math.fround;
const key = (a: string, o: string) => `${a}\u0000${o}`;

function mean(xs: ArrayLike<number>, idx?: readonly number[]): number {
  const ids = idx ?? Array.from({ length: xs.length }, (_, i) => i);
  if (ids.length === 0) return NaN; // torch: the mean of an empty tensor
  let s = 0;
  for (const i of ids) s += xs[i];
  return s / ids.length;
}

/** scipy.stats.hmean of two non-negative values: 0 when either is 0. */
function hmean2(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return 2 / (1 / a + 1 / b);
}

/** The official evaluator's statistics for one split's logits. */
export function evaluateCzsl(inp: CzslInput): CzslStats {
  return evaluateCzslDetailed(inp).stats;
}

/** The statistics, the seen/unseen accuracy curve over the bias sweep (bias-1e3 point last), and each image's predicted pair at the best-HM bias. */
export interface CzslEvaluation {
  stats: CzslStats;
  curve: { bias: number[]; seen: number[]; unseen: number[] };
  /** Index into `pairs` predicted for each image at the bias of the best harmonic mean. */
  predictions: Int32Array;
}

export function evaluateCzslDetailed(inp: CzslInput): CzslEvaluation {
  const { pairs, logits } = inp;
  const p = pairs.length;
  const n = inp.attrTruth.length;
  if (logits.length !== n * p) throw new Error(`evaluateCzsl: ${logits.length} logits for ${n} images x ${p} pairs`);
  if (inp.objTruth.length !== n || inp.pairTruth.length !== n) throw new Error('evaluateCzsl: attrTruth, objTruth and pairTruth must have one entry per image');
  const attrIdx = new Map(inp.attrs.map((a, i) => [a, i]));
  const objIdx = new Map(inp.objs.map((o, i) => [o, i]));
  const pairAttr = Int32Array.from(pairs, ([a]) => {
    const i = attrIdx.get(a);
    if (i === undefined) throw new Error(`evaluateCzsl: pair attribute "${a}" is not in attrs`);
    return i;
  });
  const pairObj = Int32Array.from(pairs, ([, o]) => {
    const i = objIdx.get(o);
    if (i === undefined) throw new Error(`evaluateCzsl: pair object "${o}" is not in objs`);
    return i;
  });
  const train = new Set(inp.trainPairs.map(([a, o]) => key(a, o)));
  const phase = inp.phase ?? 'test';
  const evalSet = new Set([...(phase === 'train' ? [] : phase === 'val' ? inp.valPairs : inp.testPairs), ...inp.trainPairs].map(([a, o]) => key(a, o)));
  const seenMask = pairs.map(([a, o]) => train.has(key(a, o)));
  const closedMask = pairs.map(([a, o]) => inp.openWorld || evalSet.has(key(a, o)));
  // seen images: their (attr, obj) indices are a train pair
  const trainIdx = new Set(inp.trainPairs.map(([a, o]) => `${attrIdx.get(a)},${objIdx.get(o)}`));
  const seenInd: number[] = [];
  const unseenInd: number[] = [];
  for (let i = 0; i < n; i++) (trainIdx.has(`${inp.attrTruth[i]},${inp.objTruth[i]}`) ? seenInd : unseenInd).push(i);

  /** argmax per row of L + bias (unseen pairs), closed-world mask at -1e10; the first maximum wins. */
  const predict = (bias: number, closed: boolean): Int32Array => {
    const b = f32(bias);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = -Infinity;
      let arg = 0;
      for (let j = 0; j < p; j++) {
        let s = logits[i * p + j];
        if (!seenMask[j]) s = f32(s + b);
        if (closed && !closedMask[j]) s = -1e10;
        if (s > best) {
          best = s;
          arg = j;
        }
      }
      out[i] = arg;
    }
    return out;
  };
  const process = (pred: Int32Array) => {
    const attr = new Float64Array(n);
    const obj = new Float64Array(n);
    const match = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      attr[i] = pairAttr[pred[i]] === inp.attrTruth[i] ? 1 : 0;
      obj[i] = pairObj[pred[i]] === inp.objTruth[i] ? 1 : 0;
      match[i] = attr[i] * obj[i];
    }
    return { attr, obj, match };
  };
  const stats: Record<string, number> = {};
  const add = (name: string, r: ReturnType<typeof process>) => {
    stats[`${name}_attr_match`] = mean(r.attr);
    stats[`${name}_obj_match`] = mean(r.obj);
    stats[`${name}_match`] = mean(r.match);
    stats[`${name}_seen_match`] = mean(r.match, seenInd);
    stats[`${name}_unseen_match`] = mean(r.match, unseenInd);
    // the official code's class-average placeholders: torch.ones(512, 5) (+ the same)
    stats[`${name}_ca`] = 2;
    stats[`${name}_seen_ca`] = 1;
    stats[`${name}_unseen_ca`] = 1;
  };
  const biasedPred = predict(inp.bias ?? 1e3, true);
  const closed = process(biasedPred);
  const unbiasedPred = predict(0, true);
  const unbiased = process(unbiasedPred);
  add('closed', closed);
  add('closed_ub', unbiased);

  // the bias list: margins of the unseen images the closed prediction got right
  const diffs: number[] = [];
  for (const i of unseenInd) {
    if (closed.match[i] !== 1) continue;
    const correct = logits[i * p + inp.pairTruth[i]];
    let maxSeen = -Infinity;
    for (let j = 0; j < p; j++) if (seenMask[j] && logits[i * p + j] > maxSeen) maxSeen = logits[i * p + j];
    diffs.push(f32(f32(maxSeen - correct) - f32(1e-4)));
  }
  diffs.sort((a, b) => a - b);
  const skip = Math.max(Math.floor(diffs.length / 20), 1);
  const biaslist = diffs.filter((_, i) => i % skip === 0);
  const seenAcc: number[] = [];
  const unseenAcc: number[] = [];
  for (const b of biaslist) {
    const r = process(predict(b, true));
    seenAcc.push(mean(r.match, seenInd));
    unseenAcc.push(mean(r.match, unseenInd));
  }
  seenAcc.push(stats.closed_seen_match);
  unseenAcc.push(stats.closed_unseen_match);
  let auc = 0;
  for (let i = 0; i + 1 < seenAcc.length; i++) auc += ((unseenAcc[i + 1] - unseenAcc[i]) * (seenAcc[i + 1] + seenAcc[i])) / 2;
  const hm = seenAcc.map((s, i) => hmean2(s, unseenAcc[i]));
  let idx = 0;
  for (let i = 1; i < hm.length; i++) if (hm[i] > hm[idx]) idx = i;
  stats.biasterm = idx === biaslist.length ? 1e3 : biaslist[idx];
  stats.best_unseen = Math.max(...unseenAcc);
  stats.best_seen = Math.max(...seenAcc);
  stats.AUC = auc;
  stats.hm_unseen = unseenAcc[idx];
  stats.hm_seen = seenAcc[idx];
  stats.best_hm = hm[idx];
  stats.attr_acc = mean(unbiased.attr);
  stats.obj_acc = mean(unbiased.obj);
  const bias = [...biaslist, inp.bias ?? 1e3];
  return { stats: stats as CzslStats, curve: { bias, seen: seenAcc, unseen: unseenAcc }, predictions: predict(bias[idx], true) };
}

/**
 * evaluate.py threshold_with_feasibility: logits * ((feasibility >= threshold) + seen), so an
 * infeasible unseen pair's logit becomes 0 (not -inf) and re-enters the bias sweep at 0 + bias.
 */
export function thresholdWithFeasibility(logits: Float32Array, pairs: number, seenMask: readonly boolean[], feasibility: ArrayLike<number>, threshold: number): Float32Array {
  if (seenMask.length !== pairs || feasibility.length !== pairs) throw new Error(`thresholdWithFeasibility: need ${pairs} seen flags and feasibility scores`);
  const factor = Float32Array.from({ length: pairs }, (_, j) => (feasibility[j] >= threshold ? 1 : 0) + (seenMask[j] ? 1 : 0));
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] * factor[i % pairs];
  return out;
}
