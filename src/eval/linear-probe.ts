// The linear-probe baseline exactly as CoOp runs it (lpclip/linear_probe.py, after CLIP's appendix A3):
//
//   * features: the frozen image encoder's output, *not* normalised, with the test transform;
//   * classifier: scikit-learn's LogisticRegression(solver="lbfgs", max_iter=1000, penalty="l2", C):
//     multinomial (softmax) regression with an intercept, minimising
//         0.5 ||W||^2 + C * sum_i CE(x_i W^T + b, y_i)          (intercept not penalised)
//     in float64 (two classes: one binary logistic regression, as scikit-learn's "auto" does);
//   * C chosen on the few-shot val split: first the 7 values 1e6, 1e4, ..., 1e-6 (the first best wins,
//     numpy's argmax), then 8 rounds of a binary search in log10 space between 0.1x and 10x the peak,
//     each round keeping the better side (the left one on a tie); the classifier of the last round is
//     the one whose test accuracy is reported.
import * as tf from '@tensorflow/tfjs';
import { lbfgs } from './lbfgs';

/** Rows of features and their labels (any integers; the classes are the sorted distinct train labels). */
export interface ProbeSplit {
  features: tf.Tensor2D | readonly (readonly number[])[] | { data: ArrayLike<number>; rows: number; dim: number };
  labels: ArrayLike<number>;
}

/** Rows of float64 features, row-major. */
export interface Matrix {
  data: Float64Array; // [rows, dim], row-major
  rows: number;
  dim: number;
}

export interface LogisticModel {
  /** The class label of each row of `coef` (sorted). */
  classes: number[];
  /** [K', dim] (K' = K, or 1 for two classes: the second class's score). */
  coef: Float64Array;
  intercept: Float64Array;
  dim: number;
  iterations: number;
  converged: boolean;
}

export interface LogisticOptions {
  /** Inverse regularisation strength (scikit-learn's C). */
  C: number;
  /** Default 1000 (CoOp's max_iter). */
  maxIter?: number;
  /** Largest gradient component at convergence; default 1e-4 (scikit-learn's tol). */
  tol?: number;
}

function toMatrix(f: ProbeSplit['features'], what: string): Matrix {
  if (f instanceof tf.Tensor) {
    if (f.rank !== 2) throw new Error(`${what}: features must be [N, dim], got shape [${f.shape}]`);
    return { data: Float64Array.from(f.dataSync()), rows: f.shape[0], dim: f.shape[1] };
  }
  if (Array.isArray(f)) {
    const rows = f.length;
    const dim = rows ? f[0].length : 0;
    const data = new Float64Array(rows * dim);
    f.forEach((r, i) => {
      if (r.length !== dim) throw new Error(`${what}: row ${i} has ${r.length} values, expected ${dim}`);
      for (let j = 0; j < dim; j++) data[i * dim + j] = r[j];
    });
    return { data, rows, dim };
  }
  const m = f as { data: ArrayLike<number>; rows: number; dim: number };
  if (m.data.length !== m.rows * m.dim) throw new Error(`${what}: ${m.data.length} values for ${m.rows} x ${m.dim}`);
  return { data: Float64Array.from(m.data), rows: m.rows, dim: m.dim };
}

function checkSplit(s: ProbeSplit, what: string): { x: Matrix; y: Int32Array } {
  const x = toMatrix(s.features, what);
  if (s.labels.length !== x.rows) throw new Error(`${what}: ${x.rows} feature rows but ${s.labels.length} labels`);
  const y = Int32Array.from(s.labels as ArrayLike<number>);
  for (let i = 0; i < y.length; i++) if (y[i] !== s.labels[i]) throw new Error(`${what}: label ${i} is ${s.labels[i]}, not an integer`);
  for (let i = 0; i < x.data.length; i++) if (!Number.isFinite(x.data[i])) throw new Error(`${what}: feature value ${i} is ${x.data[i]}`);
  return { x, y };
}

/** Fits scikit-learn's L2 logistic regression (lbfgs) to features [N, dim] and labels. */
export function fitLogisticRegression(train: ProbeSplit, opts: LogisticOptions): LogisticModel {
  const { x, y } = checkSplit(train, 'fitLogisticRegression');
  return fitMatrix(x, y, opts);
}

function fitMatrix(x: Matrix, y: Int32Array, opts: LogisticOptions): LogisticModel {
  const C = opts.C;
  if (!(C > 0) || !Number.isFinite(C)) throw new Error(`fitLogisticRegression: C must be a positive number, got ${C}`);
  const { classes, k, objective } = logisticObjective(x, y, C);
  const stride = x.dim + 1;
  const r = lbfgs(objective, new Float64Array(k * stride), { gtol: opts.tol ?? 1e-4, maxIter: opts.maxIter ?? 1000 });
  const coef = new Float64Array(k * x.dim);
  const intercept = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    coef.set(r.x.subarray(c * stride, c * stride + x.dim), c * x.dim);
    intercept[c] = r.x[c * stride + x.dim];
  }
  return { classes, coef, intercept, dim: x.dim, iterations: r.iterations, converged: r.converged };
}

/**
 * scikit-learn's objective divided by C, sum_i CE(x_i W^T + b, y_i) + ||W||^2 / (2 C), and its
 * gradient, for w laid out per class as [dim weights, intercept] (k = 1 for two classes). Exported for
 * the test that holds it to the plain loops bit for bit.
 */
export function logisticObjective(x: Matrix, y: Int32Array, C: number): { classes: number[]; k: number; objective: (w: Float64Array, g: Float64Array) => number } {
  const classes = [...new Set(y)].sort((a, b) => a - b);
  if (classes.length < 2) throw new Error(`fitLogisticRegression: the training labels hold ${classes.length} class; at least 2 are needed`);
  const { data: X, rows: n, dim } = x;
  const binary = classes.length === 2;
  const k = binary ? 1 : classes.length;
  const index = new Map(classes.map((c, i) => [c, i]));
  const yi = Int32Array.from(y, (v) => index.get(v) as number);
  const stride = dim + 1; // per class: dim weights, then the intercept
  const l2 = 1 / C;       // the objective divided by C, as scikit-learn minimises it
  const Xt = transpose(X, n, dim);                                   // [dim, n]
  const raw = new Float64Array(n * k);
  const errT = new Float64Array(k * n);                              // (P - Y)^T  [k, n]
  const objective = (w: Float64Array, g: Float64Array): number => {
    forwardRaw(X, n, dim, w, k, stride, raw);                       // raw = X W^T + b   [n, k]
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const r = i * k;
      if (binary) {
        // log(1 + exp(z)) - y z, its derivative sigmoid(z) - y
        const z = raw[r];
        const t = yi[i];
        loss += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - t * z;
        errT[i] = (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z))) - t;
      } else {
        let max = -Infinity;
        for (let c = 0; c < k; c++) if (raw[r + c] > max) max = raw[r + c];
        let sum = 0;
        for (let c = 0; c < k; c++) sum += Math.exp(raw[r + c] - max);
        const lse = max + Math.log(sum);
        loss += lse - raw[r + yi[i]];
        for (let c = 0; c < k; c++) errT[c * n + i] = Math.exp(raw[r + c] - lse) - (c === yi[i] ? 1 : 0);
      }
    }
    backwardGrad(Xt, n, dim, errT, k, stride, g);                   // g = (P - Y)^T [X 1]
    let norm = 0;
    for (let c = 0; c < k; c++) {
      const wc = c * stride;
      for (let j = 0; j < dim; j++) {
        norm += w[wc + j] * w[wc + j];
        g[wc + j] += l2 * w[wc + j];
      }
    }
    return loss + 0.5 * l2 * norm;
  };
  return { classes, k, objective };
}

function transpose(X: Float64Array, n: number, dim: number): Float64Array {
  const t = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) t[j * n + i] = X[i * dim + j];
  return t;
}

// The two products of the objective, in float64, blocked so that each value loaded serves several
// independent sums (V8 has no SIMD for us): the forward reads two rows of X for four classes at a
// time, the backward reads X^T and (P - Y)^T so that each gradient entry is a sum kept in a register.
// Every sum runs over its index in the same order as the plain loops (over j for a score, over i for a
// gradient entry), so the results are bit-identical to them (test/unit/linear-probe.test.ts).

/** raw[i, c] = b_c + sum_j X[i, j] w[c, j], for w laid out per class as [dim weights, intercept]. */
function forwardRaw(X: Float64Array, n: number, dim: number, w: Float64Array, k: number, stride: number, raw: Float64Array): void {
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const xa = i * dim, xb = xa + dim;
    const ra = i * k, rb = ra + k;
    let c = 0;
    for (; c + 4 <= k; c += 4) {
      const w0 = c * stride, w1 = w0 + stride, w2 = w1 + stride, w3 = w2 + stride;
      let a0 = w[w0 + dim], a1 = w[w1 + dim], a2 = w[w2 + dim], a3 = w[w3 + dim];
      let b0 = a0, b1 = a1, b2 = a2, b3 = a3;
      for (let j = 0; j < dim; j++) {
        const u = X[xa + j], v = X[xb + j];
        const v0 = w[w0 + j], v1 = w[w1 + j], v2 = w[w2 + j], v3 = w[w3 + j];
        a0 += u * v0; a1 += u * v1; a2 += u * v2; a3 += u * v3;
        b0 += v * v0; b1 += v * v1; b2 += v * v2; b3 += v * v3;
      }
      raw[ra + c] = a0; raw[ra + c + 1] = a1; raw[ra + c + 2] = a2; raw[ra + c + 3] = a3;
      raw[rb + c] = b0; raw[rb + c + 1] = b1; raw[rb + c + 2] = b2; raw[rb + c + 3] = b3;
    }
    for (; c < k; c++) {
      const wc = c * stride;
      let a = w[wc + dim], b = a;
      for (let j = 0; j < dim; j++) {
        a += X[xa + j] * w[wc + j];
        b += X[xb + j] * w[wc + j];
      }
      raw[ra + c] = a;
      raw[rb + c] = b;
    }
  }
  for (; i < n; i++) {
    const xi = i * dim;
    const ri = i * k;
    for (let c = 0; c < k; c++) {
      const wc = c * stride;
      let s = w[wc + dim];
      for (let j = 0; j < dim; j++) s += X[xi + j] * w[wc + j];
      raw[ri + c] = s;
    }
  }
}

/**
 * g[c, j] = sum_i e[i, c] X[i, j] and g[c, dim] = sum_i e[i, c], each summed over i in order, from
 * Xt = X^T [dim, n] and eT = e^T [k, n].
 */
function backwardGrad(Xt: Float64Array, n: number, dim: number, eT: Float64Array, k: number, stride: number, g: Float64Array): void {
  let c = 0;
  for (; c + 4 <= k; c += 4) {
    const e0 = c * n, e1 = e0 + n, e2 = e1 + n, e3 = e2 + n;
    const g0 = c * stride, g1 = g0 + stride, g2 = g1 + stride, g3 = g2 + stride;
    let j = 0;
    for (; j + 2 <= dim; j += 2) {
      const xa = j * n, xb = xa + n;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      for (let i = 0; i < n; i++) {
        const u = Xt[xa + i], v = Xt[xb + i];
        const f0 = eT[e0 + i], f1 = eT[e1 + i], f2 = eT[e2 + i], f3 = eT[e3 + i];
        a0 += f0 * u; a1 += f1 * u; a2 += f2 * u; a3 += f3 * u;
        b0 += f0 * v; b1 += f1 * v; b2 += f2 * v; b3 += f3 * v;
      }
      g[g0 + j] = a0; g[g1 + j] = a1; g[g2 + j] = a2; g[g3 + j] = a3;
      g[g0 + j + 1] = b0; g[g1 + j + 1] = b1; g[g2 + j + 1] = b2; g[g3 + j + 1] = b3;
    }
    for (; j < dim; j++) {
      const xa = j * n;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let i = 0; i < n; i++) {
        const u = Xt[xa + i];
        a0 += eT[e0 + i] * u; a1 += eT[e1 + i] * u; a2 += eT[e2 + i] * u; a3 += eT[e3 + i] * u;
      }
      g[g0 + j] = a0; g[g1 + j] = a1; g[g2 + j] = a2; g[g3 + j] = a3;
    }
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = 0; i < n; i++) { s0 += eT[e0 + i]; s1 += eT[e1 + i]; s2 += eT[e2 + i]; s3 += eT[e3 + i]; }
    g[g0 + dim] = s0; g[g1 + dim] = s1; g[g2 + dim] = s2; g[g3 + dim] = s3;
  }
  for (; c < k; c++) {
    const ec = c * n;
    const gc = c * stride;
    for (let j = 0; j < dim; j++) {
      const xj = j * n;
      let s = 0;
      for (let i = 0; i < n; i++) s += eT[ec + i] * Xt[xj + i];
      g[gc + j] = s;
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += eT[ec + i];
    g[gc + dim] = s;
  }
}

function predictMatrix(m: LogisticModel, x: Matrix): Int32Array {
  if (x.dim !== m.dim) throw new Error(`predict: features have ${x.dim} values per row, the classifier ${m.dim}`);
  const k = m.intercept.length;
  const out = new Int32Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < k; c++) {
      let s = m.intercept[c];
      for (let j = 0; j < m.dim; j++) s += x.data[i * m.dim + j] * m.coef[c * m.dim + j];
      if (k === 1) {
        best = s > 0 ? 1 : 0;
      } else if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    out[i] = m.classes[best];
  }
  return out;
}

/** The predicted labels of features [N, dim] (the highest score; the first class on a tie). */
export function predictLogistic(m: LogisticModel, features: ProbeSplit['features']): Int32Array {
  return predictMatrix(m, toMatrix(features, 'predict'));
}

function accuracyOf(m: LogisticModel, x: Matrix, y: Int32Array): number {
  const p = predictMatrix(m, x);
  let correct = 0;
  for (let i = 0; i < y.length; i++) if (p[i] === y[i]) correct++;
  return y.length ? correct / y.length : 0;
}

/** CoOp's initial C grid. */
export const PROBE_SEARCH_C = [1e6, 1e4, 1e2, 1, 1e-2, 1e-4, 1e-6];
/** Rounds of the binary search. */
export const PROBE_SEARCH_STEPS = 8;

export interface ProbeStep {
  cLeft: number;
  cRight: number;
  /** Val accuracies in [0, 1]. */
  leftValAccuracy: number;
  rightValAccuracy: number;
  /** The side kept and its classifier's test accuracy in [0, 1]. */
  cFinal: number;
  testAccuracy: number;
}

export interface LinearProbeResult {
  /** C of the reported classifier (the last round's). */
  C: number;
  /** Its val accuracy and test accuracy, in [0, 1]. */
  valAccuracy: number;
  testAccuracy: number;
  search: { C: number; valAccuracy: number }[];
  steps: ProbeStep[];
}

/** CoOp's linear probe: C searched on val, the last binary-search round's classifier scored on test. */
export function linearProbe(train: ProbeSplit, val: ProbeSplit, test: ProbeSplit, opts: { maxIter?: number; steps?: number; searchC?: readonly number[] } = {}): LinearProbeResult {
  const tr = checkSplit(train, 'linear probe (train)');
  const va = checkSplit(val, 'linear probe (val)');
  const te = checkSplit(test, 'linear probe (test)');
  for (const [s, what] of [[va, 'val'], [te, 'test']] as const) {
    if (s.x.dim !== tr.x.dim) throw new Error(`linear probe: ${what} features have ${s.x.dim} values per row, train ${tr.x.dim}`);
  }
  if (va.y.length === 0 || te.y.length === 0) throw new Error('linear probe: the val and test splits must not be empty');
  // a fit is a function of C alone: the search's rounds refit the C of a side they kept (sklearn's
  // loop fits it again), here it is fitted once
  const fits = new Map<number, LogisticModel>();
  const fit = (C: number): LogisticModel => {
    let m = fits.get(C);
    if (!m) fits.set(C, (m = fitMatrix(tr.x, tr.y, { C, maxIter: opts.maxIter ?? 1000 })));
    return m;
  };
  const search = (opts.searchC ?? PROBE_SEARCH_C).map((C) => ({ C, valAccuracy: accuracyOf(fit(C), va.x, va.y) }));
  let peak = 0;
  for (let i = 1; i < search.length; i++) if (search[i].valAccuracy > search[peak].valAccuracy) peak = i;
  let cLeft = 0.1 * search[peak].C;
  let cRight = 10 * search[peak].C;
  const steps: ProbeStep[] = [];
  let final: { C: number; model: LogisticModel; val: number } | null = null;
  for (let s = 0; s < (opts.steps ?? PROBE_SEARCH_STEPS); s++) {
    const left = fit(cLeft);
    const right = fit(cRight);
    const accLeft = accuracyOf(left, va.x, va.y);
    const accRight = accuracyOf(right, va.x, va.y);
    const [lo, hi] = [Math.log10(cLeft), Math.log10(cRight)];
    const step = { cLeft, cRight, leftValAccuracy: accLeft, rightValAccuracy: accRight };
    if (accLeft < accRight) {
      final = { C: cRight, model: right, val: accRight };
      [cLeft, cRight] = [10 ** (0.5 * (hi + lo)), 10 ** hi];
    } else {
      final = { C: cLeft, model: left, val: accLeft };
      [cLeft, cRight] = [10 ** lo, 10 ** (0.5 * (hi + lo))];
    }
    steps.push({ ...step, cFinal: final.C, testAccuracy: accuracyOf(final.model, te.x, te.y) });
  }
  if (!final) throw new Error('linear probe: steps must be at least 1');
  return { C: final.C, valAccuracy: final.val, testAccuracy: steps[steps.length - 1].testAccuracy, search, steps };
}
