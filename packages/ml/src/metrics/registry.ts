import { ValidationError } from "@quintet/core";
import { averagePrecision, logLoss, multiLogLoss, rocAuc } from "./classification.js";
import { mae, poissonNegLogLik, r2, rmse } from "./regression.js";
import { checkBinaryLabels, checkPair, type Weights, wt } from "./validate.js";

/** Inputs of a named metric. */
export interface MetricInput {
  yTrue: ArrayLike<number>;
  /**
   * Predictions after the link: P(class 1) for binary metrics, row-major `n × numClasses`
   * probabilities for `mlogloss`, predicted values/means for regression metrics.
   */
  yPred: ArrayLike<number>;
  sampleWeight?: Weights;
  /** Needed by `mlogloss`. */
  numClasses?: number;
}

/** A metric usable for early stopping and tuning. */
export interface NamedMetric {
  name: MetricName;
  /** Whether a larger value is better. */
  direction: "higher" | "lower";
  evaluate(input: MetricInput): number;
}

export type MetricName = "auc" | "aucpr" | "logloss" | "mlogloss" | "error" | "rmse" | "mae" | "r2" | "poisson-nloglik";

/** Binary error rate with XGBoost's rule: predicted positive when P(class 1) > 0.5. */
function errorRate(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, w: Weights): number {
  checkPair("yTrue", yTrue, "yPred", yPred, w);
  checkBinaryLabels("yTrue", yTrue);
  let wrong = 0;
  let total = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const p = yPred[i]! > 0.5 ? 1 : 0;
    if (p !== yTrue[i]) wrong += wt(w, i);
    total += wt(w, i);
  }
  return wrong / total;
}

const METRICS: Record<MetricName, NamedMetric> = {
  auc: { name: "auc", direction: "higher", evaluate: (i) => rocAuc(i.yTrue, i.yPred, i.sampleWeight) },
  aucpr: { name: "aucpr", direction: "higher", evaluate: (i) => averagePrecision(i.yTrue, i.yPred, i.sampleWeight) },
  logloss: {
    name: "logloss",
    direction: "lower",
    evaluate: (i) => logLoss(i.yTrue, i.yPred, i.sampleWeight === undefined ? {} : { sampleWeight: i.sampleWeight }),
  },
  mlogloss: {
    name: "mlogloss",
    direction: "lower",
    evaluate: (i) => {
      if (i.numClasses === undefined) {
        throw new ValidationError("mlogloss needs numClasses", { hint: "Pass numClasses with the predictions." });
      }
      return multiLogLoss(
        i.yTrue,
        i.yPred,
        i.numClasses,
        i.sampleWeight === undefined ? {} : { sampleWeight: i.sampleWeight },
      );
    },
  },
  error: { name: "error", direction: "lower", evaluate: (i) => errorRate(i.yTrue, i.yPred, i.sampleWeight) },
  rmse: { name: "rmse", direction: "lower", evaluate: (i) => rmse(i.yTrue, i.yPred, i.sampleWeight) },
  mae: { name: "mae", direction: "lower", evaluate: (i) => mae(i.yTrue, i.yPred, i.sampleWeight) },
  r2: { name: "r2", direction: "higher", evaluate: (i) => r2(i.yTrue, i.yPred, i.sampleWeight) },
  "poisson-nloglik": {
    name: "poisson-nloglik",
    direction: "lower",
    evaluate: (i) => poissonNegLogLik(i.yTrue, i.yPred, i.sampleWeight),
  },
};

/** Names accepted by {@link metricByName}. */
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

/** Looks up a metric by its XGBoost-style name; unknown names raise a ValidationError listing the choices. */
export function metricByName(name: string): NamedMetric {
  const m = (METRICS as Record<string, NamedMetric>)[name];
  if (!m) {
    throw new ValidationError(`unknown metric "${name}"`, { hint: `Use one of: ${METRIC_NAMES.join(", ")}.` });
  }
  return m;
}

/** True when `a` is a better value than `b` for the metric. */
export function isBetter(metric: NamedMetric, a: number, b: number): boolean {
  return metric.direction === "higher" ? a > b : a < b;
}
