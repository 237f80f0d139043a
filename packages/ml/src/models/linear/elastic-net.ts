import { gramRow } from "./gram.js";

/**
 * Cyclic coordinate descent for the weighted elastic net
 *
 *   min_beta  1/2 ||y - Z beta||^2 + l1 ||beta||_1 + l2/2 ||beta||^2
 *
 * where the rows of Z and y are already multiplied by sqrt(weight) (weights summing to 1),
 * so the data term is the weighted mean squared error over two. The stopping rule is
 * scikit-learn's: once the largest coefficient step is small relative to the largest
 * coefficient, compute the duality gap and stop when it is below `tol * ||y||^2`.
 */

/** Soft-thresholding, the proximal operator of the L1 norm. */
export function softThreshold(u: number, t: number): number {
  return u > t ? u - t : u < -t ? u + t : 0;
}

export interface ElasticNetProblem {
  /** Column-major `cols × rows`, rows scaled by sqrt(weight). */
  z: Float64Array;
  rows: number;
  cols: number;
  /** Target, scaled the same way (and centred when there is an intercept). */
  y: Float64Array;
  l1: number;
  l2: number;
  /** Columns held at 0. */
  skip: Uint8Array;
  tol: number;
  maxIter: number;
  /**
   * Work on the Gram matrix Z'Z (built in one pass, `cols²` doubles) instead of the rows:
   * each coordinate update then costs O(cols) rather than O(rows).
   */
  gram: boolean;
}

export interface ElasticNetResult {
  beta: Float64Array;
  iterations: number;
  converged: boolean;
  /**
   * The final stopping measure: duality gap over `||y||^2` (lasso and ridge parts), or for
   * ordinary least squares the largest gradient `|z_j . r| / (||z_j|| ||y||)`.
   */
  criterion: number;
  /** Objective at the solution (weighted mean squared error / 2 + penalty). */
  objective: number;
}

/** Solves {@link ElasticNetProblem} from beta = 0. Allocates its buffers once, none per pass. */
export function solveElasticNet(pb: ElasticNetProblem): ElasticNetResult {
  return pb.gram ? solveOnGram(pb) : solveOnRows(pb);
}

function solveOnRows(pb: ElasticNetProblem): ElasticNetResult {
  const { z, rows: n, cols: p, y, l1, l2, skip, tol, maxIter } = pb;
  const beta = new Float64Array(p);
  const r = Float64Array.from(y);
  const norm2 = new Float64Array(p);
  const ztr = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    if (skip[j]) continue;
    const off = j * n;
    let s = 0;
    for (let i = 0; i < n; i++) s += z[off + i]! * z[off + i]!;
    norm2[j] = s;
  }
  let yy = 0;
  for (let i = 0; i < n; i++) yy += y[i]! * y[i]!;
  if (yy === 0) return { beta, iterations: 0, converged: true, criterion: 0, objective: 0 };

  let criterion = Number.POSITIVE_INFINITY;
  let iterations = 0;
  let converged = false;
  for (let iter = 0; iter < maxIter; iter++) {
    iterations = iter + 1;
    let wMax = 0;
    let dwMax = 0;
    for (let j = 0; j < p; j++) {
      const a = norm2[j]!;
      if (a === 0) continue;
      const off = j * n;
      const old = beta[j]!;
      let dot = 0;
      for (let i = 0; i < n; i++) dot += z[off + i]! * r[i]!;
      const next = softThreshold(dot + a * old, l1) / (a + l2);
      const d = next - old;
      if (d !== 0) {
        for (let i = 0; i < n; i++) r[i]! -= d * z[off + i]!;
        beta[j] = next;
      }
      const ad = Math.abs(d);
      if (ad > dwMax) dwMax = ad;
      const an = Math.abs(next);
      if (an > wMax) wMax = an;
    }
    if (wMax === 0 || dwMax / wMax < tol || iter === maxIter - 1) {
      criterion = stoppingMeasure(pb, beta, r, norm2, ztr, yy);
      if (criterion <= tol) {
        converged = true;
        break;
      }
    }
  }
  let rr = 0;
  for (let i = 0; i < n; i++) rr += r[i]! * r[i]!;
  return { beta, iterations, converged, criterion, objective: objective(beta, rr, l1, l2) };
}

/**
 * The same iteration on G = Z'Z and c = Z'y, keeping the gradient `g = Z'r = c - G beta`
 * instead of the residual. The gap needs only `r'r = y'y - beta'c - beta'g` and `r'y = y'y - beta'c`.
 */
function solveOnGram(pb: ElasticNetProblem): ElasticNetResult {
  const { z, rows: n, cols: p, y, l1, l2, skip, tol, maxIter } = pb;
  const beta = new Float64Array(p);
  const G = new Float64Array(p * p);
  const c = new Float64Array(p);
  gramRow(y, 0, z, n, 0, p, skip, c, 0);
  for (let j = 0; j < p; j++) {
    if (skip[j]) continue;
    gramRow(z, j * n, z, n, j, p, skip, G, j * p);
    for (let k = j + 1; k < p; k++) G[k * p + j] = G[j * p + k]!;
  }
  const g = Float64Array.from(c);
  let yy = 0;
  for (let i = 0; i < n; i++) yy += y[i]! * y[i]!;
  if (yy === 0) return { beta, iterations: 0, converged: true, criterion: 0, objective: 0 };

  const residual = () => {
    let bc = 0;
    let bg = 0;
    for (let j = 0; j < p; j++) {
      bc += beta[j]! * c[j]!;
      bg += beta[j]! * g[j]!;
    }
    return { rr: Math.max(yy - bc - bg, 0), ry: yy - bc };
  };
  let criterion = Number.POSITIVE_INFINITY;
  let iterations = 0;
  let converged = false;
  for (let iter = 0; iter < maxIter; iter++) {
    iterations = iter + 1;
    let wMax = 0;
    let dwMax = 0;
    for (let j = 0; j < p; j++) {
      const a = G[j * p + j]!;
      if (skip[j] || a === 0) continue;
      const old = beta[j]!;
      const next = softThreshold(g[j]! + a * old, l1) / (a + l2);
      const d = next - old;
      if (d !== 0) {
        const row = j * p;
        for (let k = 0; k < p; k++) g[k]! -= d * G[row + k]!;
        beta[j] = next;
      }
      const ad = Math.abs(d);
      if (ad > dwMax) dwMax = ad;
      const an = Math.abs(next);
      if (an > wMax) wMax = an;
    }
    if (wMax === 0 || dwMax / wMax < tol || iter === maxIter - 1) {
      const { rr, ry } = residual();
      criterion = gapMeasure(pb, beta, g, G, rr, ry, yy);
      if (criterion <= tol) {
        converged = true;
        break;
      }
    }
  }
  return { beta, iterations, converged, criterion, objective: objective(beta, residual().rr, l1, l2) };
}

function objective(beta: Float64Array, rr: number, l1: number, l2: number): number {
  let a1 = 0;
  let b2 = 0;
  for (let j = 0; j < beta.length; j++) {
    a1 += Math.abs(beta[j]!);
    b2 += beta[j]! * beta[j]!;
  }
  return 0.5 * rr + l1 * a1 + 0.5 * l2 * b2;
}

/**
 * Relative duality gap. With an L1 part the dual point is the residual scaled into the
 * dual-feasible set (as scikit-learn's `enet_coordinate_descent`); for pure ridge the
 * residual itself is the dual point; least squares has no bounded dual, so the measure
 * is the largest gradient `|z_j . r|` relative to `||z_j|| ||y||` (0 at the optimum).
 */
function stoppingMeasure(
  pb: ElasticNetProblem,
  beta: Float64Array,
  r: Float64Array,
  norm2: Float64Array,
  ztr: Float64Array,
  yy: number,
): number {
  const { z, rows: n, cols: p, y } = pb;
  let rr = 0;
  let ry = 0;
  for (let i = 0; i < n; i++) {
    rr += r[i]! * r[i]!;
    ry += r[i]! * y[i]!;
  }
  for (let j = 0; j < p; j++) {
    if (norm2[j] === 0) continue;
    const off = j * n;
    let dot = 0;
    for (let i = 0; i < n; i++) dot += z[off + i]! * r[i]!;
    ztr[j] = dot;
  }
  return gap(pb, beta, ztr, (j) => norm2[j]!, rr, ry, yy);
}

function gapMeasure(
  pb: ElasticNetProblem,
  beta: Float64Array,
  g: Float64Array,
  G: Float64Array,
  rr: number,
  ry: number,
  yy: number,
): number {
  const p = pb.cols;
  return gap(pb, beta, g, (j) => G[j * p + j]!, rr, ry, yy);
}

/** The measure itself, from `Z'r`, the squared column norms, `r'r` and `r'y`. */
function gap(
  pb: ElasticNetProblem,
  beta: Float64Array,
  ztr: Float64Array,
  norm2: (j: number) => number,
  rr: number,
  ry: number,
  yy: number,
): number {
  const { cols: p, l1, l2 } = pb;
  let dualNorm = 0;
  let ztr2 = 0;
  let cosMax = 0;
  let w2 = 0;
  let a1 = 0;
  for (let j = 0; j < p; j++) {
    const nj = norm2(j);
    if (nj === 0) continue;
    const dot = ztr[j]!;
    const xta = Math.abs(dot - l2 * beta[j]!);
    if (xta > dualNorm) dualNorm = xta;
    ztr2 += dot * dot;
    const cos = Math.abs(dot) / Math.sqrt(nj * yy);
    if (cos > cosMax) cosMax = cos;
    w2 += beta[j]! * beta[j]!;
    a1 += Math.abs(beta[j]!);
  }
  if (l1 > 0) {
    let gap: number;
    let k = 1;
    if (dualNorm > l1) {
      k = l1 / dualNorm;
      gap = 0.5 * (rr + rr * k * k);
    } else gap = rr;
    gap += l1 * a1 - k * ry + 0.5 * l2 * (1 + k * k) * w2;
    return Math.max(gap, 0) / yy;
  }
  if (l2 > 0) {
    // P(beta) - D(r) with D(theta) = theta.y - |theta|^2/2 - |Z'theta|^2/(2 l2).
    const primal = 0.5 * rr + 0.5 * l2 * w2;
    const dual = ry - 0.5 * rr - ztr2 / (2 * l2);
    return Math.max(primal - dual, 0) / yy;
  }
  return cosMax;
}
