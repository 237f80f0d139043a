/**
 * Penalised logistic regression by proximal Newton, as glmnet does it: at each step the
 * weighted log loss is replaced by its second-order expansion (an iteratively reweighted
 * least-squares problem), that subproblem is solved with the elastic-net penalty by
 * cyclic coordinate descent, and a backtracking line search on the true objective keeps
 * every step a descent step (plain IRLS can diverge on separable data).
 *
 * Objective (standardised features, weights `v` summing to 1):
 *   sum_i v_i * loss_i + l1 * ||beta||_1 + l2 / 2 * ||beta||^2,   intercepts unpenalised.
 *
 * Multinomial fits cycle over the classes, taking one such step per class with the
 * others held fixed (the diagonal blocks of the softmax Hessian).
 *
 * Converged means the optimality (KKT) conditions hold to `tol`: for every coefficient,
 * the distance of the gradient of the loss from the penalty's subdifferential, and
 * the gradient for every intercept, are at most `tol`.
 */
import { softThreshold } from "./elastic-net.js";
import { gramRow } from "./gram.js";

export interface LogisticProblem {
  /** Column-major `cols × rows`, centred and scaled; NOT multiplied by weights. */
  z: Float64Array;
  rows: number;
  cols: number;
  /** Row weights summing to 1. */
  v: Float64Array;
  /** Class index of each row, 0..numClasses-1. */
  label: Int32Array;
  numClasses: number;
  l1: number;
  l2: number;
  fitIntercept: boolean;
  skip: Uint8Array;
  tol: number;
  maxIter: number;
  /**
   * Solve each quadratic subproblem on the weighted Gram matrix (`cols+1` squared, built
   * in one pass over the rows) instead of passing over the rows for every coordinate
   * update; far faster when there are many more rows than features.
   */
  gram: boolean;
}

export interface LogisticResult {
  /** Binary: `cols` coefficients for class 1. Multinomial: row-major `numClasses × cols`. */
  beta: Float64Array;
  /** Binary: one intercept. Multinomial: one per class. */
  intercept: Float64Array;
  iterations: number;
  converged: boolean;
  /** Largest KKT violation at the end. */
  criterion: number;
  objective: number;
  /** Set when the line search could not decrease the objective before convergence. */
  stalled: boolean;
}

/** Passes of coordinate descent on one quadratic subproblem (over the rows / on the Gram matrix). */
const MAX_INNER = 100;
const MAX_INNER_GRAM = 1000;
/** Curvature floor per unit weight, so a saturated row never divides by zero. */
const H_FLOOR = 1e-12;
const ARMIJO = 1e-4;
/**
 * Near the optimum the true decrease falls below the rounding error of summing the loss
 * over the rows, and an exact Armijo test would reject good Newton steps; allow that much.
 */
const ROUNDING = 1e-12;
const MAX_HALVINGS = 60;

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function penalty(beta: Float64Array, off: number, p: number, l1: number, l2: number): number {
  let a1 = 0;
  let b2 = 0;
  for (let j = 0; j < p; j++) {
    const b = beta[off + j]!;
    a1 += Math.abs(b);
    b2 += b * b;
  }
  return l1 * a1 + 0.5 * l2 * b2;
}

/** Penalty of `beta + t * (next - beta)` over one block, without materialising it. */
function penaltyAlong(
  beta: Float64Array,
  off: number,
  next: Float64Array,
  p: number,
  t: number,
  l1: number,
  l2: number,
): number {
  let a1 = 0;
  let b2 = 0;
  for (let j = 0; j < p; j++) {
    const b = beta[off + j]!;
    const x = b + t * (next[j]! - b);
    a1 += Math.abs(x);
    b2 += x * x;
  }
  return l1 * a1 + 0.5 * l2 * b2;
}

/** Distance of a coefficient's gradient from the penalty's subdifferential. */
function kkt(grad: number, b: number, l1: number, l2: number): number {
  if (b !== 0) return Math.abs(grad + l2 * b + (b > 0 ? l1 : -l1));
  return Math.max(Math.abs(grad) - l1, 0);
}

/** Buffers one subproblem needs, allocated once per fit. */
interface Work {
  /** Per row: `h * delta_eta - g`, the gradient of the quadratic model in eta. */
  q: Float64Array;
  /** Per row: curvature weights `v * p * (1 - p)`. */
  h: Float64Array;
  /** Per row: `v * (y - p)`. */
  g: Float64Array;
  /** Per row: change of the margin along the proposed step. */
  deta: Float64Array;
  /** Per column: curvature `sum h z^2`. */
  a: Float64Array;
  /** Proposed coefficients for the block. */
  next: Float64Array;
  /** Gram mode: `(cols+1)²` weighted Gram matrix, index 0 the intercept. */
  H: Float64Array | undefined;
  /** Gram mode: gradient of the quadratic model, index 0 the intercept. */
  gq: Float64Array | undefined;
}

/**
 * Solves the quadratic model around the current block (`beta[off..off+p)`, intercept `b`)
 * by coordinate descent, given `h` and `g`; leaves the proposal in `w.next` and returns the
 * proposed intercept. Fills `w.deta` with the margin change of the full step.
 */
function solveQuadratic(pb: LogisticProblem, w: Work, beta: Float64Array, off: number, b: number, tolIn: number) {
  const bNext = pb.gram ? quadraticOnGram(pb, w, beta, off, b, tolIn) : quadraticOnRows(pb, w, beta, off, b, tolIn);
  const { z, rows: n, cols: p } = pb;
  const deta = w.deta;
  deta.fill(bNext - b);
  for (let j = 0; j < p; j++) {
    const d = w.next[j]! - beta[off + j]!;
    if (d === 0) continue;
    const c = j * n;
    for (let i = 0; i < n; i++) deta[i]! += d * z[c + i]!;
  }
  return bNext;
}

/** Coordinate descent that keeps the model's gradient per row (`q`): two passes over the rows per update. */
function quadraticOnRows(pb: LogisticProblem, w: Work, beta: Float64Array, off: number, b: number, tolIn: number) {
  const { z, rows: n, cols: p, l1, l2, skip, fitIntercept } = pb;
  const { q, h, g, a, next } = w;
  let hsum = 0;
  for (let i = 0; i < n; i++) {
    q[i] = -g[i]!;
    hsum += h[i]!;
  }
  for (let j = 0; j < p; j++) {
    next[j] = beta[off + j]!;
    if (skip[j]) {
      a[j] = 0;
      continue;
    }
    const c = j * n;
    let s = 0;
    for (let i = 0; i < n; i++) s += h[i]! * z[c + i]! * z[c + i]!;
    a[j] = s;
  }
  let bNext = b;
  for (let pass = 0; pass < MAX_INNER; pass++) {
    let moved = 0;
    for (let j = 0; j < p; j++) {
      const aj = a[j]!;
      const den = aj + l2;
      if (skip[j] || !(den > 0)) continue;
      const c = j * n;
      const old = next[j]!;
      let grad = 0;
      for (let i = 0; i < n; i++) grad += z[c + i]! * q[i]!;
      const x = softThreshold(aj * old - grad, l1) / den;
      const d = x - old;
      if (d !== 0) {
        for (let i = 0; i < n; i++) q[i]! += d * h[i]! * z[c + i]!;
        next[j] = x;
        const m = Math.abs(d) * den;
        if (m > moved) moved = m;
      }
    }
    if (fitIntercept && hsum > 0) {
      let gb = 0;
      for (let i = 0; i < n; i++) gb += q[i]!;
      const d = -gb / hsum;
      if (d !== 0) {
        for (let i = 0; i < n; i++) q[i]! += d * h[i]!;
        bNext += d;
        if (Math.abs(gb) > moved) moved = Math.abs(gb);
      }
    }
    if (moved <= tolIn) break;
  }
  return bNext;
}

/**
 * Coordinate descent on the weighted Gram matrix H = [1 Z]' diag(h) [1 Z]: one pass over
 * the rows builds H and the starting gradient, after which an update costs O(cols).
 */
function quadraticOnGram(pb: LogisticProblem, w: Work, beta: Float64Array, off: number, b: number, tolIn: number) {
  const { z, rows: n, cols: p, l1, l2, skip, fitIntercept } = pb;
  const { q: hz, h, g, next } = w;
  const H = w.H!;
  const gq = w.gq!;
  const P = p + 1;
  let hsum = 0;
  let gsum = 0;
  for (let i = 0; i < n; i++) {
    hsum += h[i]!;
    gsum += g[i]!;
  }
  H[0] = hsum;
  gq[0] = -gsum;
  for (let j = 0; j < p; j++) {
    next[j] = beta[off + j]!;
    if (skip[j]) continue;
    const c = j * n;
    let s0 = 0;
    let gj = 0;
    for (let i = 0; i < n; i++) {
      const x = z[c + i]!;
      const hx = h[i]! * x;
      hz[i] = hx;
      s0 += hx;
      gj -= g[i]! * x;
    }
    H[j + 1] = s0;
    H[(j + 1) * P] = s0;
    gq[j + 1] = gj;
    // Row j+1 of H from column j+1 on; out index k lands at (j+1)*P + 1 + k.
    gramRow(hz, 0, z, n, j, p, skip, H, (j + 1) * P + 1);
    for (let k = j + 1; k < p; k++) H[(k + 1) * P + j + 1] = H[(j + 1) * P + k + 1]!;
  }
  let bNext = b;
  for (let pass = 0; pass < MAX_INNER_GRAM; pass++) {
    let moved = 0;
    for (let j = 0; j < p; j++) {
      const row = (j + 1) * P;
      const aj = H[row + j + 1]!;
      const den = aj + l2;
      if (skip[j] || !(den > 0)) continue;
      const old = next[j]!;
      const x = softThreshold(aj * old - gq[j + 1]!, l1) / den;
      const d = x - old;
      if (d !== 0) {
        for (let m = 0; m < P; m++) gq[m]! += d * H[row + m]!;
        next[j] = x;
        const mv = Math.abs(d) * den;
        if (mv > moved) moved = mv;
      }
    }
    if (fitIntercept && hsum > 0) {
      const gb = gq[0]!;
      const d = -gb / hsum;
      if (d !== 0) {
        for (let m = 0; m < P; m++) gq[m]! += d * H[m]!;
        bNext += d;
        if (Math.abs(gb) > moved) moved = Math.abs(gb);
      }
    }
    if (moved <= tolIn) break;
  }
  return bNext;
}

function newWork(n: number, p: number, gram: boolean): Work {
  return {
    H: gram ? new Float64Array((p + 1) * (p + 1)) : undefined,
    gq: gram ? new Float64Array(p + 1) : undefined,
    q: new Float64Array(n),
    h: new Float64Array(n),
    g: new Float64Array(n),
    deta: new Float64Array(n),
    a: new Float64Array(p),
    next: new Float64Array(p),
  };
}

/** Binary logistic regression: `label` is 0 or 1, the model predicts P(label = 1). */
export function solveBinomial(pb: LogisticProblem): LogisticResult {
  const { z, rows: n, cols: p, v, label, l1, l2, skip, tol, maxIter, fitIntercept } = pb;
  const beta = new Float64Array(p);
  const eta = new Float64Array(n);
  const w = newWork(n, p, pb.gram);
  let b = 0;
  if (fitIntercept) {
    let ybar = 0;
    for (let i = 0; i < n; i++) ybar += v[i]! * label[i]!;
    b = Math.log(ybar / (1 - ybar));
    eta.fill(b);
  }
  let f = binomialLoss(eta, w.deta, 0, v, label) + penalty(beta, 0, p, l1, l2);
  let criterion = Number.POSITIVE_INFINITY;
  let iterations = 0;
  let converged = false;
  let stalled = false;
  for (let iter = 0; ; iter++) {
    let gsum = 0;
    for (let i = 0; i < n; i++) {
      const pr = sigmoid(eta[i]!);
      w.g[i] = v[i]! * (label[i]! - pr);
      w.h[i] = v[i]! * Math.max(pr * (1 - pr), H_FLOOR);
      gsum += w.g[i]!;
    }
    criterion = fitIntercept ? Math.abs(gsum) : 0;
    for (let j = 0; j < p; j++) {
      if (skip[j]) continue;
      const c = j * n;
      let grad = 0;
      for (let i = 0; i < n; i++) grad -= z[c + i]! * w.g[i]!;
      const k = kkt(grad, beta[j]!, l1, l2);
      if (k > criterion) criterion = k;
    }
    if (criterion <= tol) {
      converged = true;
      break;
    }
    if (iter >= maxIter) break;
    iterations = iter + 1;
    const bNext = solveQuadratic(pb, w, beta, 0, b, Math.max(0.1 * tol, 0.05 * criterion));
    // Directional derivative of the objective along the step (proximal Newton's decrease test).
    let slope = 0;
    for (let i = 0; i < n; i++) slope -= w.g[i]! * w.deta[i]!;
    const pen0 = penalty(beta, 0, p, l1, l2);
    slope += penaltyAlong(beta, 0, w.next, p, 1, l1, l2) - pen0;
    if (!(slope < 0)) {
      stalled = true;
      break;
    }
    let t = 1;
    let accepted = false;
    for (let k = 0; k < MAX_HALVINGS; k++) {
      const ft = binomialLoss(eta, w.deta, t, v, label) + penaltyAlong(beta, 0, w.next, p, t, l1, l2);
      if (ft <= f + ARMIJO * t * slope + ROUNDING * Math.max(1, Math.abs(f))) {
        f = ft;
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) {
      stalled = true;
      break;
    }
    for (let j = 0; j < p; j++) beta[j]! += t * (w.next[j]! - beta[j]!);
    b += t * (bNext - b);
    for (let i = 0; i < n; i++) eta[i]! += t * w.deta[i]!;
  }
  return { beta, intercept: Float64Array.of(b), iterations, converged, criterion, objective: f, stalled };
}

/** Weighted log loss at margins `eta + t * deta`. */
function binomialLoss(eta: Float64Array, deta: Float64Array, t: number, v: Float64Array, label: Int32Array): number {
  let s = 0;
  for (let i = 0; i < eta.length; i++) {
    if (v[i] === 0) continue;
    const e = eta[i]! + t * deta[i]!;
    s += v[i]! * (softplus(e) - (label[i] === 1 ? e : 0));
  }
  return s;
}

/** Multinomial (softmax) logistic regression with one coefficient vector per class. */
export function solveMultinomial(pb: LogisticProblem): LogisticResult {
  const { z, rows: n, cols: p, v, label, numClasses: K, l1, l2, skip, tol, maxIter, fitIntercept } = pb;
  const beta = new Float64Array(K * p);
  const b = new Float64Array(K);
  const eta = new Float64Array(n * K);
  const prob = new Float64Array(n * K);
  // Per row, for the class being updated: the largest other margin and the sum of the
  // other classes' exp(margin - that max), so the line search's softmax costs O(1) per row.
  const otherMax = new Float64Array(n);
  const otherSum = new Float64Array(n);
  const w = newWork(n, p, pb.gram);
  if (fitIntercept) {
    const freq = new Float64Array(K);
    for (let i = 0; i < n; i++) freq[label[i]!]! += v[i]!;
    let mean = 0;
    for (let k = 0; k < K; k++) mean += Math.log(freq[k]!) / K;
    for (let k = 0; k < K; k++) b[k] = Math.log(freq[k]!) - mean;
    for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) eta[i * K + k] = b[k]!;
  }
  let loss = softmaxProbs(eta, prob, n, K, v, label);
  let pen = 0;
  for (let k = 0; k < K; k++) pen += penalty(beta, k * p, p, l1, l2);
  let criterion = Number.POSITIVE_INFINITY;
  let iterations = 0;
  let converged = false;
  let stalled = false;
  for (let iter = 0; ; iter++) {
    criterion = 0;
    for (let k = 0; k < K; k++) {
      let gsum = 0;
      for (let i = 0; i < n; i++) {
        const g = v[i]! * ((label[i] === k ? 1 : 0) - prob[i * K + k]!);
        w.g[i] = g;
        gsum += g;
      }
      if (fitIntercept && Math.abs(gsum) > criterion) criterion = Math.abs(gsum);
      for (let j = 0; j < p; j++) {
        if (skip[j]) continue;
        const c = j * n;
        let grad = 0;
        for (let i = 0; i < n; i++) grad -= z[c + i]! * w.g[i]!;
        const kk = kkt(grad, beta[k * p + j]!, l1, l2);
        if (kk > criterion) criterion = kk;
      }
    }
    if (criterion <= tol) {
      converged = true;
      break;
    }
    if (iter >= maxIter) break;
    iterations = iter + 1;
    let anyStep = false;
    for (let k = 0; k < K; k++) {
      for (let i = 0; i < n; i++) {
        const pr = prob[i * K + k]!;
        w.g[i] = v[i]! * ((label[i] === k ? 1 : 0) - pr);
        w.h[i] = v[i]! * Math.max(pr * (1 - pr), H_FLOOR);
      }
      const off = k * p;
      const bNext = solveQuadratic(pb, w, beta, off, b[k]!, Math.max(0.1 * tol, 0.05 * criterion));
      let slope = 0;
      for (let i = 0; i < n; i++) slope -= w.g[i]! * w.deta[i]!;
      const penK = penalty(beta, off, p, l1, l2);
      slope += penaltyAlong(beta, off, w.next, p, 1, l1, l2) - penK;
      if (!(slope < 0)) continue;
      for (let i = 0; i < n; i++) {
        let m = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < K; c++) if (c !== k && eta[i * K + c]! > m) m = eta[i * K + c]!;
        let s = 0;
        for (let c = 0; c < K; c++) if (c !== k) s += Math.exp(eta[i * K + c]! - m);
        otherMax[i] = m;
        otherSum[i] = s;
      }
      const f0 = loss + pen;
      let t = 1;
      let accepted = false;
      for (let h = 0; h < MAX_HALVINGS; h++) {
        let lt = 0;
        for (let i = 0; i < n; i++) {
          if (v[i] === 0) continue;
          const e = eta[i * K + k]! + t * w.deta[i]!;
          const m = Math.max(otherMax[i]!, e);
          const lse = m + Math.log(otherSum[i]! * Math.exp(otherMax[i]! - m) + Math.exp(e - m));
          lt += v[i]! * (lse - (label[i] === k ? e : eta[i * K + label[i]!]!));
        }
        const pt = pen - penK + penaltyAlong(beta, off, w.next, p, t, l1, l2);
        if (lt + pt <= f0 + ARMIJO * t * slope + ROUNDING * Math.max(1, Math.abs(f0))) {
          loss = lt;
          pen = pt;
          accepted = true;
          break;
        }
        t *= 0.5;
      }
      if (!accepted) continue;
      anyStep = true;
      for (let j = 0; j < p; j++) beta[off + j]! += t * (w.next[j]! - beta[off + j]!);
      b[k]! += t * (bNext - b[k]!);
      for (let i = 0; i < n; i++) eta[i * K + k]! += t * w.deta[i]!;
      loss = softmaxProbs(eta, prob, n, K, v, label);
    }
    if (!anyStep) {
      stalled = true;
      break;
    }
    if (K > 1 && (l1 > 0 || l2 > 0)) pen = removeCommonShift(pb, beta, eta, otherSum);
  }
  return { beta, intercept: b, iterations, converged, criterion, objective: loss + pen, stalled };
}

/**
 * Adding the same c_j to feature j's coefficient in every class leaves the softmax, and so
 * the loss, unchanged; only the penalty sees it. Class-by-class steps crawl along that
 * flat direction, so after each round pick, per feature, the shift that minimises the
 * penalty (glmnet does the same). Updates `beta` and the margins `eta`; `shift` is an
 * `rows`-long scratch buffer. Returns the new total penalty.
 */
function removeCommonShift(pb: LogisticProblem, beta: Float64Array, eta: Float64Array, shift: Float64Array): number {
  const { z, rows: n, cols: p, numClasses: K, l1, l2, skip } = pb;
  shift.fill(0);
  for (let j = 0; j < p; j++) {
    if (skip[j]) continue;
    const c = bestShift(beta, j, p, K, l1, l2);
    if (c === 0) continue;
    for (let k = 0; k < K; k++) beta[k * p + j]! -= c;
    const off = j * n;
    for (let i = 0; i < n; i++) shift[i]! += c * z[off + i]!;
  }
  for (let i = 0; i < n; i++) {
    const s = shift[i]!;
    if (s !== 0) for (let k = 0; k < K; k++) eta[i * K + k]! -= s;
  }
  let pen = 0;
  for (let k = 0; k < K; k++) pen += penalty(beta, k * p, p, l1, l2);
  return pen;
}

/**
 * argmin_c sum_k l1 |b_k - c| + l2/2 (b_k - c)^2 over the coefficients b_k of feature j,
 * by bisection on the (monotone) subgradient; the minimiser lies within [min b, max b].
 */
function bestShift(beta: Float64Array, j: number, p: number, K: number, l1: number, l2: number): number {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < K; k++) {
    const b = beta[k * p + j]!;
    if (b < lo) lo = b;
    if (b > hi) hi = b;
  }
  if (lo === hi) return lo;
  if (slope(beta, j, p, K, l1, l2, 0, false) <= 0 && slope(beta, j, p, K, l1, l2, 0, true) >= 0) return 0;
  for (let it = 0; it < 200 && hi - lo > 1e-15 * Math.max(Math.abs(lo), Math.abs(hi)); it++) {
    const mid = 0.5 * (lo + hi);
    if (slope(beta, j, p, K, l1, l2, mid, true) < 0) lo = mid;
    else if (slope(beta, j, p, K, l1, l2, mid, false) > 0) hi = mid;
    else return mid;
  }
  return 0.5 * (lo + hi);
}

/** Left (`right` false) or right derivative at `c` of the penalty over feature j's class coefficients. */
function slope(beta: Float64Array, j: number, p: number, K: number, l1: number, l2: number, c: number, right: boolean) {
  let d = 0;
  for (let k = 0; k < K; k++) {
    const b = beta[k * p + j]!;
    d += l2 * (c - b) + (c > b || (right && c === b) ? l1 : -l1);
  }
  return d;
}

/** Fills row-wise softmax probabilities; returns the weighted log loss. */
function softmaxProbs(
  eta: Float64Array,
  prob: Float64Array,
  n: number,
  K: number,
  v: Float64Array,
  label: Int32Array,
): number {
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const o = i * K;
    let m = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < K; k++) if (eta[o + k]! > m) m = eta[o + k]!;
    let s = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(eta[o + k]! - m);
      prob[o + k] = e;
      s += e;
    }
    for (let k = 0; k < K; k++) prob[o + k]! /= s;
    if (v[i] !== 0) loss += v[i]! * (m + Math.log(s) - eta[o + label[i]!]!);
  }
  return loss;
}
