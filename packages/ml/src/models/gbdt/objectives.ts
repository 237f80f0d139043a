import { ValidationError } from "@quintet/core";
import type { MetricName } from "../../metrics/registry.js";
import type { Link } from "../ensemble/types.js";
import { logisticGradients, squaredGradients } from "./kernels.js";

/** Loss functions the GBDT trains on. */
export type ObjectiveName = "binary" | "multiclass" | "squared" | "absolute" | "huber" | "poisson";

export const OBJECTIVE_NAMES: readonly ObjectiveName[] = [
  "binary",
  "multiclass",
  "squared",
  "absolute",
  "huber",
  "poisson",
];

export interface ObjectiveParams {
  numClasses: number;
  /** Pseudo-Huber slope (delta). */
  huberSlope: number;
  /** Added to the margin in the Poisson hessian to damp steps (XGBoost's 0.7 default). */
  poissonMaxDeltaStep: number;
  /** Starting prediction in label space (probability, mean); default: fitted from the labels. */
  baseScore: number | undefined;
}

/**
 * A twice-differentiable loss over margins. Gradients are written interleaved
 * (`gh[2r]`, `gh[2r + 1]`) for one output group at a time, already multiplied by the row
 * weights.
 */
export interface Objective {
  readonly name: ObjectiveName;
  /** The XGBoost name, stored in the ensemble and used by the XGBoost export. */
  readonly xgboostName: string;
  readonly link: Link;
  readonly numGroups: number;
  readonly defaultMetric: MetricName;
  /** Per-group margins to start boosting from. */
  baseMargin(y: ArrayLike<number>, w: Float64Array): number[];
  /** Called once per round before `gradients` (multiclass computes probabilities here). */
  prepare(margin: Float64Array): void;
  gradients(group: number, y: ArrayLike<number>, margin: Float64Array, w: Float64Array, gh: Float64Array): void;
  /**
   * Objectives whose Newton step is poor (absolute error) set each leaf afterwards to the
   * loss-optimal value of its rows' residuals; returns it before the learning rate.
   */
  refitLeaf?(
    rows: Uint32Array,
    start: number,
    end: number,
    y: ArrayLike<number>,
    margin: Float64Array,
    w: Float64Array,
  ): number;
}

/** Hessians are kept at least this large so a leaf of confident rows stays finite. */
const MIN_HESS = 1e-16;

function labelError(what: string, i: number, v: number, hint: string): ValidationError {
  return new ValidationError(`label y[${i}] = ${v} ${what}`, { hint, details: { row: i, value: v } });
}

/** Checks every label is a finite number. */
function checkFinite(y: ArrayLike<number>): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw labelError(
        "is not a finite number",
        i,
        v,
        "Labels must be finite numbers; drop or fill rows without a label.",
      );
    }
  }
}

function weightedMean(y: ArrayLike<number>, w: Float64Array): number {
  let s = 0;
  let t = 0;
  for (let i = 0; i < y.length; i++) {
    s += w[i]! * y[i]!;
    t += w[i]!;
  }
  return s / t;
}

/** Weighted median of `values[0..n)` with weights `weights[0..n)`; `order` is scratch. */
function weightedMedian(values: Float64Array, weights: Float64Array, n: number, order: Uint32Array): number {
  if (n === 0) return 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    order[i] = i;
    total += weights[i]!;
  }
  const o = order.subarray(0, n);
  o.sort((a, b) => values[a]! - values[b]! || a - b);
  if (total <= 0) return values[o[n >> 1]!]!;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += weights[o[i]!]!;
    if (acc >= total / 2) {
      // Exactly half the weight below: average with the next value, as a median does.
      if (acc === total / 2 && i + 1 < n) return (values[o[i]!]! + values[o[i + 1]!]!) / 2;
      return values[o[i]!]!;
    }
  }
  return values[o[n - 1]!]!;
}

function logit(p: number): number {
  return Math.log(p / (1 - p));
}

function checkBaseProbability(b: number | undefined): void {
  if (b !== undefined && !(b > 0 && b < 1)) {
    throw new ValidationError(`baseScore must be a probability strictly between 0 and 1 for binary, got ${b}`);
  }
}

class Binary implements Objective {
  readonly name = "binary";
  readonly xgboostName = "binary:logistic";
  readonly link = "sigmoid";
  readonly numGroups = 1;
  readonly defaultMetric = "logloss";

  constructor(private readonly p: ObjectiveParams) {
    checkBaseProbability(p.baseScore);
  }

  static check(y: ArrayLike<number>, training: boolean): void {
    let pos = 0;
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (v !== 0 && v !== 1) throw labelError("is not 0 or 1", i, v, "Binary labels must be 0 or 1.");
      pos += v;
    }
    if (training && (pos === 0 || pos === y.length)) {
      throw new ValidationError(`y has only one class (${pos === 0 ? 0 : 1}) in ${y.length} rows`, {
        hint: "A binary classifier needs both 0 and 1 labels in the training data.",
      });
    }
  }

  baseMargin(y: ArrayLike<number>, w: Float64Array): number[] {
    if (this.p.baseScore !== undefined) return [logit(this.p.baseScore)];
    const m = Math.min(1 - 1e-7, Math.max(1e-7, weightedMean(y, w)));
    return [logit(m)];
  }

  prepare(): void {}

  gradients(_g: number, y: ArrayLike<number>, margin: Float64Array, w: Float64Array, gh: Float64Array): void {
    // The same arithmetic as the histogram builder's wasm kernel, which training uses.
    logisticGradients(y, margin, w, gh, y.length);
  }
}

class Multiclass implements Objective {
  readonly name = "multiclass";
  readonly xgboostName = "multi:softprob";
  readonly link = "softmax";
  readonly defaultMetric = "mlogloss";
  readonly numGroups: number;
  private prob = new Float64Array(0);

  constructor(p: ObjectiveParams) {
    this.numGroups = p.numClasses;
    if (p.baseScore !== undefined) {
      throw new ValidationError("baseScore is not supported for multiclass", {
        hint: "Leave baseScore out; multiclass starts from the class frequencies.",
      });
    }
  }

  static check(y: ArrayLike<number>, k: number, training: boolean): void {
    const seen = new Set<number>();
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= k) {
        throw labelError(
          `is not a class index in 0..${k - 1}`,
          i,
          v,
          "Multiclass labels must be integers 0..numClasses-1.",
        );
      }
      seen.add(v);
    }
    if (training && seen.size < 2) {
      throw new ValidationError(`y has only one class in ${y.length} rows`, {
        hint: "A classifier needs at least two classes in the training data.",
      });
    }
  }

  baseMargin(y: ArrayLike<number>, w: Float64Array): number[] {
    const k = this.numGroups;
    const freq = new Float64Array(k);
    let total = 0;
    for (let i = 0; i < y.length; i++) {
      freq[y[i]!]! += w[i]!;
      total += w[i]!;
    }
    const logs = Array.from(freq, (f) => Math.log(Math.max(f / total, 1e-7)));
    const mean = logs.reduce((a, b) => a + b, 0) / k;
    return logs.map((l) => l - mean);
  }

  prepare(margin: Float64Array): void {
    const k = this.numGroups;
    if (this.prob.length !== margin.length) this.prob = new Float64Array(margin.length);
    const p = this.prob;
    for (let o = 0; o < margin.length; o += k) {
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < k; j++) max = Math.max(max, margin[o + j]!);
      let sum = 0;
      for (let j = 0; j < k; j++) {
        const e = Math.exp(margin[o + j]! - max);
        p[o + j] = e;
        sum += e;
      }
      for (let j = 0; j < k; j++) p[o + j]! /= sum;
    }
  }

  gradients(group: number, y: ArrayLike<number>, _m: Float64Array, w: Float64Array, gh: Float64Array): void {
    const k = this.numGroups;
    const p = this.prob;
    for (let r = 0; r < y.length; r++) {
      const pr = p[r * k + group]!;
      const wr = w[r]!;
      gh[2 * r] = (pr - (y[r] === group ? 1 : 0)) * wr;
      // XGBoost's softmax hessian: 2 p (1 - p), a bound on the true diagonal.
      gh[2 * r + 1] = Math.max(2 * pr * (1 - pr), MIN_HESS) * wr;
    }
  }
}

class Squared implements Objective {
  readonly name = "squared";
  readonly xgboostName = "reg:squarederror";
  readonly link = "identity";
  readonly numGroups = 1;
  readonly defaultMetric = "rmse";

  constructor(private readonly p: ObjectiveParams) {}

  baseMargin(y: ArrayLike<number>, w: Float64Array): number[] {
    return [this.p.baseScore ?? weightedMean(y, w)];
  }

  prepare(): void {}

  gradients(_g: number, y: ArrayLike<number>, margin: Float64Array, w: Float64Array, gh: Float64Array): void {
    // The same arithmetic as the histogram builder's wasm kernel, which training uses.
    squaredGradients(y, margin, w, gh, y.length);
  }
}

/** Shared by the robust losses: start from the weighted median of the labels. */
function medianBase(y: ArrayLike<number>, w: Float64Array): number {
  const v = Float64Array.from(y);
  return weightedMedian(v, w, v.length, new Uint32Array(v.length));
}

class Absolute implements Objective {
  readonly name = "absolute";
  readonly xgboostName = "reg:absoluteerror";
  readonly link = "identity";
  readonly numGroups = 1;
  readonly defaultMetric = "mae";
  private res = new Float64Array(0);
  private wts = new Float64Array(0);
  private order = new Uint32Array(0);

  constructor(private readonly p: ObjectiveParams) {}

  baseMargin(y: ArrayLike<number>, w: Float64Array): number[] {
    return [this.p.baseScore ?? medianBase(y, w)];
  }

  prepare(): void {}

  gradients(_g: number, y: ArrayLike<number>, margin: Float64Array, w: Float64Array, gh: Float64Array): void {
    for (let r = 0; r < y.length; r++) {
      const d = margin[r]! - y[r]!;
      gh[2 * r] = (d > 0 ? 1 : d < 0 ? -1 : 0) * w[r]!;
      gh[2 * r + 1] = w[r]!;
    }
  }

  /** The leaf's weighted median residual: the exact minimiser of absolute error in the leaf. */
  refitLeaf(
    rows: Uint32Array,
    start: number,
    end: number,
    y: ArrayLike<number>,
    margin: Float64Array,
    w: Float64Array,
  ): number {
    const n = end - start;
    if (this.res.length < n) {
      this.res = new Float64Array(n);
      this.wts = new Float64Array(n);
      this.order = new Uint32Array(n);
    }
    for (let k = 0; k < n; k++) {
      const r = rows[start + k]!;
      this.res[k] = y[r]! - margin[r]!;
      this.wts[k] = w[r]!;
    }
    return weightedMedian(this.res, this.wts, n, this.order);
  }
}

class Huber implements Objective {
  readonly name = "huber";
  readonly xgboostName = "reg:pseudohubererror";
  readonly link = "identity";
  readonly numGroups = 1;
  readonly defaultMetric = "rmse";

  constructor(private readonly p: ObjectiveParams) {}

  baseMargin(y: ArrayLike<number>, w: Float64Array): number[] {
    return [this.p.baseScore ?? medianBase(y, w)];
  }

  prepare(): void {}

  /** Pseudo-Huber: quadratic near zero, linear (slope `huberSlope`) in the tails, smooth everywhere. */
  gradients(_g: number, y: ArrayLike<number>, margin: Float64Array, w: Float64Array, gh: Float64Array): void {
    const d2 = this.p.huberSlope * this.p.huberSlope;
    for (let r = 0; r < y.length; r++) {
      const z = margin[r]! - y[r]!;
      const s = Math.sqrt(1 + (z * z) / d2);
      gh[2 * r] = (z / s) * w[r]!;
      gh[2 * r + 1] = Math.max(1 / (s * s * s), MIN_HESS) * w[r]!;
    }
  }
}

class Poisson implements Objective {
  readonly name = "poisson";
  readonly xgboostName = "count:poisson";
  readonly link = "exp";
  readonly numGroups = 1;
  readonly defaultMetric = "poisson-nloglik";

  constructor(private readonly p: ObjectiveParams) {
    if (p.baseScore !== undefined && !(p.baseScore > 0)) {
      throw new ValidationError(`baseScore must be a positive mean for poisson, got ${p.baseScore}`);
    }
  }

  static check(y: ArrayLike<number>, training: boolean): void {
    let sum = 0;
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (v < 0) throw labelError("is negative", i, v, "Poisson labels are counts (or rates): use values >= 0.");
      sum += v;
    }
    if (training && sum === 0) {
      throw new ValidationError("every label is 0", { hint: "A Poisson model needs some positive counts." });
    }
  }

  baseMargin(y: ArrayLike<number>, w: Float64Array): number[] {
    return [Math.log(this.p.baseScore ?? weightedMean(y, w))];
  }

  prepare(): void {}

  gradients(_g: number, y: ArrayLike<number>, margin: Float64Array, w: Float64Array, gh: Float64Array): void {
    const boost = Math.exp(this.p.poissonMaxDeltaStep);
    for (let r = 0; r < y.length; r++) {
      const mu = Math.exp(margin[r]!);
      gh[2 * r] = (mu - y[r]!) * w[r]!;
      gh[2 * r + 1] = mu * boost * w[r]!;
    }
  }
}

/**
 * Checks labels suit the objective: finite, 0/1 for binary, class indices for
 * multiclass, non-negative for Poisson. Training labels must also hold at least two
 * classes (classification) and some positive count (Poisson); validation labels need not.
 */
export function checkLabels(name: ObjectiveName, y: ArrayLike<number>, numClasses: number, training: boolean): void {
  checkFinite(y);
  if (name === "binary") Binary.check(y, training);
  else if (name === "multiclass") Multiclass.check(y, numClasses, training);
  else if (name === "poisson") Poisson.check(y, training);
}

/** The objective `name` (labels already checked with {@link checkLabels}). */
export function makeObjective(name: ObjectiveName, p: ObjectiveParams): Objective {
  switch (name) {
    case "binary":
      return new Binary(p);
    case "multiclass":
      return new Multiclass(p);
    case "squared":
      return new Squared(p);
    case "absolute":
      return new Absolute(p);
    case "huber":
      return new Huber(p);
    case "poisson":
      return new Poisson(p);
  }
}
