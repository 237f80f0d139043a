import { ValidationError } from "@quintet/core";
import { z } from "zod";

const arrayLike = (v: unknown): boolean =>
  Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView) && typeof (v as any).length === "number");

/** Options both linear learners share. */
const common = {
  /**
   * Overall penalty strength on the standardised coefficients; 0 disables the penalty.
   * The data term is the weighted mean loss, so `alpha` means the same thing at any row count.
   */
  alpha: z.number().nonnegative(),
  /** Mix of the penalty: 1 is the lasso (L1), 0 is ridge (L2), in between is the elastic net. */
  l1Ratio: z.number().min(0).max(1),
  fitIntercept: z.boolean().default(true),
  /**
   * Fit on features centred and scaled to unit (weighted) standard deviation, so the penalty
   * treats every feature alike. Coefficients are always reported on the original scale.
   */
  standardize: z.boolean().default(true),
  /** One weight per row (>= 0); rows weigh 1 when omitted. */
  sampleWeight: z.custom<ArrayLike<number>>(arrayLike, "expected an array of numbers, one per row").optional(),
  /** `"error"` rejects missing (NaN/null) feature values; `"mean"` replaces them with the training mean. */
  missing: z.enum(["error", "mean"]).default("error"),
  /** Names of the features, used in error messages and kept in the model. */
  featureNames: z.array(z.string().min(1)).optional(),
  /**
   * Coordinate descent on the (weighted) Gram matrix of the features instead of the rows:
   * one pass over the data, then every update costs O(features). `"auto"` uses it when
   * there are at most 256 features and no more features than rows.
   */
  precompute: z.union([z.literal("auto"), z.boolean()]).default("auto"),
  /** Receives warnings (no convergence, constant columns); defaults to `process.emitWarning`. */
  onWarning: z.custom<(message: string) => void>((v) => typeof v === "function", "expected a function").optional(),
};

export const linearOptionsSchema = z.strictObject({
  ...common,
  alpha: common.alpha.default(0),
  l1Ratio: common.l1Ratio.default(0.5),
  /** Stop when the duality gap is below `tol` times the weighted sum of squares of y (scikit-learn's rule). */
  tol: z.number().positive().default(1e-4),
  /** Most passes of coordinate descent over the features. */
  maxIter: z.number().int().positive().default(1000),
});

export const logisticOptionsSchema = z.strictObject({
  ...common,
  alpha: common.alpha.default(1e-4),
  l1Ratio: common.l1Ratio.default(0),
  /** Stop when no coefficient violates the optimality conditions by more than `tol`. */
  tol: z.number().positive().default(1e-4),
  /** Most proximal Newton steps (each solves a weighted lasso-type subproblem by coordinate descent). */
  maxIter: z.number().int().positive().default(100),
});

/** Options of {@link fitLinear}. */
export type LinearOptions = z.input<typeof linearOptionsSchema>;
/** Options of {@link fitLogistic}. */
export type LogisticOptions = z.input<typeof logisticOptionsSchema>;
export type ParsedLinearOptions = z.output<typeof linearOptionsSchema>;
export type ParsedLogisticOptions = z.output<typeof logisticOptionsSchema>;

/** Whether to solve on the Gram matrix, resolving `"auto"` by the problem's shape. */
export function useGram(precompute: "auto" | boolean, rows: number, cols: number): boolean {
  return precompute === "auto" ? cols <= 256 && cols <= rows : precompute;
}

/** Parses options with a schema, turning the first problem into a {@link ValidationError} that names the option. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue?.path.join(".") || "(root)";
  throw new ValidationError(`invalid ${what} option ${path}: ${issue?.message}`, {
    hint: "alpha >= 0, l1Ratio in [0, 1], tol > 0, maxIter a positive integer, missing 'error' or 'mean'.",
    details: { issues: r.error.issues },
  });
}
