import { ValidationError } from "@quintet/core";
import type { Matrix } from "../ensemble/matrix.js";
import { compileEnsemble, type Predictor } from "../predict/compile.js";
import { featureImportance, type ImportanceType } from "./importance.js";
import { type GbdtOptions, type GbdtParams, parseGbdtParams } from "./options.js";
import { type GbdtModel, trainGbdt } from "./train.js";

/** Data-side inputs of `fit`: weights, a validation set, progress and cancellation. */
export type GbdtFitOptions = Pick<GbdtOptions, "sampleWeight" | "validation" | "onIteration" | "signal">;

/** Shared by the estimators: holds the model and its compiled predictor. */
abstract class GbdtEstimator {
  protected trained: GbdtModel | undefined;
  private predictor: Predictor | undefined;

  /** The trained model (a TreeEnsemble); throws before `fit`. */
  get model(): GbdtModel {
    if (!this.trained) {
      throw new ValidationError("the model is not trained yet", { hint: "Call await estimator.fit(X, y) first." });
    }
    return this.trained;
  }

  protected setModel(model: GbdtModel): void {
    this.trained = model;
    this.predictor = undefined;
  }

  protected compiled(): Predictor {
    this.predictor ??= compileEnsemble(this.model);
    return this.predictor;
  }

  /** Per-feature importance (see {@link featureImportance}). */
  featureImportance(type: ImportanceType = "gain", options: { normalize?: boolean } = {}): Float64Array {
    return featureImportance(this.model, type, options);
  }
}

/**
 * A gradient-boosted classifier: binary when the labels are 0/1, softmax multiclass when
 * they are 0..K-1 with K > 2 (or `numClasses` says so).
 *
 * @example
 * const clf = await new GbdtClassifier({ numRounds: 200, categoricalFeatures: [3] }).fit(X, y);
 * const p = clf.predictProba(Xtest); // P(y = 1) per row
 */
export class GbdtClassifier extends GbdtEstimator {
  readonly params: Omit<GbdtParams, "objective">;

  constructor(params: Omit<GbdtParams, "objective"> = {}) {
    super();
    // Validate now so a bad option fails where it is written, not at fit time.
    parseGbdtParams(
      { ...params, objective: params.numClasses !== undefined ? "multiclass" : "binary" },
      { fitInputs: false },
    );
    this.params = params;
  }

  /** Wraps a trained classification model (e.g. one loaded from storage). */
  static fromModel(model: GbdtModel): GbdtClassifier {
    if (model.link !== "sigmoid" && model.link !== "softmax") {
      throw new ValidationError(`model link "${model.link}" is not a classifier's (sigmoid or softmax)`);
    }
    const c = new GbdtClassifier();
    c.setModel(model);
    return c;
  }

  async fit(X: Matrix, y: ArrayLike<number>, options: GbdtFitOptions = {}): Promise<this> {
    let max = 0;
    for (let i = 0; i < y.length; i++) if (y[i]! > max) max = y[i]!;
    const multi = this.params.numClasses !== undefined || max > 1;
    this.setModel(await trainGbdt(X, y, { ...this.params, ...options, objective: multi ? "multiclass" : "binary" }));
    return this;
  }

  get numClasses(): number {
    return this.model.numGroups === 1 ? 2 : this.model.numGroups;
  }

  /** Binary: P(class 1) per row. Multiclass: row-major `rows × numClasses` probabilities. */
  predictProba(X: Matrix): Float64Array {
    return this.compiled().predict(X);
  }

  /** The most probable class per row (binary: P(class 1) > 0.5). */
  predict(X: Matrix): Float64Array {
    const p = this.predictProba(X);
    const k = this.model.numGroups;
    const out = new Float64Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      if (k === 1) {
        out[r] = p[r]! > 0.5 ? 1 : 0;
        continue;
      }
      let best = 0;
      for (let j = 1; j < k; j++) if (p[r * k + j]! > p[r * k + best]!) best = j;
      out[r] = best;
    }
    return out;
  }
}

/** Regression objectives. */
export type RegressionObjective = "squared" | "absolute" | "huber" | "poisson";

/**
 * A gradient-boosted regressor: squared error by default, or absolute, pseudo-Huber or
 * Poisson (which predicts means through a log link).
 *
 * @example
 * const reg = await new GbdtRegressor({ objective: "huber", numRounds: 300 }).fit(X, y);
 * const yhat = reg.predict(Xtest);
 */
export class GbdtRegressor extends GbdtEstimator {
  readonly params: Omit<GbdtParams, "objective" | "numClasses"> & { objective: RegressionObjective };

  constructor(params: Omit<GbdtParams, "objective" | "numClasses"> & { objective?: RegressionObjective } = {}) {
    super();
    const objective = params.objective ?? "squared";
    if (!["squared", "absolute", "huber", "poisson"].includes(objective)) {
      throw new ValidationError(`GbdtRegressor objective "${objective}" is not a regression objective`, {
        hint: "Use squared, absolute, huber or poisson; GbdtClassifier handles classification.",
      });
    }
    this.params = { ...params, objective };
    parseGbdtParams(this.params, { fitInputs: false });
  }

  /** Wraps a trained regression model. */
  static fromModel(model: GbdtModel): GbdtRegressor {
    if (model.link !== "identity" && model.link !== "exp") {
      throw new ValidationError(`model link "${model.link}" is not a regressor's (identity or exp)`);
    }
    const r = new GbdtRegressor();
    r.setModel(model);
    return r;
  }

  async fit(X: Matrix, y: ArrayLike<number>, options: GbdtFitOptions = {}): Promise<this> {
    this.setModel(await trainGbdt(X, y, { ...this.params, ...options }));
    return this;
  }

  /** Predicted values (Poisson: means). */
  predict(X: Matrix): Float64Array {
    return this.compiled().predict(X);
  }
}
