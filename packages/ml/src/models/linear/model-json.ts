import { IntegrityError, QuintetError } from "@quintet/core";
import { z } from "zod";

/** How a fit ended. */
export interface LinearFitInfo {
  /** True when the stopping rule was met within `maxIter`. */
  converged: boolean;
  /** Coordinate-descent passes (linear) or proximal Newton steps (logistic). */
  iterations: number;
  /**
   * The final stopping measure: relative duality gap (linear, or the largest residual/column
   * cosine for unpenalised least squares), largest optimality violation (logistic).
   */
  criterion: number;
  /** Objective at the solution, on standardised features: weighted mean loss + penalty. */
  objective: number;
  /** Everything worth a second look: no convergence, constant columns. */
  warnings: string[];
}

/** The hyperparameters a model was fitted with. */
export interface LinearParams {
  alpha: number;
  l1Ratio: number;
  fitIntercept: boolean;
  standardize: boolean;
  tol: number;
  maxIter: number;
  missing: "error" | "mean";
}

export const MODEL_FORMAT = "quintet.linear-model";
export const MODEL_VERSION = 1;

const finite = z.number();
const common = {
  format: z.literal(MODEL_FORMAT),
  version: z.literal(MODEL_VERSION),
  numFeatures: z.number().int().positive(),
  featureNames: z.array(z.string()).optional(),
  featureMeans: z.array(finite),
  featureScales: z.array(z.number().positive()),
  imputeValues: z.array(finite).optional(),
  params: z.strictObject({
    alpha: z.number().nonnegative(),
    l1Ratio: z.number().min(0).max(1),
    fitIntercept: z.boolean(),
    standardize: z.boolean(),
    tol: z.number().positive(),
    maxIter: z.number().int().positive(),
    missing: z.enum(["error", "mean"]),
  }),
  fitInfo: z.strictObject({
    converged: z.boolean(),
    iterations: z.number().int().nonnegative(),
    criterion: z.number().nonnegative().or(z.null()),
    objective: finite,
    warnings: z.array(z.string()),
  }),
};

const linearJson = z.strictObject({
  ...common,
  kind: z.literal("linear"),
  coefficients: z.array(finite),
  intercept: finite,
});

const logisticJson = z.strictObject({
  ...common,
  kind: z.literal("logistic"),
  classes: z.array(finite).min(2),
  coefficients: z.array(z.array(finite)).min(1),
  intercept: z.array(finite).min(1),
});

/** Serialised {@link LinearModel}: plain JSON, safe to store and reload. */
export type LinearModelJSON = z.infer<typeof linearJson>;
/** Serialised {@link LogisticModel}. */
export type LogisticModelJSON = z.infer<typeof logisticJson>;

/** Parses a serialised model, checking that every array has the length the model needs. */
export function parseModelJson<K extends "linear" | "logistic">(
  json: unknown,
  kind: K,
): K extends "linear" ? LinearModelJSON : LogisticModelJSON {
  const obj = typeof json === "string" ? parseText(json) : json;
  if (obj && typeof obj === "object") {
    const o = obj as Record<string, unknown>;
    if (o.format !== MODEL_FORMAT) {
      throw new IntegrityError(`not a Quintet linear model: format is ${JSON.stringify(o.format)}`, {
        hint: `Expected format "${MODEL_FORMAT}", as written by toJSON().`,
      });
    }
    if (o.version !== MODEL_VERSION) {
      throw new QuintetError("UNSUPPORTED", `linear model format version ${String(o.version)} is not supported`, {
        hint: `This build reads version ${MODEL_VERSION}; upgrade @quintet/ml to read newer models.`,
      });
    }
    if (o.kind !== kind) {
      throw new IntegrityError(`expected a ${kind} model, found kind ${JSON.stringify(o.kind)}`, {
        hint: o.kind === "linear" ? "Load it with LinearModel.fromJSON." : "Load it with LogisticModel.fromJSON.",
      });
    }
  }
  const r = (kind === "linear" ? linearJson : logisticJson).safeParse(obj);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new IntegrityError(`corrupt ${kind} model: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`, {
      hint: "The model JSON was edited or truncated; export it again with toJSON().",
      details: { issues: r.error.issues },
    });
  }
  const m = r.data as LinearModelJSON | LogisticModelJSON;
  const p = m.numFeatures;
  const need = (what: string, got: number | undefined, want: number) => {
    if (got !== undefined && got !== want) {
      throw new IntegrityError(`corrupt ${kind} model: ${what} has ${got} values, expected ${want}`, {
        hint: "The model JSON was edited or truncated; export it again with toJSON().",
      });
    }
  };
  need("featureNames", m.featureNames?.length, p);
  need("featureMeans", m.featureMeans.length, p);
  need("featureScales", m.featureScales.length, p);
  need("imputeValues", m.imputeValues?.length, p);
  if (m.params.missing === "mean" && m.imputeValues === undefined) {
    throw new IntegrityError(`corrupt ${kind} model: missing is "mean" but imputeValues is absent`);
  }
  if (m.kind === "linear") need("coefficients", m.coefficients.length, p);
  else {
    const K = m.classes.length;
    const outputs = K === 2 ? 1 : K;
    need("coefficients (rows)", m.coefficients.length, outputs);
    need("intercept", m.intercept.length, outputs);
    for (const [k, row] of m.coefficients.entries()) need(`coefficients[${k}]`, row.length, p);
    for (let k = 1; k < K; k++) {
      if (!(m.classes[k]! > m.classes[k - 1]!)) {
        throw new IntegrityError(`corrupt ${kind} model: classes must be distinct and ascending`);
      }
    }
  }
  return m as never;
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new IntegrityError(`model is not valid JSON: ${(e as Error).message}`, {
      hint: "Pass the object returned by toJSON() or its JSON.stringify text.",
      cause: e,
    });
  }
}
