import type { Rng } from "../datasets/rng.js";

/**
 * Parzen (kernel density) estimators for the TPE sampler: a mixture of Gaussians truncated
 * to the search interval, one per observation plus a wide prior, with bandwidths set from
 * the distances between neighbouring observations (Bergstra et al., "Algorithms for
 * Hyper-Parameter Optimization", 2011); and smoothed frequencies for categories.
 */

const SQRT2 = Math.SQRT2;
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** Complementary error function (Chebyshev fit, fractional error below 1.2e-7 everywhere). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / SQRT2);
}

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return (
      -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/** A truncated Gaussian mixture on [lo, hi]. */
export class NumericParzen {
  readonly mus: Float64Array;
  readonly sigmas: Float64Array;
  readonly weights: Float64Array;
  /** Probability mass of each component inside [lo, hi] (its truncation constant). */
  private readonly mass: Float64Array;

  constructor(
    observations: readonly number[],
    readonly lo: number,
    readonly hi: number,
    priorWeight: number,
  ) {
    const range = hi - lo;
    const n = observations.length;
    // The prior is one wide component in the middle; it keeps unexplored regions reachable.
    const points = [...observations.map((x, i) => ({ x, i })), { x: (lo + hi) / 2, i: n }].sort(
      (p, q) => p.x - q.x || p.i - q.i,
    );
    this.mus = new Float64Array(n + 1);
    this.sigmas = new Float64Array(n + 1);
    this.weights = new Float64Array(n + 1);
    this.mass = new Float64Array(n + 1);
    const minSigma = range / Math.min(100, 1 + n);
    const maxSigma = range;
    for (let k = 0; k < points.length; k++) {
      const { x, i } = points[k]!;
      this.mus[i] = x;
      if (i === n) {
        this.sigmas[i] = range;
        continue;
      }
      // Bandwidth: the larger gap to a neighbour (the interval ends count as neighbours).
      const left = k > 0 ? x - points[k - 1]!.x : x - lo;
      const right = k < points.length - 1 ? points[k + 1]!.x - x : hi - x;
      this.sigmas[i] = Math.min(maxSigma, Math.max(minSigma, left, right));
    }
    const total = n + priorWeight;
    for (let i = 0; i < n; i++) this.weights[i] = 1 / total;
    this.weights[n] = priorWeight / total;
    for (let i = 0; i <= n; i++) {
      const s = this.sigmas[i]! > 0 ? this.sigmas[i]! : 1;
      this.sigmas[i] = s;
      this.mass[i] = Math.max(1e-300, normalCdf((hi - this.mus[i]!) / s) - normalCdf((lo - this.mus[i]!) / s));
    }
  }

  /** Draws a point: a component by weight, then its Gaussian restricted to [lo, hi]. */
  sample(rng: Rng): number {
    let u = rng.next();
    let c = this.weights.length - 1;
    for (let i = 0; i < this.weights.length; i++) {
      u -= this.weights[i]!;
      if (u < 0) {
        c = i;
        break;
      }
    }
    const mu = this.mus[c]!;
    const s = this.sigmas[c]!;
    const a = normalCdf((this.lo - mu) / s);
    const b = normalCdf((this.hi - mu) / s);
    const p = a + rng.next() * (b - a);
    const x = mu + s * normalQuantile(Math.min(1 - 1e-16, Math.max(1e-16, p)));
    return Math.min(this.hi, Math.max(this.lo, x));
  }

  /** Log density at x. */
  logPdf(x: number): number {
    let max = Number.NEGATIVE_INFINITY;
    const terms = new Float64Array(this.mus.length);
    for (let i = 0; i < this.mus.length; i++) {
      const z = (x - this.mus[i]!) / this.sigmas[i]!;
      const t =
        Math.log(this.weights[i]!) - 0.5 * z * z - LOG_SQRT_2PI - Math.log(this.sigmas[i]!) - Math.log(this.mass[i]!);
      terms[i] = t;
      if (t > max) max = t;
    }
    if (max === Number.NEGATIVE_INFINITY) return max;
    let sum = 0;
    for (let i = 0; i < terms.length; i++) sum += Math.exp(terms[i]! - max);
    return max + Math.log(sum);
  }
}

/** Smoothed category frequencies: each observation counts 1, the prior spreads its weight evenly. */
export class CategoricalParzen {
  readonly probs: Float64Array;

  constructor(observations: readonly number[], numChoices: number, priorWeight: number) {
    this.probs = new Float64Array(numChoices).fill(priorWeight / numChoices);
    for (const c of observations) this.probs[c]! += 1;
    const total = observations.length + priorWeight;
    for (let i = 0; i < numChoices; i++) this.probs[i]! /= total;
  }

  sample(rng: Rng): number {
    let u = rng.next();
    for (let i = 0; i < this.probs.length; i++) {
      u -= this.probs[i]!;
      if (u < 0) return i;
    }
    return this.probs.length - 1;
  }

  logPdf(c: number): number {
    return Math.log(this.probs[c]!);
  }
}
