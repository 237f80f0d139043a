import { ValidationError } from "@quintet/core";

/**
 * A dense row-major matrix of float64 features; NaN marks a missing value.
 * This is what learners train on and predictors score.
 */
export interface Matrix {
  data: Float64Array;
  rows: number;
  cols: number;
}

/** Builds a {@link Matrix} from rows of numbers (null/undefined become NaN). */
export function matrixFromRows(rows: ArrayLike<number | null | undefined>[], cols?: number): Matrix {
  const c = cols ?? rows[0]?.length ?? 0;
  const data = new Float64Array(rows.length * c);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.length !== c) {
      throw new ValidationError(`row ${i} has ${r.length} values, expected ${c}`, {
        hint: "Give every row the same number of features, using null for missing values.",
      });
    }
    for (let j = 0; j < c; j++) {
      const v = r[j];
      data[i * c + j] = v === null || v === undefined ? Number.NaN : v;
    }
  }
  return { data, rows: rows.length, cols: c };
}

/** Checks a matrix is well-formed: sizes agree, no infinities. */
export function assertMatrix(m: Matrix, what = "features"): void {
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 0 || m.cols < 0) {
    throw new ValidationError(`${what}: rows and cols must be non-negative integers`);
  }
  if (m.data.length !== m.rows * m.cols) {
    throw new ValidationError(`${what}: data has ${m.data.length} values, expected rows*cols = ${m.rows * m.cols}`);
  }
  // The built-in search runs at full speed from the first call; a loop here runs cold in
  // every process (training checks its matrix once).
  const pos = m.data.indexOf(Number.POSITIVE_INFINITY);
  const neg = m.data.indexOf(Number.NEGATIVE_INFINITY);
  const i = pos < 0 ? neg : neg < 0 ? pos : Math.min(pos, neg);
  if (i >= 0) {
    throw new ValidationError(`${what}: row ${Math.floor(i / m.cols)}, column ${i % m.cols} is infinite`, {
      hint: "Replace infinite values with a finite number or NaN (missing).",
    });
  }
}
