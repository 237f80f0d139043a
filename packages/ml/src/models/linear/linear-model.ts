import { buildDesign, checkTarget, type MatrixInput, normalizedWeights, toMatrix, unstandardize } from "./design.js";
import { solveElasticNet } from "./elastic-net.js";
import { checkRow, type LinearScorer, margins, scoreRow } from "./margins.js";
import {
  type LinearFitInfo,
  type LinearModelJSON,
  type LinearParams,
  MODEL_FORMAT,
  MODEL_VERSION,
  parseModelJson,
} from "./model-json.js";
import { type LinearOptions, linearOptionsSchema, parseOptions, useGram } from "./options.js";
import { reportWarnings } from "./warnings.js";

/** What a {@link LinearModel} is made of (as fitted or as loaded). */
export interface LinearModelState {
  numFeatures: number;
  featureNames?: string[] | undefined;
  coefficients: Float64Array;
  intercept: number;
  featureMeans: Float64Array;
  featureScales: Float64Array;
  imputeValues?: Float64Array | undefined;
  params: LinearParams;
  fitInfo: LinearFitInfo;
}

/**
 * A fitted linear regression: `prediction = intercept + coefficients · x`, with the
 * coefficients on the original feature scale. Create one with {@link fitLinear} or
 * {@link LinearModel.fromJSON}.
 */
export class LinearModel {
  readonly kind = "linear" as const;
  readonly numFeatures: number;
  readonly featureNames: string[] | undefined;
  /** One coefficient per feature, on the original scale. */
  readonly coefficients: Float64Array;
  readonly intercept: number;
  /** The centring and scaling used during fitting (`coefficients * featureScales` are the standardised ones). */
  readonly featureMeans: Float64Array;
  readonly featureScales: Float64Array;
  /** Training means that replace missing values when fitted with `missing: "mean"`. */
  readonly imputeValues: Float64Array | undefined;
  readonly params: LinearParams;
  readonly fitInfo: LinearFitInfo;
  private readonly scorer: LinearScorer;
  private readonly one = new Float64Array(1);

  constructor(s: LinearModelState) {
    this.numFeatures = s.numFeatures;
    this.featureNames = s.featureNames;
    this.coefficients = s.coefficients;
    this.intercept = s.intercept;
    this.featureMeans = s.featureMeans;
    this.featureScales = s.featureScales;
    this.imputeValues = s.imputeValues;
    this.params = s.params;
    this.fitInfo = s.fitInfo;
    this.scorer = {
      numFeatures: s.numFeatures,
      featureNames: s.featureNames,
      coef: s.coefficients,
      intercept: Float64Array.of(s.intercept),
      impute: s.imputeValues,
    };
  }

  /** Predictions for every row of `X`. */
  predict(X: MatrixInput): Float64Array {
    return margins(this.scorer, X);
  }

  /** Prediction for one row (no allocation). */
  predictRow(row: ArrayLike<number | null | undefined>): number {
    checkRow(this.scorer, row);
    scoreRow(this.scorer, row, 0, 0, this.one, 0);
    return this.one[0]!;
  }

  /** Plain JSON for storage; {@link LinearModel.fromJSON} reads it back exactly. */
  toJSON(): LinearModelJSON {
    return {
      format: MODEL_FORMAT,
      version: MODEL_VERSION,
      kind: "linear",
      numFeatures: this.numFeatures,
      ...(this.featureNames ? { featureNames: [...this.featureNames] } : {}),
      coefficients: Array.from(this.coefficients),
      intercept: this.intercept,
      featureMeans: Array.from(this.featureMeans),
      featureScales: Array.from(this.featureScales),
      ...(this.imputeValues ? { imputeValues: Array.from(this.imputeValues) } : {}),
      params: { ...this.params },
      fitInfo: fitInfoToJson(this.fitInfo),
    };
  }

  /** Loads a model from {@link LinearModel.toJSON} output (object or JSON text); corrupt input throws. */
  static fromJSON(json: unknown): LinearModel {
    const m = parseModelJson(json, "linear");
    return new LinearModel({
      numFeatures: m.numFeatures,
      featureNames: m.featureNames,
      coefficients: Float64Array.from(m.coefficients),
      intercept: m.intercept,
      featureMeans: Float64Array.from(m.featureMeans),
      featureScales: Float64Array.from(m.featureScales),
      imputeValues: m.imputeValues ? Float64Array.from(m.imputeValues) : undefined,
      params: { ...m.params },
      fitInfo: fitInfoFromJson(m.fitInfo),
    });
  }
}

export function fitInfoToJson(f: LinearFitInfo): LinearModelJSON["fitInfo"] {
  return { ...f, criterion: Number.isFinite(f.criterion) ? f.criterion : null, warnings: [...f.warnings] };
}

export function fitInfoFromJson(f: LinearModelJSON["fitInfo"]): LinearFitInfo {
  return { ...f, criterion: f.criterion ?? Number.POSITIVE_INFINITY, warnings: [...f.warnings] };
}

/**
 * Fits linear regression with an elastic-net penalty by coordinate descent, minimising
 *
 *   1/(2 W) sum_i w_i (y_i - b - x_i·c)^2 + alpha * (l1Ratio * |c|_1 + (1 - l1Ratio)/2 * |c|^2)
 *
 * over standardised features (scikit-learn's `ElasticNet` objective on `StandardScaler`
 * output). `alpha: 0` (the default) is ordinary least squares.
 *
 * @example
 * const model = fitLinear(X, y, { alpha: 0.01, l1Ratio: 1 }); // lasso
 * model.coefficients;          // per feature, original scale
 * model.predict(Xtest);
 */
export function fitLinear(X: MatrixInput, y: ArrayLike<number>, options: LinearOptions = {}): LinearModel {
  const o = parseOptions(linearOptionsSchema, options, "fitLinear");
  const m = toMatrix(X);
  checkTarget(y, m.rows);
  const v = normalizedWeights(o.sampleWeight, m.rows);
  const n = m.rows;
  // Fold the weights into the rows (sqrt(v) on both sides) so the solver sees plain least squares.
  const sq = new Float64Array(n);
  for (let i = 0; i < n; i++) sq[i] = Math.sqrt(v[i]!);
  const d = buildDesign(m, v, o, sq);
  let ybar = 0;
  if (o.fitIntercept) for (let i = 0; i < n; i++) ybar += v[i]! * y[i]!;
  const yt = new Float64Array(n);
  for (let i = 0; i < n; i++) yt[i] = sq[i]! * (y[i]! - ybar);
  const r = solveElasticNet({
    z: d.z,
    rows: n,
    cols: d.cols,
    y: yt,
    l1: o.alpha * o.l1Ratio,
    l2: o.alpha * (1 - o.l1Ratio),
    skip: d.skip,
    tol: o.tol,
    maxIter: o.maxIter,
    gram: useGram(o.precompute, n, d.cols),
  });
  const { coef, intercept } = unstandardize(d, r.beta, ybar);
  const warnings = [...d.warnings];
  if (!r.converged) {
    warnings.push(
      `fitLinear did not converge in ${o.maxIter} passes (stopping measure ${r.criterion.toExponential(3)} > tol ${o.tol}); raise maxIter, loosen tol, or add an L2 penalty for correlated features`,
    );
  }
  reportWarnings(warnings, o.onWarning);
  return new LinearModel({
    numFeatures: d.cols,
    featureNames: o.featureNames,
    coefficients: coef,
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
      converged: r.converged,
      iterations: r.iterations,
      criterion: r.criterion,
      objective: r.objective,
      warnings,
    },
  });
}
