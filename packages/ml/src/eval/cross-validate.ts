import { ValidationError } from "@quintet/core";
import { Frame } from "../data/frame.js";
import { summarise } from "../data/stats.js";
import { Rng } from "../datasets/rng.js";
import { type MetricName, metricByName, type NamedMetric } from "../metrics/registry.js";
import type { Matrix } from "../models/ensemble/matrix.js";
import type { Fold, SplitInput, Splitter } from "./splits.js";

/** Rows of a matrix (extra fields such as feature names are kept). */
export function takeRows<M extends Matrix>(m: M, rows: ArrayLike<number>): M {
  const c = m.cols;
  const data = new Float64Array(rows.length * c);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]!;
    data.set(m.data.subarray(r * c, r * c + c), k * c);
  }
  return { ...m, data, rows: rows.length };
}

/**
 * Two labelled tables as one: `b`'s rows after `a`'s (e.g. train + validation rows for
 * cross-validated tuning). Column counts must agree.
 */
export function stackRows(
  a: { X: Matrix; y: ArrayLike<number> },
  b: { X: Matrix; y: ArrayLike<number> },
): { X: Matrix; y: Float64Array } {
  if (a.X.cols !== b.X.cols)
    throw new ValidationError(`stackRows: ${a.X.cols} columns vs ${b.X.cols}`, {
      hint: "Transform both tables with the same pipeline.",
    });
  const data = new Float64Array(a.X.data.length + b.X.data.length);
  data.set(a.X.data);
  data.set(b.X.data, a.X.data.length);
  const y = new Float64Array(a.y.length + b.y.length);
  y.set(a.y);
  y.set(b.y, a.y.length);
  return { X: { data, rows: a.X.rows + b.X.rows, cols: a.X.cols }, y };
}

/** Picks rows of a Frame or Matrix; pass `take` in the options for other data types. */
function defaultTake<D>(data: D, rows: Int32Array): D {
  if (data instanceof Frame) return data.take(rows) as D;
  const m = data as unknown as Matrix;
  if (m && m.data instanceof Float64Array && Number.isInteger(m.rows) && Number.isInteger(m.cols)) {
    return takeRows(m, rows) as unknown as D;
  }
  throw new ValidationError("crossValidate: data is neither a Frame nor a Matrix", {
    hint: "Pass a Frame or Matrix, or a take(data, rows) function for your data type.",
  });
}

function rowCount(data: unknown): number {
  if (data instanceof Frame) return data.rows;
  const m = data as Matrix;
  if (m && Number.isInteger(m.rows)) return m.rows;
  throw new ValidationError("crossValidate: cannot tell how many rows data has", {
    hint: "Pass a Frame or Matrix, or n in the options.",
  });
}

/** What `fit` is told besides its training rows. */
export interface FitContext<D> {
  fold: number;
  /** The fold's validation rows, for early stopping. Scoring never uses what fit does with them. */
  valid: { data: D; y: Float64Array };
}

export interface CrossValidateOptions<D, M> {
  /** A Frame (so feature pipelines fit inside each fold) or a Matrix. */
  data: D;
  y: ArrayLike<number>;
  splitter: Splitter;
  /** Trains a model on the training rows of one fold. */
  fit: (train: D, y: Float64Array, context: FitContext<D>) => M | Promise<M>;
  /**
   * Predictions after the link: P(class 1) for binary metrics, row-major `n × numClasses`
   * probabilities for multiclass, values for regression.
   */
  predict: (model: M, data: D) => ArrayLike<number> | Promise<ArrayLike<number>>;
  /** Metric names (see `metricByName`) or metric objects. */
  metrics: (MetricName | NamedMetric)[];
  /** For group splits. */
  groups?: ArrayLike<number | string>;
  /** For time-series splits. */
  times?: ArrayLike<number>;
  /** Multiclass: predictions per row. */
  numClasses?: number;
  /** Also score each fold's training rows (to see over-fitting). Default false. */
  trainScores?: boolean;
  /** Row subsetting for data types other than Frame and Matrix. */
  take?: (data: D, rows: Int32Array) => D;
  /** Called after each fold, e.g. for progress. */
  onFold?: (result: FoldResult) => void;
}

/** One fold's scores. */
export interface FoldResult {
  fold: number;
  trainRows: number;
  validRows: number;
  valid: Record<string, number>;
  train?: Record<string, number>;
}

export interface MetricSummary {
  mean: number;
  /** Sample standard deviation across folds. */
  std: number;
}

export interface CrossValidation {
  splitter: string;
  folds: FoldResult[];
  /** Validation metrics, mean ± std over folds. */
  summary: Record<string, MetricSummary>;
  trainSummary?: Record<string, MetricSummary>;
  /**
   * Out-of-fold predictions (`n × numClasses` for multiclass); NaN for rows no fold
   * validated (e.g. the first block of a time-series split).
   */
  oof: Float64Array;
}

function resolveMetrics(metrics: (MetricName | NamedMetric)[]): NamedMetric[] {
  if (!Array.isArray(metrics) || metrics.length === 0) {
    throw new ValidationError("crossValidate needs at least one metric", {
      hint: 'Pass metrics, e.g. ["auc", "logloss"].',
    });
  }
  return metrics.map((m) => (typeof m === "string" ? metricByName(m) : m));
}

function score(metrics: NamedMetric[], y: Float64Array, pred: ArrayLike<number>, numClasses?: number) {
  const out: Record<string, number> = {};
  for (const m of metrics) {
    out[m.name] = m.evaluate({ yTrue: y, yPred: pred, ...(numClasses ? { numClasses } : {}) });
  }
  return out;
}

function pick(y: ArrayLike<number>, rows: Int32Array): Float64Array {
  const out = new Float64Array(rows.length);
  for (let k = 0; k < rows.length; k++) out[k] = y[rows[k]!]!;
  return out;
}

function checkPredictions(pred: ArrayLike<number>, rows: number, width: number, fold: number): void {
  if (!pred || pred.length !== rows * width) {
    throw new ValidationError(
      `crossValidate: predict returned ${pred?.length ?? 0} values for ${rows} rows in fold ${fold}, expected ${rows * width}`,
      { hint: width > 1 ? "Return row-major n × numClasses probabilities." : "Return one prediction per row." },
    );
  }
}

function summariseFolds(folds: Record<string, number>[]): Record<string, MetricSummary> {
  const out: Record<string, MetricSummary> = {};
  for (const name of Object.keys(folds[0] ?? {})) out[name] = summarise(folds.map((f) => f[name]!));
  return out;
}

function splitInput(
  n: number,
  y: ArrayLike<number>,
  groups?: ArrayLike<number | string>,
  times?: ArrayLike<number>,
): SplitInput {
  return { n, y, ...(groups ? { groups } : {}), ...(times ? { times } : {}) };
}

/**
 * Cross-validates any model given as two functions: for each fold of `splitter`,
 * `fit` on the training rows, `predict` the validation rows, score every metric.
 * Returns per-fold values, mean ± std per metric and out-of-fold predictions. Fit
 * feature pipelines inside `fit` (pass a Frame as data) so no fold sees statistics of
 * its validation rows.
 *
 * @example
 * const cv = await crossValidate({
 *   data: frame, y, splitter: stratifiedKFold({ k: 5, seed: 1 }), metrics: ["auc", "logloss"],
 *   fit: async (train, yTrain) => trainModel(train, yTrain),
 *   predict: (model, rows) => model.predict(rows),
 * });
 * console.log(cv.summary.auc); // { mean: 0.84, std: 0.01 }
 */
export async function crossValidate<D, M>(options: CrossValidateOptions<D, M>): Promise<CrossValidation> {
  const metrics = resolveMetrics(options.metrics);
  const n = rowCount(options.data);
  const y = Float64Array.from(options.y);
  if (y.length !== n) {
    throw new ValidationError(`crossValidate: y has ${y.length} values for ${n} rows`, {
      hint: "Pass one label per row.",
    });
  }
  const width = options.numClasses && options.numClasses > 2 ? options.numClasses : 1;
  const take = options.take ?? defaultTake;
  const folds = options.splitter.split(splitInput(n, y, options.groups, options.times));
  const oof = new Float64Array(n * width).fill(Number.NaN);
  const results: FoldResult[] = [];
  for (let f = 0; f < folds.length; f++) {
    const { train, valid } = folds[f]!;
    const trainData = take(options.data, train);
    const validData = take(options.data, valid);
    const yTrain = pick(y, train);
    const yValid = pick(y, valid);
    const model = await options.fit(trainData, yTrain, { fold: f, valid: { data: validData, y: yValid } });
    const pred = await options.predict(model, validData);
    checkPredictions(pred, valid.length, width, f);
    for (let k = 0; k < valid.length; k++) {
      for (let c = 0; c < width; c++) oof[valid[k]! * width + c] = pred[k * width + c]!;
    }
    const result: FoldResult = {
      fold: f,
      trainRows: train.length,
      validRows: valid.length,
      valid: score(metrics, yValid, pred, options.numClasses),
    };
    if (options.trainScores) {
      const tp = await options.predict(model, trainData);
      checkPredictions(tp, train.length, width, f);
      result.train = score(metrics, yTrain, tp, options.numClasses);
    }
    results.push(result);
    options.onFold?.(result);
  }
  const out: CrossValidation = {
    splitter: options.splitter.name,
    folds: results,
    summary: summariseFolds(results.map((r) => r.valid)),
    oof,
  };
  if (options.trainScores) out.trainSummary = summariseFolds(results.map((r) => r.train!));
  return out;
}

export interface LearningCurveOptions<D, M> extends Omit<CrossValidateOptions<D, M>, "trainScores" | "onFold"> {
  /** Training-set sizes as shares (0, 1] of each fold's training rows, or absolute row counts (> 1). Default [0.1, 0.325, 0.55, 0.775, 1]. */
  trainSizes?: number[];
  /** Seed of the subsample drawn from each fold's training rows. Default 0. */
  seed?: number;
  onPoint?: (point: LearningCurvePoint) => void;
}

/** Scores at one training-set size. */
export interface LearningCurvePoint {
  /** Training rows used (mean over folds). */
  trainRows: number;
  train: Record<string, MetricSummary>;
  valid: Record<string, MetricSummary>;
}

/**
 * Learning curve: for each training size, fits on a subsample of every fold's
 * training rows and scores both those rows and the full validation fold. A valid
 * score still rising at the largest size says more data would help; a wide gap to the
 * train score says the model over-fits.
 */
export async function learningCurve<D, M>(options: LearningCurveOptions<D, M>): Promise<LearningCurvePoint[]> {
  const metrics = resolveMetrics(options.metrics);
  const n = rowCount(options.data);
  const y = Float64Array.from(options.y);
  if (y.length !== n) {
    throw new ValidationError(`learningCurve: y has ${y.length} values for ${n} rows`, {
      hint: "Pass one label per row.",
    });
  }
  const sizes = options.trainSizes ?? [0.1, 0.325, 0.55, 0.775, 1];
  for (const s of sizes) {
    if (!(s > 0) || (s > 1 && !Number.isInteger(s))) {
      throw new ValidationError(`learningCurve: train size ${s} is neither a share in (0, 1] nor a row count`);
    }
  }
  const width = options.numClasses && options.numClasses > 2 ? options.numClasses : 1;
  const take = options.take ?? defaultTake;
  const folds: Fold[] = options.splitter.split(splitInput(n, y, options.groups, options.times));
  const rng = new Rng(options.seed ?? 0);
  const orders = folds.map((f) => {
    const a = Int32Array.from(f.train);
    for (let i = a.length - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  });
  const points: LearningCurvePoint[] = [];
  for (const size of sizes) {
    const trainScores: Record<string, number>[] = [];
    const validScores: Record<string, number>[] = [];
    let used = 0;
    for (let f = 0; f < folds.length; f++) {
      const order = orders[f]!;
      const m = Math.min(order.length, size <= 1 ? Math.max(2, Math.round(size * order.length)) : size);
      const rows = order.slice(0, m).sort();
      used += m;
      const trainData = take(options.data, rows);
      const validData = take(options.data, folds[f]!.valid);
      const yTrain = pick(y, rows);
      const yValid = pick(y, folds[f]!.valid);
      const model = await options.fit(trainData, yTrain, { fold: f, valid: { data: validData, y: yValid } });
      const tp = await options.predict(model, trainData);
      checkPredictions(tp, rows.length, width, f);
      const vp = await options.predict(model, validData);
      checkPredictions(vp, folds[f]!.valid.length, width, f);
      trainScores.push(score(metrics, yTrain, tp, options.numClasses));
      validScores.push(score(metrics, yValid, vp, options.numClasses));
    }
    const point = {
      trainRows: used / folds.length,
      train: summariseFolds(trainScores),
      valid: summariseFolds(validScores),
    };
    points.push(point);
    options.onPoint?.(point);
  }
  return points;
}
