import { availableParallelism } from "node:os";
import { ValidationError } from "@quintet/core";
import { assertMatrix, type Matrix } from "../ensemble/matrix.js";

/** Checks the training matrix: well-formed, not empty. */
export function checkTrainingMatrix(X: Matrix, what = "X"): void {
  if (typeof X !== "object" || X === null || !(X.data instanceof Float64Array)) {
    throw new ValidationError(`${what} must be a Matrix { data: Float64Array, rows, cols }`, {
      hint: "Build one with matrixFromRows(rows) or pass { data, rows, cols }.",
    });
  }
  try {
    assertMatrix(X, what);
  } catch (err) {
    if (err instanceof ValidationError && !err.hint) {
      throw new ValidationError(err.message, {
        hint: "data must hold rows*cols finite numbers or NaN (missing), row-major.",
        cause: err,
      });
    }
    throw err;
  }
  if (X.rows === 0) throw new ValidationError(`${what} has no rows`, { hint: "Train on at least one row." });
  if (X.cols === 0) throw new ValidationError(`${what} has no columns`, { hint: "Train on at least one feature." });
}

/** Checks labels are an array-like of the right length (values are checked by the objective). */
export function checkLabelArray(y: ArrayLike<number>, rows: number, what = "y"): void {
  if (y === null || typeof y !== "object" || typeof y.length !== "number") {
    throw new ValidationError(`${what} must be an array or typed array of numbers`);
  }
  if (y.length !== rows) {
    throw new ValidationError(`${what} has ${y.length} labels but X has ${rows} rows`, {
      hint: "Pass one label per row.",
    });
  }
}

/** Row weights as a Float64Array (all 1 when absent), checked non-negative, finite, not all zero. */
export function rowWeights(w: ArrayLike<number> | undefined, rows: number, what = "sampleWeight"): Float64Array {
  const out = new Float64Array(rows);
  if (w === undefined) return out.fill(1);
  if (w === null || typeof w !== "object" || typeof w.length !== "number") {
    throw new ValidationError(`${what} must be an array or typed array of numbers`);
  }
  if (w.length !== rows) {
    throw new ValidationError(`${what} has ${w.length} values but there are ${rows} rows`, {
      hint: "Pass one weight per row.",
    });
  }
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const v = w[i]!;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new ValidationError(`${what}[${i}] = ${v} is not a finite non-negative number`, {
        hint: "Weights must be >= 0 and finite.",
        details: { row: i, value: v },
      });
    }
    out[i] = v;
    total += v;
  }
  if (total <= 0)
    throw new ValidationError(`${what} is zero for every row`, { hint: "Give some rows a positive weight." });
  return out;
}

/** Cells (rows × columns) from which "auto" uses worker threads. */
const AUTO_THREAD_CELLS = 500_000;

/** Resolves the `threads` option for data of this shape. */
export function resolveThreads(threads: number | "auto", rows: number, cols: number): number {
  if (threads !== "auto") return Math.max(1, Math.min(threads, cols));
  if (rows * cols < AUTO_THREAD_CELLS) return 1;
  return Math.max(1, Math.min(8, availableParallelism(), cols));
}
