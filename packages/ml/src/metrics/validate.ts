import { ValidationError } from "@quintet/core";

/** Sample weights, one per row; omitted means every row weighs 1. */
export type Weights = ArrayLike<number> | undefined;

function fail(message: string, hint: string): never {
  throw new ValidationError(message, { hint });
}

/** Checks a numeric vector: non-empty, every value finite. */
export function checkVector(name: string, v: ArrayLike<number>): void {
  if (v === null || v === undefined || typeof v.length !== "number") {
    fail(`${name} must be an array of numbers`, "Pass an array or typed array.");
  }
  if (v.length === 0) fail(`${name} is empty`, "A metric needs at least one row.");
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      fail(`${name}[${i}] is ${String(x)}, expected a finite number`, "Drop or impute rows with missing values first.");
    }
  }
}

/** Checks that `a` and `b` (and the weights) have the same length and are valid. */
export function checkPair(aName: string, a: ArrayLike<number>, bName: string, b: ArrayLike<number>, w: Weights): void {
  checkVector(aName, a);
  checkVector(bName, b);
  if (a.length !== b.length) {
    fail(`${aName} has ${a.length} values but ${bName} has ${b.length}`, "Pass one prediction per label.");
  }
  checkWeights(w, a.length);
}

/** Checks sample weights: right length, finite, non-negative, positive total. */
export function checkWeights(w: Weights, n: number): void {
  if (w === undefined) return;
  checkVector("sampleWeight", w);
  if (w.length !== n) fail(`sampleWeight has ${w.length} values but there are ${n} rows`, "Pass one weight per row.");
  let sum = 0;
  for (let i = 0; i < w.length; i++) {
    if (w[i]! < 0) fail(`sampleWeight[${i}] is negative (${w[i]})`, "Weights must be >= 0.");
    sum += w[i]!;
  }
  if (!(sum > 0)) fail("sampleWeight sums to 0", "At least one row needs a positive weight.");
}

/** Checks labels are 0 or 1. */
export function checkBinaryLabels(name: string, y: ArrayLike<number>): void {
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && y[i] !== 1) {
      fail(`${name}[${i}] is ${y[i]}, expected 0 or 1`, "Encode the positive class as 1 and the negative class as 0.");
    }
  }
}

/** Checks probabilities lie in [0, 1]. */
export function checkProbabilities(name: string, p: ArrayLike<number>): void {
  for (let i = 0; i < p.length; i++) {
    if (p[i]! < 0 || p[i]! > 1) {
      fail(`${name}[${i}] is ${p[i]}, expected a probability in [0, 1]`, "Pass probabilities, not raw margins.");
    }
  }
}

/** Weight of row `i`. */
export function wt(w: Weights, i: number): number {
  return w === undefined ? 1 : w[i]!;
}
