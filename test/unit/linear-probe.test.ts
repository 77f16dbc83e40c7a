// CoOp's linear probe: scikit-learn's L-BFGS logistic regression reproduced fit by fit (golden fits
// made by scripts/golden/sklearn-logistic.py), and the C search reporting the test accuracy of the
// last round's classifier. The parity suite runs CoOp's whole procedure (test/parity/linear-probe.test.ts).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { lbfgs } from '../../src/eval/lbfgs';
import { fitLogisticRegression, linearProbe, logisticObjective, predictLogistic } from '../../src/eval/linear-probe';

interface Fit { name: string; C: number; features: number[][]; labels: number[]; classes: number[]; coef: number[][]; intercept: number[]; n_iter: number; predictions: number[] }
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'sklearn-logistic', 'fits.json'), 'utf8')) as { source: string; cases: Fit[] };

/** scikit-learn's objective divided by C: sum of the cross-entropies + ||W||^2 / (2 C). */
function objective(c: Fit, coef: ArrayLike<number>, intercept: ArrayLike<number>): number {
  const dim = c.features[0].length;
  const k = intercept.length;
  let f = 0;
  c.features.forEach((x, i) => {
    const z = Array.from({ length: k }, (_, j) => intercept[j] + x.reduce((s, v, d) => s + v * coef[j * dim + d], 0));
    const y = c.classes.indexOf(c.labels[i]);
    if (k === 1) f += Math.log1p(Math.exp(z[0])) - (y === 1 ? z[0] : 0);
    else {
      const max = Math.max(...z);
      f += max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0)) - z[y];
    }
  });
  let norm = 0;
  for (let i = 0; i < k * dim; i++) norm += coef[i] * coef[i];
  return f + norm / (2 * c.C);
}

describe('linear probe: scikit-learn\'s logistic regression and CoOp\'s search', () => {
  for (const c of golden.cases) {
    it(`${c.name}: the same coefficients, iterations and predictions as ${golden.source.split(' ').slice(0, 2).join(' ')}`, () => {
      const m = fitLogisticRegression({ features: c.features, labels: c.labels }, { C: c.C });
      assert.deepStrictEqual(m.classes, c.classes);
      assert.strictEqual(m.iterations, c.n_iter, 'L-BFGS iterations');
      // both stop at the gradient tolerance after the same iterations; rounding leaves the ill-determined
      // directions (the intercept against shifted features) a little apart, the objective much less
      const coef = c.coef.flat();
      const scale = Math.max(...coef.map(Math.abs), ...c.intercept.map(Math.abs));
      coef.forEach((w, i) => assert.ok(Math.abs(w - m.coef[i]) <= 1e-3 * scale, `coef ${i}: ${m.coef[i]} vs ${w}`));
      c.intercept.forEach((b, i) => assert.ok(Math.abs(b - m.intercept[i]) <= 1e-3 * scale, `intercept ${i}: ${m.intercept[i]} vs ${b}`));
      const ours = objective(c, m.coef, m.intercept);
      const theirs = objective(c, coef, c.intercept);
      assert.ok(Math.abs(ours - theirs) <= 1e-7 * Math.abs(theirs), `objective ${ours} vs ${theirs}`);
      assert.deepStrictEqual(Array.from(predictLogistic(m, c.features)), c.predictions);
    });
  }

  it('L-BFGS minimises a convex quadratic to the gradient tolerance', () => {
    // f = sum_i a_i (x_i - i)^2 / 2, a_i from 1 to 100: the minimum at x_i = i
    const a = Float64Array.from({ length: 30 }, (_, i) => 1 + (99 * i) / 29);
    const r = lbfgs((x, g) => {
      let f = 0;
      for (let i = 0; i < x.length; i++) {
        g[i] = a[i] * (x[i] - i);
        f += 0.5 * a[i] * (x[i] - i) ** 2;
      }
      return f;
    }, new Float64Array(30), { gtol: 1e-8, ftol: 0 });
    assert.ok(r.converged, r.message);
    r.x.forEach((v, i) => assert.ok(Math.abs(v - i) < 1e-8, `x_${i} = ${v}`));
  });

  it('reports the test accuracy of the last round\'s classifier, not its val accuracy', () => {
    // two well separated classes in train and test; val labels swapped, so val accuracy is 0 and test 100
    const pts = (n: number, flip: boolean) => ({
      features: Array.from({ length: n }, (_, i) => [i % 2 === 0 ? 2 + 0.1 * i : -2 - 0.1 * i, 0.3 * Math.sin(i)]),
      labels: Array.from({ length: n }, (_, i) => (i % 2 === 0) !== flip ? 0 : 1),
    });
    const r = linearProbe(pts(8, false), pts(6, true), pts(10, false));
    assert.strictEqual(r.testAccuracy, 1);
    assert.strictEqual(r.valAccuracy, 0);
    assert.strictEqual(r.search.length, 7);
    assert.strictEqual(r.steps.length, 8);
    assert.strictEqual(r.C, r.steps[7].cFinal);
  });

  it('keeps the left C on a tie, moves right when right is better, and reads tensors as well as arrays', () => {
    const x = [[0, 0], [1, 0], [0, 1], [1, 1], [0.2, 0.1], [0.9, 0.8]];
    const y = [0, 1, 1, 0, 0, 0];
    const t = tf.tensor2d(x);
    const a = linearProbe({ features: t, labels: y }, { features: x, labels: y }, { features: x, labels: y });
    const b = linearProbe({ features: x, labels: y }, { features: x, labels: y }, { features: x, labels: y });
    t.dispose();
    assert.deepStrictEqual(a, b);
    for (const s of a.steps) {
      assert.strictEqual(s.cFinal, s.leftValAccuracy < s.rightValAccuracy ? s.cRight : s.cLeft);
    }
  });

  it('its blocked products give the plain loops\' objective and gradient bit for bit', () => {
    // the objective as written plainly (every sum in index order): scores row by row, then the
    // gradient accumulated over the rows in order
    const plain = (X: Float64Array, n: number, dim: number, y: Int32Array, C: number) => {
      const classes = [...new Set(y)].sort((a, b) => a - b);
      const k = classes.length === 2 ? 1 : classes.length;
      const yi = Array.from(y, (v) => classes.indexOf(v));
      return (w: Float64Array, g: Float64Array): number => {
        const e = new Float64Array(n * k);
        let loss = 0;
        for (let i = 0; i < n; i++) {
          const z = Array.from({ length: k }, (_, c) => {
            let s = w[c * (dim + 1) + dim];
            for (let j = 0; j < dim; j++) s += X[i * dim + j] * w[c * (dim + 1) + j];
            return s;
          });
          if (k === 1) {
            loss += (z[0] > 0 ? z[0] + Math.log1p(Math.exp(-z[0])) : Math.log1p(Math.exp(z[0]))) - yi[i] * z[0];
            e[i] = (z[0] >= 0 ? 1 / (1 + Math.exp(-z[0])) : Math.exp(z[0]) / (1 + Math.exp(z[0]))) - yi[i];
          } else {
            let max = -Infinity;
            for (const v of z) if (v > max) max = v;
            let sum = 0;
            for (const v of z) sum += Math.exp(v - max);
            const lse = max + Math.log(sum);
            loss += lse - z[yi[i]];
            z.forEach((v, c) => { e[i * k + c] = Math.exp(v - lse) - (c === yi[i] ? 1 : 0); });
          }
        }
        g.fill(0);
        for (let i = 0; i < n; i++) {
          for (let c = 0; c < k; c++) {
            for (let j = 0; j < dim; j++) g[c * (dim + 1) + j] += e[i * k + c] * X[i * dim + j];
            g[c * (dim + 1) + dim] += e[i * k + c];
          }
        }
        let norm = 0;
        for (let c = 0; c < k; c++) {
          for (let j = 0; j < dim; j++) {
            norm += w[c * (dim + 1) + j] ** 2;
            g[c * (dim + 1) + j] += (1 / C) * w[c * (dim + 1) + j];
          }
        }
        return loss + 0.5 * (1 / C) * norm;
      };
    };
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    // odd rows and widths, class counts below, at and between the blocks of four, two classes (binary)
    for (const [n, dim, classes] of [[7, 5, 2], [9, 3, 3], [8, 4, 4], [11, 7, 6], [13, 9, 9], [6, 1, 5]]) {
      const X = Float64Array.from({ length: n * dim }, () => 3 * rand());
      const y = Int32Array.from({ length: n }, (_, i) => 10 + (i % classes));
      const k = classes === 2 ? 1 : classes;
      const w = Float64Array.from({ length: k * (dim + 1) }, () => rand());
      const [gOurs, gPlain] = [new Float64Array(w.length).fill(NaN), new Float64Array(w.length)];
      const { objective } = logisticObjective({ data: X, rows: n, dim }, y, 0.37);
      const [fOurs, fPlain] = [objective(w, gOurs), plain(X, n, dim, y, 0.37)(w, gPlain)];
      assert.ok(Object.is(fOurs, fPlain), `${n}x${dim}, ${classes} classes: loss ${fOurs} vs ${fPlain}`);
      assert.deepStrictEqual(Array.from(gOurs), Array.from(gPlain), `${n}x${dim}, ${classes} classes: gradient`);
    }
  });

  it('refuses inputs it cannot fit, naming them', () => {
    const ok = { features: [[0, 1], [1, 0]], labels: [0, 1] };
    assert.throws(() => fitLogisticRegression({ features: [[0], [1]], labels: [3, 3] }, { C: 1 }), /hold 1 class; at least 2 are needed/);
    assert.throws(() => fitLogisticRegression(ok, { C: 0 }), /C must be a positive number, got 0/);
    assert.throws(() => fitLogisticRegression({ features: [[0, 1], [1]], labels: [0, 1] }, { C: 1 }), /row 1 has 1 values, expected 2/);
    assert.throws(() => fitLogisticRegression({ features: [[0, NaN], [1, 0]], labels: [0, 1] }, { C: 1 }), /feature value 1 is NaN/);
    assert.throws(() => linearProbe(ok, { features: [[0, 1, 2]], labels: [0] }, ok), /val features have 3 values per row, train 2/);
    assert.throws(() => linearProbe(ok, ok, { features: [[0, 1]], labels: [0, 1] }), /1 feature rows but 2 labels/);
    assert.throws(() => linearProbe(ok, ok, { features: [[0, 1]], labels: [0.5] }), /label 0 is 0.5, not an integer/);
  });
});
