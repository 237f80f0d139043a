import { ValidationError } from "@quintet/core";
import { type Matrix, matrixFromRows } from "../ensemble/matrix.js";

/** Features as a {@link Matrix} or as rows of numbers (null/undefined/NaN are missing). */
export type MatrixInput = Matrix | readonly ArrayLike<number | null | undefined>[];

/** How the learners name column `j` in messages. */
export function columnName(j: number, names: readonly string[] | undefined): string {
  const name = names?.[j];
  return name === undefined ? `column ${j}` : `feature "${name}" (column ${j})`;
}

/** Accepts a matrix or rows and checks the shape; values are checked later, per column. */
export function toMatrix(X: MatrixInput, what = "X"): Matrix {
  if (Array.isArray(X)) return matrixFromRows(X as ArrayLike<number | null | undefined>[]);
  const m = X as Partial<Matrix> | null | undefined;
  if (!m || !(m.data instanceof Float64Array) || !Number.isInteger(m.rows) || !Number.isInteger(m.cols)) {
    throw new ValidationError(`${what} must be a Matrix ({ data: Float64Array, rows, cols }) or an array of rows`, {
      hint: "Build one with matrixFromRows(rows).",
    });
  }
  if (m.rows! < 0 || m.cols! < 0 || m.data.length !== m.rows! * m.cols!) {
    throw new ValidationError(
      `${what}: data has ${m.data.length} values, expected rows*cols = ${m.rows! * m.cols!} (rows ${m.rows}, cols ${m.cols})`,
    );
  }
  return m as Matrix;
}

/** Checks a target vector: one finite number per row. */
export function checkTarget(y: ArrayLike<number>, n: number): void {
  if (y === null || y === undefined || typeof (y as ArrayLike<number>).length !== "number") {
    throw new ValidationError("y must be an array of numbers, one per row");
  }
  if (y.length !== n) {
    throw new ValidationError(`y has ${y.length} values but X has ${n} rows`, { hint: "Pass one target per row." });
  }
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new ValidationError(`y[${i}] is ${String(v)}, expected a finite number`, {
        hint: "Drop rows whose target is missing or infinite before fitting.",
      });
    }
  }
}

/** Sample weights scaled to sum to 1, so the data term is a weighted mean. */
export function normalizedWeights(w: ArrayLike<number> | undefined, n: number): Float64Array {
  const v = new Float64Array(n);
  if (w === undefined) return v.fill(1 / n);
  if (w.length !== n) {
    throw new ValidationError(`sampleWeight has ${w.length} values but X has ${n} rows`, {
      hint: "Pass one weight per row.",
    });
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = w[i];
    if (typeof x !== "number" || !Number.isFinite(x) || x < 0) {
      throw new ValidationError(`sampleWeight[${i}] is ${String(x)}, expected a finite number >= 0`);
    }
    v[i] = x;
    sum += x;
  }
  if (!(sum > 0))
    throw new ValidationError("sampleWeight sums to 0", { hint: "Give at least one row a positive weight." });
  for (let i = 0; i < n; i++) v[i]! /= sum;
  return v;
}

/** The training design: features column-major, centred and scaled, plus what undoes it. */
export interface Design {
  rows: number;
  cols: number;
  /** Column-major `cols × rows`: `z[j * rows + i] = (x_ij - mean_j) / scale_j`. */
  z: Float64Array;
  /** Weighted mean per column (0 when there is no intercept to absorb it). */
  mean: Float64Array;
  /** Weighted standard deviation per column when standardising, else 1. */
  scale: Float64Array;
  /** 1 for a column that carries no information (constant); its coefficient stays 0. */
  skip: Uint8Array;
  /** Training means that replace missing values, when `missing` is "mean". */
  impute: Float64Array | undefined;
  warnings: string[];
}

export interface DesignOptions {
  fitIntercept: boolean;
  standardize: boolean;
  missing: "error" | "mean";
  featureNames?: readonly string[] | undefined;
}

/**
 * Validates the features column by column and builds the standardised design. Means and
 * scales are weighted by `v` (normalised sample weights), as scikit-learn's
 * `StandardScaler.fit(X, sample_weight=w)` computes them. `rowScale`, when given, multiplies
 * every standardised row (the least-squares solver folds sqrt(weight) into the rows).
 */
export function buildDesign(X: Matrix, v: Float64Array, o: DesignOptions, rowScale?: Float64Array): Design {
  const n = X.rows;
  const p = X.cols;
  if (n === 0) throw new ValidationError("X has no rows", { hint: "Fit on at least one row." });
  if (p === 0) throw new ValidationError("X has no feature columns", { hint: "Pass at least one feature." });
  if (o.featureNames !== undefined && o.featureNames.length !== p) {
    throw new ValidationError(`featureNames has ${o.featureNames.length} names but X has ${p} columns`, {
      hint: "Give one name per column, in column order.",
    });
  }
  const z = new Float64Array(n * p);
  const src = X.data;
  // Transpose once so every later pass walks a column contiguously; in blocks of rows so
  // both the reads and the writes stay in cache.
  const B = 64;
  for (let i0 = 0; i0 < n; i0 += B) {
    const i1 = Math.min(i0 + B, n);
    for (let j = 0; j < p; j++) {
      const col = j * n;
      for (let i = i0; i < i1; i++) z[col + i] = src[i * p + j]!;
    }
  }
  const mean = new Float64Array(p);
  const scale = new Float64Array(p).fill(1);
  const skip = new Uint8Array(p);
  const impute = o.missing === "mean" ? new Float64Array(p) : undefined;
  const constant: number[] = [];
  for (let j = 0; j < p; j++) {
    const off = j * n;
    let sw = 0;
    let sx = 0;
    for (let i = 0; i < n; i++) {
      const x = z[off + i]!;
      if (x - x !== 0) {
        if (Number.isNaN(x) && impute) continue;
        const what = Number.isNaN(x) ? "a missing value" : `an infinite value (${x})`;
        throw new ValidationError(`${columnName(j, o.featureNames)} has ${what} at row ${i}`, {
          hint: Number.isNaN(x)
            ? 'Impute or drop missing values first, or pass missing: "mean" to fill them with the training mean.'
            : "Replace infinite values with finite numbers.",
          details: { column: j, row: i, ...(o.featureNames ? { feature: o.featureNames[j] } : {}) },
        });
      }
      sw += v[i]!;
      sx += v[i]! * x;
    }
    if (impute) {
      if (!(sw > 0)) {
        throw new ValidationError(
          `${columnName(j, o.featureNames)} has no observed value in a row with positive weight`,
          {
            hint: "Drop the column: a mean cannot be imputed from nothing.",
          },
        );
      }
      const m = sx / sw;
      impute[j] = m;
      for (let i = 0; i < n; i++) if (Number.isNaN(z[off + i])) z[off + i] = m;
    }
    // Weighted mean over all rows (imputed ones now hold the observed mean).
    let mu = 0;
    for (let i = 0; i < n; i++) mu += v[i]! * z[off + i]!;
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      if (v[i] === 0) continue;
      const x = z[off + i]!;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
      const d = x - mu;
      ss += v[i]! * d * d;
    }
    const sd = Math.sqrt(ss);
    const c = o.fitIntercept ? mu : 0;
    let s = o.standardize ? sd : 1;
    if (lo === hi || !(sd > 0)) {
      // Without an intercept a non-zero constant column is the intercept, so keep it (scaled to ±1).
      if (!o.fitIntercept && lo === hi && lo !== 0) s = o.standardize ? Math.abs(lo) : 1;
      else {
        skip[j] = 1;
        s = 1;
        constant.push(j);
      }
    }
    mean[j] = c;
    scale[j] = s;
    const inv = 1 / s;
    if (skip[j]) z.fill(0, off, off + n);
    else if (rowScale) for (let i = 0; i < n; i++) z[off + i] = (z[off + i]! - c) * inv * rowScale[i]!;
    else for (let i = 0; i < n; i++) z[off + i] = (z[off + i]! - c) * inv;
  }
  const warnings: string[] = [];
  if (constant.length > 0) {
    const names = constant.slice(0, 5).map((j) => columnName(j, o.featureNames));
    warnings.push(
      `${constant.length} constant column(s) carry no information and get coefficient 0: ${names.join(", ")}${
        constant.length > 5 ? ", ..." : ""
      }`,
    );
  }
  return { rows: n, cols: p, z, mean, scale, skip, impute, warnings };
}

/**
 * Coefficients on the original feature scale from standardised ones:
 * `c_j = beta_j / scale_j`, intercept `b - sum_j c_j * mean_j`.
 */
export function unstandardize(d: Design, beta: Float64Array, b: number): { coef: Float64Array; intercept: number } {
  const coef = new Float64Array(d.cols);
  let intercept = b;
  for (let j = 0; j < d.cols; j++) {
    const c = d.skip[j] ? 0 : beta[j]! / d.scale[j]!;
    coef[j] = c;
    intercept -= c * d.mean[j]!;
  }
  return { coef, intercept };
}
