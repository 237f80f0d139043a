import { ValidationError } from "@quintet/core";
import { columnName, type MatrixInput, toMatrix } from "./design.js";

/** What scoring needs from a fitted linear model. */
export interface LinearScorer {
  numFeatures: number;
  featureNames: readonly string[] | undefined;
  /** Row-major `outputs × numFeatures`. */
  coef: Float64Array;
  /** One per output. */
  intercept: Float64Array;
  /** Training means for missing values, or undefined to reject them. */
  impute: Float64Array | undefined;
}

/** Margins `intercept + X coef'` as row-major `rows × outputs`, checking every value it reads. */
export function margins(s: LinearScorer, X: MatrixInput): Float64Array {
  const m = toMatrix(X);
  const p = s.numFeatures;
  if (m.cols !== p && !(m.rows === 0 && m.cols === 0)) {
    throw new ValidationError(`X has ${m.cols} columns but the model was fitted on ${p} features`, {
      hint: "Pass the same feature columns, in the same order, as at training time.",
    });
  }
  const K = s.intercept.length;
  const out = new Float64Array(m.rows * K);
  for (let i = 0; i < m.rows; i++) scoreRow(s, m.data, i * p, i, out, i * K);
  return out;
}

/** Margins of one row into `out` at `outOff`. */
export function scoreRow(
  s: LinearScorer,
  data: ArrayLike<number | null | undefined>,
  off: number,
  row: number,
  out: Float64Array,
  outOff: number,
): void {
  const p = s.numFeatures;
  const K = s.intercept.length;
  for (let k = 0; k < K; k++) out[outOff + k] = s.intercept[k]!;
  for (let j = 0; j < p; j++) {
    let x = data[off + j] as number;
    if (typeof x !== "number" || x - x !== 0) {
      if ((x === null || x === undefined || Number.isNaN(x)) && s.impute) x = s.impute[j]!;
      else badValue(s, x, j, row);
    }
    for (let k = 0; k < K; k++) out[outOff + k]! += s.coef[k * p + j]! * x;
  }
}

function badValue(s: LinearScorer, x: unknown, j: number, row: number): never {
  const missing = x === null || x === undefined || Number.isNaN(x);
  throw new ValidationError(`${columnName(j, s.featureNames)} is ${missing ? "missing" : String(x)} at row ${row}`, {
    hint: missing
      ? 'The model was fitted with missing: "error"; impute the value first, or refit with missing: "mean".'
      : "Features must be finite numbers.",
    details: { column: j, row },
  });
}

/** Checks a single row's length. */
export function checkRow(s: LinearScorer, row: ArrayLike<number | null | undefined>): void {
  if (row === null || row === undefined || typeof row.length !== "number" || row.length !== s.numFeatures) {
    throw new ValidationError(
      `row has ${row?.length ?? "no"} values but the model was fitted on ${s.numFeatures} features`,
      { hint: "Pass the same feature columns, in the same order, as at training time." },
    );
  }
}
