import { ValidationError } from "@quintet/core";
import { z } from "zod";
import { METRIC_NAMES, type MetricName } from "../../metrics/registry.js";
import { OBJECTIVE_NAMES, type ObjectiveName } from "./objectives.js";

/**
 * Hyperparameters of the histogram GBDT, named after XGBoost's where one exists. Every
 * field is optional except `objective`; defaults are listed per field.
 */
export const gbdtParamsSchema = z
  .object({
    /** The loss: binary, multiclass, squared, absolute, huber (pseudo-Huber), poisson. */
    objective: z.enum(OBJECTIVE_NAMES as [ObjectiveName, ...ObjectiveName[]]),
    /** Classes for multiclass; default: the largest label + 1. */
    numClasses: z.number().int().min(2).max(10_000).optional(),
    /** Boosting rounds (trees per output group). Default 100. */
    numRounds: z.number().int().min(1).max(1_000_000).default(100),
    /** Shrinkage of every tree (XGBoost's eta). Default 0.1. */
    learningRate: z.number().gt(0).max(1).default(0.1),
    /** "depthwise" (XGBoost) or "lossguide" (best leaf first, LightGBM). Default depthwise. */
    growPolicy: z.enum(["depthwise", "lossguide"]).default("depthwise"),
    /** Maximum depth, 0 = unlimited. Default 6 for depthwise, 0 for lossguide. */
    maxDepth: z.number().int().min(0).max(64).optional(),
    /** Maximum leaves per tree, 0 = unlimited. Default 0 for depthwise, 31 for lossguide. */
    numLeaves: z
      .number()
      .int()
      .min(0)
      .max(1 << 20)
      .optional(),
    /** Minimum hessian sum (rows, for squared loss) in each child. Default 1. */
    minChildWeight: z.number().min(0).default(1),
    /** Minimum loss reduction to split (XGBoost's gamma). Default 0. */
    minSplitGain: z.number().min(0).default(0),
    /** L2 penalty on leaf weights (XGBoost's lambda). Default 1. */
    lambda: z.number().min(0).default(1),
    /** L1 penalty on leaf weights (XGBoost's alpha). Default 0. */
    alpha: z.number().min(0).default(0),
    /** Cap on each leaf's step before shrinkage, 0 = none. Default 0. */
    maxDeltaStep: z.number().min(0).default(0),
    /** Fraction of rows sampled (without replacement) per round. Default 1. */
    subsample: z.number().gt(0).max(1).default(1),
    /** Fraction of features sampled per tree. Default 1. */
    colsampleByTree: z.number().gt(0).max(1).default(1),
    /** Fraction of the tree's features sampled per node. Default 1. */
    colsampleByNode: z.number().gt(0).max(1).default(1),
    /** Value bins per numeric feature, 2..255 (missing values get a bin of their own). Default 255. */
    maxBins: z.number().int().min(2).max(255).default(255),
    /** Rows sampled to place bin boundaries. Default 200,000. */
    binSampleRows: z.number().int().min(100).default(200_000),
    /** Column indices holding category codes (non-negative integers; negative = missing). */
    categoricalFeatures: z.array(z.number().int().min(0)).default([]),
    /** Categorical splits with at most this many categories in the node are one-vs-rest. Default 4. */
    maxCatToOnehot: z.number().int().min(0).max(255).default(4),
    /** Most categories on one side of a sorted categorical split (LightGBM). Default 32. */
    maxCatThreshold: z.number().int().min(1).max(255).default(32),
    /** Hessian added when ordering categories by gradient ratio (LightGBM cat_smooth). Default 10. */
    catSmooth: z.number().min(0).default(10),
    /** Extra L2 penalty when searching category sets (not one-hot), as LightGBM cat_l2. Default 10. */
    catL2: z.number().min(0).default(10),
    /** Weight multiplier of positive rows, binary only (e.g. negatives / positives). Default 1. */
    scalePosWeight: z.number().gt(0).default(1),
    /** Pseudo-Huber slope. Default 1. */
    huberSlope: z.number().gt(0).default(1),
    /** Damping of Poisson steps (XGBoost's max_delta_step for count:poisson). Default 0.7. */
    poissonMaxDeltaStep: z.number().min(0).default(0.7),
    /** Starting prediction in label space (probability, mean); default: fitted to the labels. */
    baseScore: z.number().finite().optional(),
    /** Seed of every random draw (bin sample, row and feature sampling). Default 0. */
    seed: z.number().int().default(0),
    /**
     * Threads for histogram building: a number (at most), or "auto" (all cores, up to 8,
     * once the data has at least 500,000 cells). Training stays on one thread when
     * rows × features × trees is below 2e8, where starting workers costs more than they
     * save. Results are identical for any thread count.
     */
    threads: z.union([z.literal("auto"), z.number().int().min(1).max(64)]).default("auto"),
    /**
     * Build histograms from gradients quantized to integers (stochastic rounding, as
     * LightGBM's use_quantized_grad) packed one double per row: histogram building does
     * half the work. Split choice sees the quantized sums; leaf values use exact ones.
     * Default false.
     */
    quantizedGradients: z.boolean().default(false),
    /** Stop when the validation metric has not improved for this many rounds (needs `validation`). */
    earlyStoppingRounds: z.number().int().min(1).optional(),
    /** Metric for early stopping and progress; default per objective (logloss, mlogloss, rmse, mae, poisson-nloglik). */
    evalMetric: z.enum(METRIC_NAMES as [MetricName, ...MetricName[]]).optional(),
    /** Compute the training metric each round for `onIteration` (costs a pass; AUC sorts). Default true when onIteration is set. */
    evalTrain: z.boolean().optional(),
    featureNames: z.array(z.string()).optional(),
  })
  .strict();

/** GBDT hyperparameters as given (see {@link gbdtParamsSchema} for each field). */
export type GbdtParams = z.input<typeof gbdtParamsSchema>;

/** Hyperparameters after defaults, as recorded in the model. */
export type ResolvedGbdtParams = z.output<typeof gbdtParamsSchema> & { maxDepth: number; numLeaves: number };

/** One round's progress. */
export interface GbdtProgress {
  /** Round just finished, from 0. */
  iteration: number;
  numRounds: number;
  metric: MetricName;
  /** Training metric (undefined when `evalTrain` is false). */
  train: number | undefined;
  /** Validation metric (undefined without a validation set). */
  valid: number | undefined;
  /** Best validation round so far. */
  bestIteration: number | undefined;
}

/** Everything `trainGbdt` accepts besides X and y. */
export interface GbdtOptions extends GbdtParams {
  /** Per-row weights, non-negative and finite. */
  sampleWeight?: ArrayLike<number>;
  /** Held-out data scored every round, for early stopping and progress. */
  validation?: {
    X: { data: Float64Array; rows: number; cols: number };
    y: ArrayLike<number>;
    sampleWeight?: ArrayLike<number>;
  };
  /** Called after every round; may be async (training waits for it). */
  onIteration?: (progress: GbdtProgress) => void | Promise<void>;
  /** Aborting stops training with a CancelledError. */
  signal?: AbortSignal;
}

const FIT_KEYS = new Set(["sampleWeight", "validation", "onIteration", "signal"]);

function issuePath(path: PropertyKey[]): string {
  return path.map(String).join(".") || "(root)";
}

/** Turns a zod failure into a ValidationError naming the option, the problem and the fix. */
export function optionsError(error: z.ZodError, what: string): ValidationError {
  const issue = error.issues[0]!;
  const path = issuePath(issue.path);
  let hint = `Check the ${what} options.`;
  if (issue.code === "unrecognized_keys") {
    hint = `Remove ${issue.keys.map((k) => `"${k}"`).join(", ")}; see the ${what} options in docs/ml.md.`;
  } else if (issue.code === "invalid_value" && "values" in issue) {
    hint = `Use one of: ${(issue.values as unknown[]).map(String).join(", ")}.`;
  }
  return new ValidationError(`${what} option "${path}": ${issue.message}`, {
    hint,
    details: { issues: error.issues.map((i) => ({ path: issuePath(i.path), message: i.message })) },
  });
}

/** Validates and fills in GBDT hyperparameters (fit inputs are ignored here). */
export function parseGbdtParams(options: GbdtOptions, check: { fitInputs?: boolean } = {}): ResolvedGbdtParams {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("GBDT options must be an object", { hint: 'Pass e.g. { objective: "binary" }.' });
  }
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!FIT_KEYS.has(k) && v !== undefined) params[k] = v;
  const r = gbdtParamsSchema.safeParse(params);
  if (!r.success) throw optionsError(r.error, "GBDT");
  const p = r.data;
  const lossguide = p.growPolicy === "lossguide";
  const resolved: ResolvedGbdtParams = {
    ...p,
    maxDepth: p.maxDepth ?? (lossguide ? 0 : 6),
    numLeaves: p.numLeaves ?? (lossguide ? 31 : 0),
  };
  if (resolved.maxDepth === 0 && resolved.numLeaves === 0) {
    throw new ValidationError("trees would grow without limit: maxDepth and numLeaves are both 0", {
      hint: "Set maxDepth (e.g. 6) or numLeaves (e.g. 31).",
    });
  }
  if (resolved.numLeaves === 1) {
    throw new ValidationError("numLeaves must be 0 (unlimited) or at least 2");
  }
  if (p.numClasses !== undefined && p.objective !== "multiclass") {
    throw new ValidationError(`numClasses is only for objective "multiclass", not "${p.objective}"`, {
      hint: 'Drop numClasses, or use objective: "multiclass".',
    });
  }
  if (p.scalePosWeight !== 1 && p.objective !== "binary") {
    throw new ValidationError(`scalePosWeight is only for objective "binary", not "${p.objective}"`, {
      hint: "Use sampleWeight to weight rows for other objectives.",
    });
  }
  // Estimators validate their params at construction, before fit brings the validation set.
  if (p.earlyStoppingRounds !== undefined && options.validation === undefined && check.fitInputs !== false) {
    throw new ValidationError("earlyStoppingRounds needs a validation set", {
      hint: "Pass validation: { X, y } with held-out rows, or drop earlyStoppingRounds.",
    });
  }
  if (p.evalMetric !== undefined) checkMetric(p.objective, p.evalMetric);
  if (options.onIteration !== undefined && typeof options.onIteration !== "function") {
    throw new ValidationError("onIteration must be a function");
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new ValidationError("signal must be an AbortSignal");
  }
  return resolved;
}

const BINARY_METRICS = new Set<MetricName>(["auc", "aucpr", "logloss", "error"]);

/** Rejects metrics that cannot score this objective's predictions. */
export function checkMetric(objective: ObjectiveName, metric: MetricName): void {
  const ok =
    objective === "multiclass"
      ? metric === "mlogloss"
      : objective === "binary"
        ? metric !== "mlogloss"
        : !BINARY_METRICS.has(metric) && metric !== "mlogloss";
  if (!ok) {
    throw new ValidationError(`evalMetric "${metric}" does not apply to objective "${objective}"`, {
      hint:
        objective === "multiclass"
          ? 'Use evalMetric: "mlogloss".'
          : objective === "binary"
            ? "Use auc, aucpr, logloss, error (or rmse/mae on probabilities)."
            : "Use rmse, mae, r2 or poisson-nloglik.",
    });
  }
}
