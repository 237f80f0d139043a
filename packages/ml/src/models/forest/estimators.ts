import { ValidationError } from "@quintet/core";
import type { Matrix } from "../ensemble/matrix.js";
import { featureImportance, type ImportanceType } from "../gbdt/importance.js";
import { compileEnsemble, type Predictor } from "../predict/compile.js";
import { type ForestModel, type ForestOptions, type ForestParams, parseForestParams, trainForest } from "./train.js";

/** Data-side inputs of `fit`. */
export type ForestFitOptions = Pick<ForestOptions, "sampleWeight" | "onTree" | "signal">;

abstract class ForestEstimator {
  private trained: ForestModel | undefined;
  private predictor: Predictor | undefined;

  get model(): ForestModel {
    if (!this.trained) {
      throw new ValidationError("the forest is not trained yet", { hint: "Call await forest.fit(X, y) first." });
    }
    return this.trained;
  }

  protected setModel(m: ForestModel): void {
    this.trained = m;
    this.predictor = undefined;
  }

  protected compiled(): Predictor {
    this.predictor ??= compileEnsemble(this.model);
    return this.predictor;
  }

  /** Out-of-bag score of the training run (see {@link ForestModel.oobScore}). */
  get oobScore(): number | undefined {
    return this.model.oobScore;
  }

  featureImportance(type: ImportanceType = "gain", options: { normalize?: boolean } = {}): Float64Array {
    return featureImportance(this.model, type, options);
  }
}

/**
 * Random-forest classifier over labels 0..K-1.
 *
 * @example
 * const rf = await new RandomForestClassifier({ numTrees: 200 }).fit(X, y);
 * const p = rf.predictProba(Xtest);
 */
export class RandomForestClassifier extends ForestEstimator {
  readonly params: Omit<ForestParams, "task">;

  constructor(params: Omit<ForestParams, "task"> = {}) {
    super();
    parseForestParams({ ...params, task: "classification" });
    this.params = params;
  }

  async fit(X: Matrix, y: ArrayLike<number>, options: ForestFitOptions = {}): Promise<this> {
    this.setModel(await trainForest(X, y, { ...this.params, ...options, task: "classification" }));
    return this;
  }

  get numClasses(): number {
    return this.model.numGroups === 1 ? 2 : this.model.numGroups;
  }

  /** Binary: P(class 1) per row. Multiclass: row-major `rows × numClasses`, each row summing to 1. */
  predictProba(X: Matrix): Float64Array {
    const p = this.compiled().predict(X);
    const k = this.model.numGroups;
    if (k > 1) {
      for (let r = 0; r < X.rows; r++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += p[r * k + j]!;
        for (let j = 0; j < k; j++) p[r * k + j] = s > 0 ? p[r * k + j]! / s : 1 / k;
      }
    }
    return p;
  }

  /** The most probable class per row. */
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

/**
 * Random-forest regressor: the mean of trees grown on bootstrap samples.
 *
 * @example
 * const rf = await new RandomForestRegressor({ numTrees: 300, minSamplesLeaf: 3 }).fit(X, y);
 * const yhat = rf.predict(Xtest);
 */
export class RandomForestRegressor extends ForestEstimator {
  readonly params: Omit<ForestParams, "task" | "numClasses">;

  constructor(params: Omit<ForestParams, "task" | "numClasses"> = {}) {
    super();
    parseForestParams({ ...params, task: "regression" });
    this.params = params;
  }

  async fit(X: Matrix, y: ArrayLike<number>, options: ForestFitOptions = {}): Promise<this> {
    this.setModel(await trainForest(X, y, { ...this.params, ...options, task: "regression" }));
    return this;
  }

  predict(X: Matrix): Float64Array {
    return this.compiled().predict(X);
  }
}
