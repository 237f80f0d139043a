import { ValidationError } from "@quintet/core";
import { buildDesign, checkTarget, type MatrixInput, normalizedWeights, toMatrix, unstandardize } from "./design.js";
import { fitInfoFromJson, fitInfoToJson } from "./linear-model.js";
import { checkRow, type LinearScorer, margins, scoreRow } from "./margins.js";
import {
  type LinearFitInfo,
  type LinearParams,
  type LogisticModelJSON,
  MODEL_FORMAT,
  MODEL_VERSION,
  parseModelJson,
} from "./model-json.js";
import { type LogisticOptions, logisticOptionsSchema, parseOptions, useGram } from "./options.js";
import { type LogisticProblem, solveBinomial, solveMultinomial } from "./proximal-newton.js";
import { reportWarnings } from "./warnings.js";

/** More distinct labels than this is almost surely a numeric target passed by mistake. */
const MAX_CLASSES = 1000;

/** What a {@link LogisticModel} is made of (as fitted or as loaded). */
export interface LogisticModelState {
  numFeatures: number;
  featureNames?: string[] | undefined;
  /** The class labels, ascending. */
  classes: Float64Array;
  /** One row per output: a single row (for `classes[1]`) when binary, one per class when multinomial. */
  coefficients: Float64Array[];
  intercept: Float64Array;
  featureMeans: Float64Array;
  featureScales: Float64Array;
  imputeValues?: Float64Array | undefined;
  params: LinearParams;
  fitInfo: LinearFitInfo;
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * A fitted logistic regression, binary or multinomial (softmax). Coefficients follow
 * scikit-learn's `coef_` layout and are on the original feature scale. Create one with
 * {@link fitLogistic} or {@link LogisticModel.fromJSON}.
 */
export class LogisticModel {
  readonly kind = "logistic" as const;
  readonly numFeatures: number;
  readonly featureNames: string[] | undefined;
  /** Class labels, ascending; `predictProba` columns follow this order. */
  readonly classes: Float64Array;
  /** Binary: one row, the log-odds of `classes[1]`. Multinomial: one row per class. */
  readonly coefficients: Float64Array[];
  /** One per coefficient row (multinomial: centred to sum to 0 on the standardised scale). */
  readonly intercept: Float64Array;
  readonly featureMeans: Float64Array;
  readonly featureScales: Float64Array;
  readonly imputeValues: Float64Array | undefined;
  readonly params: LinearParams;
  readonly fitInfo: LinearFitInfo;
  private readonly scorer: LinearScorer;
  private readonly rowMargins: Float64Array;

  constructor(s: LogisticModelState) {
    this.numFeatures = s.numFeatures;
    this.featureNames = s.featureNames;
    this.classes = s.classes;
    this.coefficients = s.coefficients;
    this.intercept = s.intercept;
    this.featureMeans = s.featureMeans;
    this.featureScales = s.featureScales;
    this.imputeValues = s.imputeValues;
    this.params = s.params;
    this.fitInfo = s.fitInfo;
    const p = s.numFeatures;
    const coef = new Float64Array(s.coefficients.length * p);
    for (const [k, row] of s.coefficients.entries()) coef.set(row, k * p);
    this.scorer = {
      numFeatures: p,
      featureNames: s.featureNames,
      coef,
      intercept: s.intercept,
      impute: s.imputeValues,
    };
    this.rowMargins = new Float64Array(s.intercept.length);
  }

  get numClasses(): number {
    return this.classes.length;
  }

  /** True for a softmax model over three or more classes. */
  get multinomial(): boolean {
    return this.classes.length > 2;
  }

  /** Raw margins: `rows` log-odds when binary, row-major `rows × numClasses` when multinomial. */
  decisionFunction(X: MatrixInput): Float64Array {
    return margins(this.scorer, X);
  }

  /** Class probabilities, row-major `rows × numClasses` (each row sums to 1). */
  predictProba(X: MatrixInput): Float64Array {
    const m = margins(this.scorer, X);
    const K = this.classes.length;
    if (K === 2) {
      const out = new Float64Array(m.length * 2);
      for (let i = 0; i < m.length; i++) {
        const p = sigmoid(m[i]!);
        out[2 * i] = 1 - p;
        out[2 * i + 1] = p;
      }
      return out;
    }
    for (let o = 0; o < m.length; o += K) softmaxInPlace(m, o, K);
    return m;
  }

  /** Binary models: the probability of `classes[1]` per row (what AUC and log loss take). */
  predictPositiveProba(X: MatrixInput): Float64Array {
    if (this.multinomial) {
      throw new ValidationError("predictPositiveProba needs a binary model; this one has more than two classes", {
        hint: "Use predictProba for multinomial models.",
      });
    }
    const m = margins(this.scorer, X);
    for (let i = 0; i < m.length; i++) m[i] = sigmoid(m[i]!);
    return m;
  }

  /** The most probable class label per row. */
  predict(X: MatrixInput): Float64Array {
    const m = margins(this.scorer, X);
    const K = this.classes.length;
    if (K === 2) {
      for (let i = 0; i < m.length; i++) m[i] = this.classes[m[i]! > 0 ? 1 : 0]!;
      return m;
    }
    const rows = m.length / K;
    const out = new Float64Array(rows);
    for (let i = 0; i < rows; i++) out[i] = this.classes[argmax(m, i * K, K)]!;
    return out;
  }

  /** Class probabilities of one row into `out` (length `numClasses`); returns `out`. */
  predictProbaRow(
    row: ArrayLike<number | null | undefined>,
    out = new Float64Array(this.classes.length),
  ): Float64Array {
    checkRow(this.scorer, row);
    const K = this.classes.length;
    if (out.length !== K) throw new ValidationError(`out has length ${out.length}, expected ${K} (numClasses)`);
    scoreRow(this.scorer, row, 0, 0, this.rowMargins, 0);
    if (K === 2) {
      const p = sigmoid(this.rowMargins[0]!);
      out[0] = 1 - p;
      out[1] = p;
      return out;
    }
    out.set(this.rowMargins);
    softmaxInPlace(out, 0, K);
    return out;
  }

  /** Plain JSON for storage; {@link LogisticModel.fromJSON} reads it back exactly. */
  toJSON(): LogisticModelJSON {
    return {
      format: MODEL_FORMAT,
      version: MODEL_VERSION,
      kind: "logistic",
      numFeatures: this.numFeatures,
      ...(this.featureNames ? { featureNames: [...this.featureNames] } : {}),
      classes: Array.from(this.classes),
      coefficients: this.coefficients.map((r) => Array.from(r)),
      intercept: Array.from(this.intercept),
      featureMeans: Array.from(this.featureMeans),
      featureScales: Array.from(this.featureScales),
      ...(this.imputeValues ? { imputeValues: Array.from(this.imputeValues) } : {}),
      params: { ...this.params },
      fitInfo: fitInfoToJson(this.fitInfo),
    };
  }

  /** Loads a model from {@link LogisticModel.toJSON} output (object or JSON text); corrupt input throws. */
  static fromJSON(json: unknown): LogisticModel {
    const m = parseModelJson(json, "logistic");
    return new LogisticModel({
      numFeatures: m.numFeatures,
      featureNames: m.featureNames,
      classes: Float64Array.from(m.classes),
      coefficients: m.coefficients.map((r) => Float64Array.from(r)),
      intercept: Float64Array.from(m.intercept),
      featureMeans: Float64Array.from(m.featureMeans),
      featureScales: Float64Array.from(m.featureScales),
      imputeValues: m.imputeValues ? Float64Array.from(m.imputeValues) : undefined,
      params: { ...m.params },
      fitInfo: fitInfoFromJson(m.fitInfo),
    });
  }
}

function argmax(a: Float64Array, off: number, K: number): number {
  let best = 0;
  for (let k = 1; k < K; k++) if (a[off + k]! > a[off + best]!) best = k;
  return best;
}

function softmaxInPlace(a: Float64Array, off: number, K: number): void {
  let m = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < K; k++) if (a[off + k]! > m) m = a[off + k]!;
  let s = 0;
  for (let k = 0; k < K; k++) {
    const e = Math.exp(a[off + k]! - m);
    a[off + k] = e;
    s += e;
  }
  for (let k = 0; k < K; k++) a[off + k]! /= s;
}

/** Sorted distinct labels and each row's class index. */
function encodeLabels(y: ArrayLike<number>, v: Float64Array): { classes: Float64Array; label: Int32Array } {
  const distinct = Float64Array.from(new Set(Array.from(y))).sort();
  if (distinct.length < 2) {
    throw new ValidationError(`y has a single class (${distinct[0]}); logistic regression needs at least two`, {
      hint: "Check the target column and the rows selected for training.",
    });
  }
  if (distinct.length > MAX_CLASSES) {
    throw new ValidationError(`y has ${distinct.length} distinct values, more than ${MAX_CLASSES} classes`, {
      hint: "fitLogistic expects class labels; for a numeric target use fitLinear.",
    });
  }
  const index = new Map<number, number>();
  for (const [k, c] of distinct.entries()) index.set(c, k);
  const label = new Int32Array(y.length);
  const weight = new Float64Array(distinct.length);
  for (let i = 0; i < y.length; i++) {
    const k = index.get(y[i]!)!;
    label[i] = k;
    weight[k]! += v[i]!;
  }
  weight.forEach((w, k) => {
    if (!(w > 0)) {
      throw new ValidationError(`class ${distinct[k]} only occurs in rows with zero weight`, {
        hint: "Give the class's rows a positive sampleWeight or drop those rows.",
      });
    }
  });
  return { classes: distinct, label };
}

/** True when every weighted training row's own class has the strictly largest margin. */
function separates(beta: Float64Array, intercept: Float64Array, pb: LogisticProblem): boolean {
  const { z, rows: n, cols: p, v, label, numClasses: K } = pb;
  const outputs = K === 2 ? 1 : K;
  const m = new Float64Array(outputs);
  for (let i = 0; i < n; i++) {
    if (v[i] === 0) continue;
    for (let k = 0; k < outputs; k++) {
      let s = intercept[k]!;
      for (let j = 0; j < p; j++) s += beta[k * p + j]! * z[j * n + i]!;
      m[k] = s;
    }
    if (K === 2) {
      if (label[i] === 1 ? !(m[0]! > 0) : !(m[0]! < 0)) return false;
    } else {
      const own = m[label[i]!]!;
      for (let k = 0; k < K; k++) if (k !== label[i] && !(m[k]! < own)) return false;
    }
  }
  return true;
}

/**
 * Fits logistic regression with an elastic-net penalty by proximal Newton (coordinate
 * descent on each quadratic approximation, with a line search). Two classes give a
 * binary model, three or more a multinomial (softmax) one. It minimises
 *
 *   (1/W) sum_i w_i logloss_i + alpha * (l1Ratio * |c|_1 + (1 - l1Ratio)/2 * |c|^2)
 *
 * over standardised features; this is scikit-learn's
 * `LogisticRegression(penalty="elasticnet", solver="saga", C=1/(alpha*W), l1_ratio)` on
 * `StandardScaler` output, with `W` the total sample weight (the row count when unweighted).
 *
 * @example
 * const model = fitLogistic(X, y, { alpha: 1e-3, l1Ratio: 0.5 });
 * const p = model.predictPositiveProba(Xtest); // P(y = classes[1])
 */
export function fitLogistic(X: MatrixInput, y: ArrayLike<number>, options: LogisticOptions = {}): LogisticModel {
  const o = parseOptions(logisticOptionsSchema, options, "fitLogistic");
  const m = toMatrix(X);
  checkTarget(y, m.rows);
  const v = normalizedWeights(o.sampleWeight, m.rows);
  const { classes, label } = encodeLabels(y, v);
  const d = buildDesign(m, v, o);
  const K = classes.length;
  const pb: LogisticProblem = {
    z: d.z,
    rows: d.rows,
    cols: d.cols,
    v,
    label,
    numClasses: K,
    l1: o.alpha * o.l1Ratio,
    l2: o.alpha * (1 - o.l1Ratio),
    fitIntercept: o.fitIntercept,
    skip: d.skip,
    tol: o.tol,
    maxIter: o.maxIter,
    gram: useGram(o.precompute, d.rows, d.cols),
  };
  const r = K === 2 ? solveBinomial(pb) : solveMultinomial(pb);
  const outputs = K === 2 ? 1 : K;
  const p = d.cols;
  if (outputs > 1) {
    // Softmax is unchanged by a common shift of the intercepts; centre them in the fitting
    // space, where scikit-learn's also sum to 0.
    let mean = 0;
    for (let k = 0; k < outputs; k++) mean += r.intercept[k]! / outputs;
    for (let k = 0; k < outputs; k++) r.intercept[k]! -= mean;
  }
  const coefficients: Float64Array[] = [];
  const intercept = new Float64Array(outputs);
  for (let k = 0; k < outputs; k++) {
    const u = unstandardize(d, r.beta.subarray(k * p, (k + 1) * p), r.intercept[k]!);
    coefficients.push(u.coef);
    intercept[k] = u.intercept;
  }
  const warnings = [...d.warnings];
  let converged = r.converged;
  if (o.alpha === 0 && separates(r.beta, r.intercept, pb)) {
    // No finite maximum-likelihood estimate exists: the solver only stopped because the
    // gradient vanishes as the coefficients run off to infinity.
    converged = false;
    warnings.push(
      "fitLogistic: the features perfectly separate the classes, so without a penalty the coefficients grow without bound; set alpha > 0",
    );
  } else if (!r.converged) {
    const why = r.stalled
      ? "the line search could not improve the objective further"
      : `it reached maxIter ${o.maxIter}`;
    warnings.push(
      `fitLogistic did not converge: ${why} (optimality violation ${r.criterion.toExponential(3)} > tol ${o.tol}); ` +
        "separable classes or alpha 0 let coefficients grow without bound: add a penalty (alpha > 0), raise maxIter or loosen tol",
    );
  }
  reportWarnings(warnings, o.onWarning);
  return new LogisticModel({
    numFeatures: p,
    featureNames: o.featureNames,
    classes,
    coefficients,
    intercept,
    featureMeans: d.mean,
    featureScales: d.scale,
    imputeValues: d.impute,
    params: {
      alpha: o.alpha,
      l1Ratio: o.l1Ratio,
      fitIntercept: o.fitIntercept,
      standardize: o.standardize,
      tol: o.tol,
      maxIter: o.maxIter,
      missing: o.missing,
    },
    fitInfo: {
      converged,
      iterations: r.iterations,
      criterion: r.criterion,
      objective: r.objective,
      warnings,
    },
  });
}
