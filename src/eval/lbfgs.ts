// L-BFGS for smooth unconstrained problems in float64, with the decisions of the L-BFGS-B code that
// scipy.optimize.minimize(method="L-BFGS-B") runs (and so scikit-learn's lbfgs solver) when no bound
// is set (Byrd, Lu, Nocedal, Zhu 1995; Zhu et al. 1997; Morales and Nocedal 2011):
//
//   * direction d = -H g from the last `m` pairs (s, y) with H0 = (s'y / y'y) I; without pairs, d = -g;
//   * the Moré-Thuente line search (MINPACK-2 dcsrch/dcstep) with ftol 1e-3, gtol 0.9, xtol 0.1, the first
//     trial step 1/||d|| on the first iteration and 1 afterwards, at most `maxls` evaluations;
//   * a pair is kept only when s'y > eps * (-g's); a failed line search drops the memory and restarts
//     along -g (and ends the run when there was no memory to drop);
//   * stop when max |g_i| <= gtol, or when (f_old - f) <= ftol * max(|f_old|, |f|, 1), or after
//     `maxIter` iterations.
//
// Without bounds L-BFGS-B's generalised Cauchy point and subspace minimisation reduce to this
// two-loop direction, so both take the same steps up to rounding.

export interface LbfgsOptions {
  /** Stop when the largest |gradient component| is at most this (scipy's gtol / pgtol). Default 1e-5. */
  gtol?: number;
  /** Stop when the relative reduction of f in an iteration is at most this (scipy's ftol). Default 2.220446049250313e-9. */
  ftol?: number;
  /** Iterations at most (scipy's maxiter). Default 15000. */
  maxIter?: number;
  /** Stored pairs (scipy's maxcor). Default 10. */
  m?: number;
  /** Function evaluations per line search at most (scipy's maxls). Default 20. */
  maxls?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  message: string;
}

/** f and its gradient at x (the gradient written into g). */
export type Objective = (x: Float64Array, g: Float64Array) => number;

const EPS = 2.220446049250313e-16;

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m || Number.isNaN(v)) m = v;
  }
  return m;
}

/** Minimises f from x0 (not modified). */
export function lbfgs(f: Objective, x0: Float64Array, opts: LbfgsOptions = {}): LbfgsResult {
  const gtol = opts.gtol ?? 1e-5;
  const ftol = opts.ftol ?? 2.220446049250313e-9;
  const maxIter = opts.maxIter ?? 15000;
  const m = opts.m ?? 10;
  const maxls = opts.maxls ?? 20;
  const n = x0.length;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let fx = f(x, g);
  let evaluations = 1;
  if (!Number.isFinite(fx)) throw new Error(`lbfgs: the objective is ${fx} at the starting point`);
  const done = (converged: boolean, message: string, iterations: number): LbfgsResult => ({ x, f: fx, iterations, evaluations, converged, message });
  if (maxAbs(g) <= gtol) return done(true, 'the gradient is below gtol at the start', 0);

  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(n);
  const xOld = new Float64Array(n);
  const gOld = new Float64Array(n);
  const alpha = new Float64Array(m);
  let iter = 0;
  for (;;) {
    // d = -H g (two-loop recursion)
    for (let i = 0; i < n; i++) d[i] = -g[i];
    const k = S.length;
    if (k > 0) {
      for (let j = k - 1; j >= 0; j--) {
        alpha[j] = rho[j] * dot(S[j], d);
        const y = Y[j];
        for (let i = 0; i < n; i++) d[i] -= alpha[j] * y[i];
      }
      const yl = Y[k - 1];
      const gamma = dot(S[k - 1], yl) / dot(yl, yl);
      for (let i = 0; i < n; i++) d[i] *= gamma;
      for (let j = 0; j < k; j++) {
        const beta = rho[j] * dot(Y[j], d);
        const s = S[j];
        for (let i = 0; i < n; i++) d[i] += (alpha[j] - beta) * s[i];
      }
    }
    const gd0 = dot(g, d);
    if (!(gd0 < 0)) {
      // not a descent direction (rounding in H): restart from steepest descent
      if (k === 0) return done(false, 'the line search found no descent direction', iter);
      S.length = 0; Y.length = 0; rho.length = 0;
      continue;
    }
    xOld.set(x);
    gOld.set(g);
    const fOld = fx;
    const dnorm = Math.sqrt(dot(d, d));
    let stp = iter === 0 ? Math.min(1 / dnorm, 1e10) : 1;
    const ls = new LineSearch(fOld, gd0, stp, { ftol: 1e-3, gtol: 0.9, xtol: 0.1, stpmin: 0, stpmax: 1e10 });
    let ok = false;
    for (let t = 0; t < maxls; t++) {
      for (let i = 0; i < n; i++) x[i] = xOld[i] + stp * d[i];
      fx = f(x, g);
      evaluations++;
      const r = ls.step(fx, dot(g, d));
      stp = r.stp;
      if (r.done) {
        ok = true;
        break;
      }
    }
    if (!ok || !Number.isFinite(fx)) {
      // restore the last iterate; restart without memory, or stop if there was none
      x.set(xOld);
      g.set(gOld);
      fx = fOld;
      if (S.length === 0) return done(false, 'the line search failed', iter);
      S.length = 0; Y.length = 0; rho.length = 0;
      continue;
    }
    iter++;
    if (maxAbs(g) <= gtol) return done(true, 'the largest gradient component is below gtol', iter);
    if (fOld - fx <= ftol * Math.max(Math.abs(fOld), Math.abs(fx), 1)) return done(true, 'the relative reduction of f is below ftol', iter);
    if (iter >= maxIter) return done(false, `the iteration limit (${maxIter}) was reached`, iter);
    // keep (s, y) when the curvature is positive enough
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = x[i] - xOld[i];
      y[i] = g[i] - gOld[i];
    }
    const sy = dot(s, y);
    if (sy > EPS * -gd0 * stp) {
      if (S.length === m) {
        S.shift(); Y.shift(); rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
  }
}

interface LineSearchOptions {
  ftol: number;
  gtol: number;
  xtol: number;
  stpmin: number;
  stpmax: number;
}

/**
 * Moré and Thuente's line search (MINPACK-2's dcsrch): finds a step satisfying the strong Wolfe
 * conditions f(stp) <= f(0) + ftol stp f'(0) and |f'(stp)| <= gtol |f'(0)|, by safeguarded cubic and
 * quadratic interpolation. `step(f, g)` takes the function value and directional derivative at the
 * current trial step and returns the next trial step, or done.
 */
class LineSearch {
  private brackt = false;
  private stage = 1;
  private readonly gtest: number;
  private width: number;
  private width1: number;
  private stx = 0;
  private fx: number;
  private gx: number;
  private sty = 0;
  private fy: number;
  private gy: number;
  private stmin = 0;
  private stmax: number;

  constructor(private readonly finit: number, private readonly ginit: number, private stp: number, private readonly o: LineSearchOptions) {
    this.gtest = o.ftol * ginit;
    this.width = o.stpmax - o.stpmin;
    this.width1 = this.width / 0.5;
    this.fx = finit;
    this.gx = ginit;
    this.fy = finit;
    this.gy = ginit;
    this.stmax = stp + 4 * stp;
  }

  step(f: number, g: number): { stp: number; done: boolean } {
    const o = this.o;
    let stp = this.stp;
    const ftest = this.finit + stp * this.gtest;
    if (!Number.isFinite(f)) {
      // an overflow: shrink towards the best step so far (not in dcsrch, which assumes finite values)
      this.stp = this.stx + 0.5 * (stp - this.stx);
      return { stp: this.stp, done: this.stp === this.stx };
    }
    if (this.stage === 1 && f <= ftest && g >= 0) this.stage = 2;
    // warnings end the search at the current step, as dcsrch's WARNING tasks do
    if (this.brackt && (stp <= this.stmin || stp >= this.stmax)) return { stp, done: true };
    if (this.brackt && this.stmax - this.stmin <= o.xtol * this.stmax) return { stp, done: true };
    if (stp === o.stpmax && f <= ftest && g <= this.gtest) return { stp, done: true };
    if (stp === o.stpmin && (f > ftest || g >= this.gtest)) return { stp, done: true };
    if (f <= ftest && Math.abs(g) <= o.gtol * -this.ginit) return { stp, done: true };

    if (this.stage === 1 && f <= this.fx && f > ftest) {
      // the modified function psi(stp) = f(stp) - f(0) - ftol stp f'(0)
      const gt = this.gtest;
      const r = dcstep(this.stx, this.fx - this.stx * gt, this.gx - gt, this.sty, this.fy - this.sty * gt, this.gy - gt, stp, f - stp * gt, g - gt, this.brackt, this.stmin, this.stmax);
      this.stx = r.stx; this.fx = r.fx + r.stx * gt; this.gx = r.dx + gt;
      this.sty = r.sty; this.fy = r.fy + r.sty * gt; this.gy = r.dy + gt;
      this.brackt = r.brackt;
      stp = r.stp;
    } else {
      const r = dcstep(this.stx, this.fx, this.gx, this.sty, this.fy, this.gy, stp, f, g, this.brackt, this.stmin, this.stmax);
      this.stx = r.stx; this.fx = r.fx; this.gx = r.dx;
      this.sty = r.sty; this.fy = r.fy; this.gy = r.dy;
      this.brackt = r.brackt;
      stp = r.stp;
    }
    if (this.brackt) {
      if (Math.abs(this.sty - this.stx) >= 0.66 * this.width1) stp = this.stx + 0.5 * (this.sty - this.stx);
      this.width1 = this.width;
      this.width = Math.abs(this.sty - this.stx);
      this.stmin = Math.min(this.stx, this.sty);
      this.stmax = Math.max(this.stx, this.sty);
    } else {
      this.stmin = stp + 1.1 * (stp - this.stx);
      this.stmax = stp + 4 * (stp - this.stx);
    }
    stp = Math.min(Math.max(stp, o.stpmin), o.stpmax);
    if ((this.brackt && (stp <= this.stmin || stp >= this.stmax)) || (this.brackt && this.stmax - this.stmin <= o.xtol * this.stmax)) stp = this.stx;
    this.stp = stp;
    return { stp, done: false };
  }
}

/** MINPACK-2's dcstep: the safeguarded step of the Moré-Thuente search and the new interval of uncertainty. */
function dcstep(
  stx: number, fx: number, dx: number,
  sty: number, fy: number, dy: number,
  stp: number, fp: number, dp: number,
  brackt: boolean, stpmin: number, stpmax: number,
): { stx: number; fx: number; dx: number; sty: number; fy: number; dy: number; stp: number; brackt: boolean } {
  const sgnd = dp * Math.sign(dx);
  let stpf: number;
  if (fp > fx) {
    // 1: a higher function value; the minimum is bracketed
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s));
    if (stp < stx) gamma = -gamma;
    const p = gamma - dx + theta;
    const q = gamma - dx + gamma + dp;
    const r = p / q;
    const stpc = stx + r * (stp - stx);
    const stpq = stx + (dx / ((fx - fp) / (stp - stx) + dx) / 2) * (stp - stx);
    stpf = Math.abs(stpc - stx) < Math.abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2;
    brackt = true;
  } else if (sgnd < 0) {
    // 2: derivatives of opposite sign; bracketed
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt((theta / s) ** 2 - (dx / s) * (dp / s));
    if (stp > stx) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma - dp + gamma + dx;
    const r = p / q;
    const stpc = stp + r * (stx - stp);
    const stpq = stp + (dp / (dp - dx)) * (stx - stp);
    stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
    brackt = true;
  } else if (Math.abs(dp) < Math.abs(dx)) {
    // 3: same sign, the derivative's magnitude decreases
    const theta = (3 * (fx - fp)) / (stp - stx) + dx + dp;
    const s = Math.max(Math.abs(theta), Math.abs(dx), Math.abs(dp));
    let gamma = s * Math.sqrt(Math.max(0, (theta / s) ** 2 - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    const p = gamma - dp + theta;
    const q = gamma + (dx - dp) + gamma;
    const r = p / q;
    let stpc: number;
    if (r < 0 && gamma !== 0) stpc = stp + r * (stx - stp);
    else if (stp > stx) stpc = stpmax;
    else stpc = stpmin;
    const stpq = stp + (dp / (dp - dx)) * (stx - stp);
    if (brackt) {
      stpf = Math.abs(stpc - stp) < Math.abs(stpq - stp) ? stpc : stpq;
      stpf = stp > stx ? Math.min(stp + 0.66 * (sty - stp), stpf) : Math.max(stp + 0.66 * (sty - stp), stpf);
    } else {
      stpf = Math.abs(stpc - stp) > Math.abs(stpq - stp) ? stpc : stpq;
      stpf = Math.max(stpmin, Math.min(stpmax, stpf));
    }
  } else {
    // 4: same sign, the derivative's magnitude does not decrease
    if (brackt) {
      const theta = (3 * (fp - fy)) / (sty - stp) + dy + dp;
      const s = Math.max(Math.abs(theta), Math.abs(dy), Math.abs(dp));
      let gamma = s * Math.sqrt((theta / s) ** 2 - (dy / s) * (dp / s));
      if (stp > sty) gamma = -gamma;
      const p = gamma - dp + theta;
      const q = gamma - dp + gamma + dy;
      const r = p / q;
      stpf = stp + r * (sty - stp);
    } else {
      stpf = stp > stx ? stpmax : stpmin;
    }
  }
  if (fp > fx) {
    sty = stp; fy = fp; dy = dp;
  } else {
    if (sgnd < 0) {
      sty = stx; fy = fx; dy = dx;
    }
    stx = stp; fx = fp; dx = dp;
  }
  return { stx, fx, dx, sty, fy, dy, stp: stpf, brackt };
}
