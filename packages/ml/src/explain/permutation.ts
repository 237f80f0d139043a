import { ValidationError } from "@quintet/core";
import { Rng } from "../datasets/rng.js";
import { type MetricName, metricByName, type NamedMetric } from "../metrics/registry.js";
import { assertMatrix, type Matrix } from "../models/ensemble/matrix.js";

/** Scores a matrix: predictions after the link, as the metric expects them. */
export type PredictFn = (X: Matrix) => ArrayLike<number> | Promise<ArrayLike<number>>;

export interface PermutationImportanceOptions {
  /** The model as a function of the features (e.g. `(X) => compileEnsemble(model).predict(X)`). */
  predict: PredictFn;
  X: Matrix;
  y: ArrayLike<number>;
  /** A metric name from `metrics/` or a metric object. */
  metric: MetricName | NamedMetric;
  /** Needed by `mlogloss`. */
  numClasses?: number;
  sampleWeight?: ArrayLike<number>;
  /** Shuffles per feature. Default 5. */
  repeats?: number;
  /** Default 0. */
  seed?: number;
  /** Names of the columns; default `f0`, `f1`… */
  featureNames?: string[];
  /**
   * Columns shuffled together, e.g. every one-hot column of one input, so a group is
   * judged as the input it came from. Default: each column alone.
   */
  groups?: { name: string; columns: number[] }[];
  signal?: AbortSignal;
}

export interface PermutationImportance {
  feature: string;
  columns: number[];
  /** Mean loss of score over the repeats (positive = the model needs the feature). */
  mean: number;
  /** Standard deviation over the repeats (population, as scikit-learn reports it). */
  std: number;
  /** The drop of each repeat. */
  drops: number[];
}

export interface PermutationImportanceResult {
  metric: string;
  direction: "higher" | "lower";
  /** The metric on the unshuffled rows. */
  baseline: number;
  repeats: number;
  /** Most important first. */
  importances: PermutationImportance[];
}

/**
 * Permutation importance (Breiman; scikit-learn's `permutation_importance`): how much a
 * metric worsens when one feature's (or group's) values are shuffled across rows, which
 * breaks its link to the target while keeping its distribution. Works for any model given
 * as a predict function; seeded, so the same inputs give the same shuffles. A drop is
 * oriented so that positive means worse, whichever way the metric points.
 *
 * @example
 * const imp = await permutationImportance({
 *   predict: (X) => predictor.predict(X), X: Xtest, y: yTest, metric: "auc", repeats: 10,
 * });
 * for (const f of imp.importances) console.log(f.feature, f.mean, "±", f.std);
 */
export async function permutationImportance(
  options: PermutationImportanceOptions,
): Promise<PermutationImportanceResult> {
  const { X, y } = options;
  assertMatrix(X);
  if (typeof options.predict !== "function") {
    throw new ValidationError("predict must be a function from a feature matrix to predictions");
  }
  if (y.length !== X.rows) throw new ValidationError(`y has ${y.length} labels for ${X.rows} rows`);
  if (X.rows < 2) throw new ValidationError("permutation importance needs at least two rows to shuffle");
  const metric = typeof options.metric === "string" ? metricByName(options.metric) : options.metric;
  const repeats = options.repeats ?? 5;
  if (!(Number.isInteger(repeats) && repeats >= 1 && repeats <= 1000)) {
    throw new ValidationError(`repeats must be a whole number from 1 to 1000, got ${repeats}`);
  }
  const names = options.featureNames ?? Array.from({ length: X.cols }, (_, j) => `f${j}`);
  if (names.length !== X.cols)
    throw new ValidationError(`featureNames has ${names.length} names for ${X.cols} columns`);
  const groups = options.groups ?? names.map((name, j) => ({ name, columns: [j] }));
  for (const g of groups) {
    if (g.columns.length === 0) throw new ValidationError(`group "${g.name}" has no columns`);
    for (const c of g.columns) {
      if (!(Number.isInteger(c) && c >= 0 && c < X.cols)) {
        throw new ValidationError(`group "${g.name}" lists column ${c}, but X has ${X.cols} columns`);
      }
    }
  }

  const score = async (m: Matrix): Promise<number> => {
    const yPred = await options.predict(m);
    const value = metric.evaluate({
      yTrue: y,
      yPred,
      ...(options.sampleWeight ? { sampleWeight: options.sampleWeight } : {}),
      ...(options.numClasses !== undefined ? { numClasses: options.numClasses } : {}),
    });
    if (!Number.isFinite(value)) {
      throw new ValidationError(`the metric ${metric.name} is ${value} on these predictions`, {
        hint: "Check that predict returns what the metric expects (probabilities for classification metrics).",
      });
    }
    return value;
  };
  const baseline = await score(X);
  const rng = new Rng(options.seed ?? 0);
  const work: Matrix = { data: new Float64Array(X.data), rows: X.rows, cols: X.cols };
  const order = new Int32Array(X.rows);
  const importances: PermutationImportance[] = [];
  for (const g of groups) {
    const drops: number[] = [];
    for (let k = 0; k < repeats; k++) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error("aborted");
      for (let i = 0; i < X.rows; i++) order[i] = i;
      for (let i = X.rows - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      // The same shuffle for every column of the group keeps the group's rows intact.
      for (const c of g.columns)
        for (let i = 0; i < X.rows; i++) work.data[i * X.cols + c] = X.data[order[i]! * X.cols + c]!;
      const s = await score(work);
      drops.push(metric.direction === "higher" ? baseline - s : s - baseline);
      for (const c of g.columns) for (let i = 0; i < X.rows; i++) work.data[i * X.cols + c] = X.data[i * X.cols + c]!;
    }
    const mean = drops.reduce((a, b) => a + b, 0) / repeats;
    const std = Math.sqrt(drops.reduce((a, b) => a + (b - mean) ** 2, 0) / repeats);
    importances.push({ feature: g.name, columns: [...g.columns], mean, std, drops });
  }
  importances.sort((a, b) => b.mean - a.mean);
  return { metric: metric.name, direction: metric.direction, baseline, repeats, importances };
}
