import {
  accuracy,
  averagePrecision,
  type Calibration,
  calibration,
  type FeatureMatrix,
  type LiftGain,
  liftGainAt,
  logLoss,
  type ModelBundle,
  mae,
  multiLogLoss,
  type PrPoint,
  prCurve,
  type RocPoint,
  r2,
  rmse,
  rocAuc,
  rocCurve,
  type TargetInfo,
  thresholdScores,
} from "@quintet/ml";

/** Held-out results: headline metrics plus the curves a report draws. */
export interface Evaluation {
  task: TargetInfo["task"];
  metrics: Record<string, number>;
  roc?: RocPoint[];
  pr?: PrPoint[];
  calibration?: Calibration;
  lift?: LiftGain[];
  /** Regression: (actual, predicted) pairs, at most 2000. */
  residuals?: [number, number][];
}

/** Scores a bundle's model on already-transformed test features. */
export function evaluateModel(bundle: ModelBundle, X: FeatureMatrix, y: Float64Array, target: TargetInfo): Evaluation {
  const p = bundle.predictMatrix(X);
  if (target.task === "binary") {
    const t = thresholdScores(y, p, 0.5);
    const cal = calibration(y, p, 10);
    return {
      task: "binary",
      metrics: {
        auc: rocAuc(y, p),
        pr_auc: averagePrecision(y, p),
        logloss: logLoss(y, p),
        accuracy: t.accuracy,
        precision: t.precision,
        recall: t.recall,
        f1: t.f1,
        ece: cal.ece,
        lift_at_10pct: liftGainAt(y, p, 0.1).lift,
      },
      roc: thin(rocCurve(y, p), 400),
      pr: thin(prCurve(y, p), 400),
      calibration: cal,
      lift: [0.05, 0.1, 0.2, 0.3, 0.5].map((f) => liftGainAt(y, p, f)),
    };
  }
  if (target.task === "multiclass") {
    const k = target.classes?.length ?? 0;
    const pred = new Float64Array(y.length);
    for (let r = 0; r < y.length; r++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (p[r * k + j]! > p[r * k + best]!) best = j;
      pred[r] = best;
    }
    return { task: "multiclass", metrics: { accuracy: accuracy(y, pred), mlogloss: multiLogLoss(y, p, k) } };
  }
  const residuals: [number, number][] = [];
  const step = Math.max(1, Math.floor(y.length / 2000));
  for (let i = 0; i < y.length; i += step) residuals.push([y[i]!, p[i]!]);
  return { task: "regression", metrics: { rmse: rmse(y, p), mae: mae(y, p), r2: r2(y, p) }, residuals };
}

/** Keeps at most `max` points of a curve, evenly spread, always with both ends. */
function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))]!);
  return out;
}
