import { ValidationError } from "@quintet/core";
import { z } from "zod";
import type { Frame } from "../data/frame.js";
import type { Schema } from "../data/schema.js";
import type { TargetInfo } from "../data/target.js";
import { Pipeline, type PipelineJSON, type TransformOptions } from "../features/pipeline.js";
import { loadXgboostModel } from "../interop/xgboost.js";
import { saveXgboostJson } from "../interop/xgboost-export.js";
import type { Matrix } from "../models/ensemble/matrix.js";
import type { TreeEnsemble } from "../models/ensemble/types.js";
import { compileEnsemble, type Predictor } from "../models/predict/compile.js";

/** The serialised form: plain JSON, so it can be inspected, diffed and loaded anywhere. */
export interface BundleJSON {
  format: "quintet.bundle";
  version: 1;
  target: TargetInfo;
  /** The fitted feature pipeline, with the input schema inside. */
  pipeline: PipelineJSON;
  /**
   * The trees as XGBoost JSON text, kept as a string so its number formatting survives:
   * Python's `xgb.Booster().load_model(bytearray(bundle["model"], "utf8"))` loads it as is.
   */
  model: string;
  /** Threshold applied to P(positive) for binary labels (default 0.5). */
  threshold?: number;
  createdAt: number;
}

/** One prediction per input row. */
export interface Predictions {
  /** Binary: P(positive class); multiclass: row-major probabilities; regression: the value. */
  values: Float64Array;
  /** Classification: the predicted label per row (by threshold for binary, argmax for multiclass). */
  labels?: string[];
  /** Classification: the class names in column order of `values`. */
  classes?: string[];
  /** Raw margins before the link, row-major `rows × groups` (what SHAP values add up to). */
  margins: Float64Array;
  rows: number;
}

const bundleSchema = z.object({
  format: z.literal("quintet.bundle"),
  version: z.literal(1),
  target: z.object({
    name: z.string(),
    task: z.enum(["binary", "multiclass", "regression"]),
    classes: z.array(z.string()).optional(),
  }),
  pipeline: z.record(z.string(), z.unknown()),
  model: z.string().min(2),
  threshold: z.number().min(0).max(1).optional(),
  createdAt: z.number(),
});

/**
 * A model with everything serving needs: the fitted feature pipeline (which carries the
 * input schema), the trees, the target's meaning and the decision threshold. Predicting
 * through a bundle applies exactly the training-time transform and checks every row
 * against the schema first.
 *
 * @example
 * const bundle = ModelBundle.create(pipeline, model);
 * await registry.register({ name: "churn", bundle: bundle.toBytes(), flavor: ModelBundle.flavor });
 * const again = ModelBundle.fromBytes(bytes);
 * const { values, labels } = await again.predict([{ tenure: 3, plan: "basic" }]);
 */
export class ModelBundle {
  static readonly flavor = "quintet.bundle";
  private compiled: Predictor | undefined;

  private constructor(
    readonly pipeline: Pipeline,
    readonly model: TreeEnsemble,
    readonly target: TargetInfo,
    readonly threshold: number,
    readonly createdAt: number,
  ) {}

  static create(pipeline: Pipeline, model: TreeEnsemble, options: { threshold?: number } = {}): ModelBundle {
    const target = pipeline.target;
    if (!target)
      throw new ValidationError("the pipeline was fitted without a target", {
        hint: "Fit the pipeline with the target column so the bundle knows what it predicts.",
      });
    if (model.numFeatures !== pipeline.featureNames.length)
      throw new ValidationError(
        `the model takes ${model.numFeatures} features but the pipeline makes ${pipeline.featureNames.length}`,
        { hint: "Train the model on this pipeline's output." },
      );
    return new ModelBundle(pipeline, model, target, options.threshold ?? 0.5, Date.now());
  }

  /** The input contract rows must meet. */
  get schema(): Schema {
    return this.pipeline.schema;
  }

  /** Feature names after the pipeline, in model column order. */
  get featureNames(): string[] {
    return this.pipeline.featureNames;
  }

  private predictor(): Predictor {
    this.compiled ??= compileEnsemble(this.model);
    return this.compiled;
  }

  /** Transforms raw rows (a Frame or plain records) and predicts. Schema errors name row and column. */
  async predict(
    input: Frame | readonly Record<string, unknown>[],
    options: TransformOptions = {},
  ): Promise<Predictions> {
    const X = await this.pipeline.transform(input, options);
    const p = this.predictor();
    const margins = p.predictMargin(X);
    const values = p.predict(X);
    const out: Predictions = { values, margins, rows: X.rows };
    const classes = this.target.classes;
    if (this.target.task === "binary" && classes) {
      out.classes = classes;
      out.labels = Array.from(values, (v) => classes[v >= this.threshold ? 1 : 0]!);
    } else if (this.target.task === "multiclass" && classes) {
      const k = p.numGroups;
      out.classes = classes;
      out.labels = [];
      for (let r = 0; r < X.rows; r++) {
        let best = 0;
        for (let j = 1; j < k; j++) if (values[r * k + j]! > values[r * k + best]!) best = j;
        out.labels.push(classes[best]!);
      }
    }
    return out;
  }

  /** Predictions (after the link) for features already transformed by this bundle's pipeline. */
  predictMatrix(X: Matrix): Float64Array {
    return this.predictor().predict(X);
  }

  toJSON(): BundleJSON {
    return {
      format: "quintet.bundle",
      version: 1,
      target: this.target,
      pipeline: this.pipeline.toJSON(),
      model: saveXgboostJson(this.model),
      threshold: this.threshold,
      createdAt: this.createdAt,
    };
  }

  toBytes(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.toJSON()));
  }

  /** Reads a bundle back, validating every part; a damaged or foreign file is a clear error. */
  static fromJSON(json: unknown): ModelBundle {
    const r = bundleSchema.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new ValidationError(`not a Quintet model bundle: ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
        hint: "Load a file written by ModelBundle.toBytes() or `quintet train`.",
      });
    }
    const b = r.data;
    const pipeline = Pipeline.fromJSON(b.pipeline);
    const model = loadXgboostModel(b.model);
    if (model.numFeatures !== pipeline.featureNames.length)
      throw new ValidationError("the bundle's model and pipeline disagree on the number of features", {
        hint: "The bundle is damaged; register the model again.",
      });
    return new ModelBundle(pipeline, model, b.target, b.threshold ?? 0.5, b.createdAt);
  }

  static fromBytes(bytes: Uint8Array | string): ModelBundle {
    const text = typeof bytes === "string" ? bytes : new TextDecoder().decode(bytes);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ValidationError("not a Quintet model bundle: the content is not JSON", {
        hint: "Load a file written by ModelBundle.toBytes() or `quintet train`.",
      });
    }
    return ModelBundle.fromJSON(json);
  }
}
