/**
 * Small synthetic tables with known generating functions, for the tree-model tests.
 * Not exported from the package.
 */
import { Rng } from "../../datasets/rng.js";
import type { Matrix } from "../ensemble/matrix.js";

export interface Table {
  X: Matrix;
  y: Float64Array;
  /** The true P(y = 1 | x) (classification) or E[y | x] (regression) of each row. */
  truth: Float64Array;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Binary labels from a nonlinear logit over 6 informative features (an interaction, a
 * threshold, a sine) plus `noise` pure-noise features; `missingRate` of the cells are NaN.
 */
export function binaryTable(rows: number, seed: number, options: { noise?: number; missingRate?: number } = {}): Table {
  const rng = new Rng(seed);
  const noise = options.noise ?? 4;
  const cols = 6 + noise;
  const data = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  const truth = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const x = Array.from({ length: cols }, () => rng.normal());
    const z = 1.5 * x[0]! - 1.2 * x[1]! + 1.0 * x[2]! * x[3]! + (x[4]! > 0.5 ? 1.2 : -0.4) + Math.sin(2 * x[5]!) - 0.3;
    truth[r] = sigmoid(z);
    y[r] = rng.next() < truth[r]! ? 1 : 0;
    for (let j = 0; j < cols; j++) {
      data[r * cols + j] = options.missingRate && rng.next() < options.missingRate ? Number.NaN : x[j]!;
    }
  }
  return { X: { data, rows, cols }, y, truth };
}

/** Regression target: a smooth nonlinear function of 4 features plus Gaussian noise (sd `sd`). */
export function regressionTable(rows: number, seed: number, sd = 0.5): Table {
  const rng = new Rng(seed);
  const cols = 6;
  const data = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  const truth = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const x = Array.from({ length: cols }, () => rng.next() * 4 - 2);
    const f = 2 * Math.sin(x[0]!) + x[1]! * x[1]! - 1.5 * x[2]! + (x[3]! > 0 ? 1 : -1);
    truth[r] = f;
    y[r] = f + rng.normal(0, sd);
    for (let j = 0; j < cols; j++) data[r * cols + j] = x[j]!;
  }
  return { X: { data, rows, cols }, y, truth };
}

/**
 * Binary labels driven by a 24-level categorical column (column 0) whose effect is not
 * monotone in the code, plus one weak numeric feature: ordinal splits on the codes need
 * many cuts to separate the levels, set splits need one.
 */
export function categoricalTable(rows: number, seed: number): Table {
  const rng = new Rng(seed);
  const levels = 24;
  const effect = Array.from({ length: levels }, (_, k) => ((k * 7919) % 5 === 0 || (k * 31) % 7 < 2 ? 1.6 : -0.9));
  const cols = 2;
  const data = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  const truth = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = rng.int(0, levels);
    const x1 = rng.normal();
    truth[r] = sigmoid(effect[c]! + 0.3 * x1);
    y[r] = rng.next() < truth[r]! ? 1 : 0;
    data[r * cols] = c;
    data[r * cols + 1] = x1;
  }
  return { X: { data, rows, cols }, y, truth };
}

/** Rows `[from, to)` of a table. */
export function sliceTable(t: Table, from: number, to: number): Table {
  const c = t.X.cols;
  return {
    X: { data: t.X.data.slice(from * c, to * c), rows: to - from, cols: c },
    y: t.y.slice(from, to),
    truth: t.truth.slice(from, to),
  };
}
