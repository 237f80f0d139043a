import { ValidationError } from "@quintet/core";
import {
  checkBinaryLabels,
  checkPair,
  checkProbabilities,
  checkVector,
  checkWeights,
  type Weights,
  wt,
} from "./validate.js";

/** Cumulative true/false positive weights at each distinct score, highest score first. */
export interface ScoreSweep {
  /** Distinct scores, descending. Predicting "positive when score >= thresholds[k]" gives tps[k], fps[k]. */
  thresholds: Float64Array;
  tps: Float64Array;
  fps: Float64Array;
  /** Total positive and negative weight. */
  pos: number;
  neg: number;
}

/**
 * Sorts by score and accumulates positive/negative weight per distinct score. Tied scores
 * form one step, which is what makes AUC count a tie as half a correct pair.
 */
export function sweepScores(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, sampleWeight?: Weights): ScoreSweep {
  checkPair("yTrue", yTrue, "yScore", yScore, sampleWeight);
  checkBinaryLabels("yTrue", yTrue);
  const n = yTrue.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => yScore[b]! - yScore[a]!);
  const thresholds: number[] = [];
  const tps: number[] = [];
  const fps: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    const w = wt(sampleWeight, i);
    if (yTrue[i] === 1) tp += w;
    else fp += w;
    if (k === n - 1 || yScore[order[k + 1]!] !== yScore[i]) {
      thresholds.push(yScore[i]!);
      tps.push(tp);
      fps.push(fp);
    }
  }
  return {
    thresholds: Float64Array.from(thresholds),
    tps: Float64Array.from(tps),
    fps: Float64Array.from(fps),
    pos: tp,
    neg: fp,
  };
}

function needBothClasses(s: ScoreSweep, what: string): void {
  if (!(s.pos > 0) || !(s.neg > 0)) {
    throw new ValidationError(
      `${what} is undefined: yTrue holds only one class (positives ${s.pos}, negatives ${s.neg})`,
      {
        hint: "Evaluate on a set that contains both positive and negative rows (e.g. a stratified split).",
      },
    );
  }
}

/** One point of a ROC curve: predicting positive when score >= threshold. */
export interface RocPoint {
  threshold: number;
  fpr: number;
  tpr: number;
}

/** ROC curve at every distinct score, starting at (0, 0) with threshold +Infinity. */
export function rocCurve(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, sampleWeight?: Weights): RocPoint[] {
  const s = sweepScores(yTrue, yScore, sampleWeight);
  needBothClasses(s, "the ROC curve");
  const out: RocPoint[] = [{ threshold: Number.POSITIVE_INFINITY, fpr: 0, tpr: 0 }];
  for (let k = 0; k < s.thresholds.length; k++) {
    out.push({ threshold: s.thresholds[k]!, fpr: s.fps[k]! / s.neg, tpr: s.tps[k]! / s.pos });
  }
  return out;
}

/** Area under the ROC curve (trapezoids; ties count half), as sklearn's `roc_auc_score`. */
export function rocAuc(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, sampleWeight?: Weights): number {
  const s = sweepScores(yTrue, yScore, sampleWeight);
  needBothClasses(s, "AUC");
  let area = 0;
  let ptp = 0;
  let pfp = 0;
  for (let k = 0; k < s.thresholds.length; k++) {
    area += (s.fps[k]! - pfp) * (s.tps[k]! + ptp);
    ptp = s.tps[k]!;
    pfp = s.fps[k]!;
  }
  return area / 2 / (s.pos * s.neg);
}

/** One point of a precision–recall curve: predicting positive when score >= threshold. */
export interface PrPoint {
  threshold: number;
  precision: number;
  recall: number;
}

/** Precision and recall at every distinct score, highest threshold first. */
export function prCurve(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, sampleWeight?: Weights): PrPoint[] {
  const s = sweepScores(yTrue, yScore, sampleWeight);
  needBothClasses(s, "the precision-recall curve");
  const out: PrPoint[] = [];
  for (let k = 0; k < s.thresholds.length; k++) {
    const predicted = s.tps[k]! + s.fps[k]!;
    out.push({
      threshold: s.thresholds[k]!,
      precision: predicted > 0 ? s.tps[k]! / predicted : 0,
      recall: s.tps[k]! / s.pos,
    });
  }
  return out;
}

/**
 * Average precision (PR-AUC without interpolation): the sum over thresholds of precision
 * times the recall gained, as sklearn's `average_precision_score`.
 */
export function averagePrecision(yTrue: ArrayLike<number>, yScore: ArrayLike<number>, sampleWeight?: Weights): number {
  const pts = prCurve(yTrue, yScore, sampleWeight);
  let ap = 0;
  let prevRecall = 0;
  for (const p of pts) {
    ap += (p.recall - prevRecall) * p.precision;
    prevRecall = p.recall;
  }
  return ap;
}

/** Options for log loss. */
export interface LogLossOptions {
  sampleWeight?: Weights;
  /** Probabilities are clipped to [eps, 1 - eps]; default is float64 machine epsilon (sklearn's "auto"). */
  eps?: number;
}

/**
 * Binary log loss from the probability of class 1, as sklearn's `log_loss`: probabilities
 * clipped to [eps, 1 - eps], weighted mean.
 */
export function logLoss(yTrue: ArrayLike<number>, yProb: ArrayLike<number>, options: LogLossOptions = {}): number {
  checkPair("yTrue", yTrue, "yProb", yProb, options.sampleWeight);
  checkBinaryLabels("yTrue", yTrue);
  checkProbabilities("yProb", yProb);
  const eps = options.eps ?? Number.EPSILON;
  let sum = 0;
  let wsum = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const p1 = Math.min(Math.max(yProb[i]!, eps), 1 - eps);
    // sklearn clips p, builds the columns [1 - p, p] and renormalises them; do the same.
    const p0 = 1 - p1;
    const p = (yTrue[i] === 1 ? p1 : p0) / (p0 + p1);
    const w = wt(options.sampleWeight, i);
    sum -= w * Math.log(p);
    wsum += w;
  }
  return sum / wsum;
}

/**
 * Multiclass log loss. `yProb` is row-major `n × numClasses`; labels are class indices
 * 0..numClasses-1. Each row is clipped to [eps, 1 - eps] and renormalised, as sklearn does.
 */
export function multiLogLoss(
  yTrue: ArrayLike<number>,
  yProb: ArrayLike<number>,
  numClasses: number,
  options: LogLossOptions = {},
): number {
  checkVector("yTrue", yTrue);
  checkVector("yProb", yProb);
  checkProbabilities("yProb", yProb);
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new ValidationError(`numClasses must be an integer >= 2, got ${numClasses}`);
  }
  const n = yTrue.length;
  if (yProb.length !== n * numClasses) {
    throw new ValidationError(`yProb has ${yProb.length} values, expected ${n} rows x ${numClasses} classes`, {
      hint: "Pass class probabilities row-major: row 0's classes, then row 1's, ...",
    });
  }
  checkWeights(options.sampleWeight, n);
  const eps = options.eps ?? Number.EPSILON;
  let sum = 0;
  let wsum = 0;
  for (let i = 0; i < n; i++) {
    const y = yTrue[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new ValidationError(`yTrue[${i}] is ${y}, expected a class index in 0..${numClasses - 1}`);
    }
    let rowSum = 0;
    for (let k = 0; k < numClasses; k++) rowSum += Math.min(Math.max(yProb[i * numClasses + k]!, eps), 1 - eps);
    const p = Math.min(Math.max(yProb[i * numClasses + y]!, eps), 1 - eps) / rowSum;
    const w = wt(options.sampleWeight, i);
    sum -= w * Math.log(p);
    wsum += w;
  }
  return sum / wsum;
}

/** Weighted counts of a binary decision at a threshold. */
export interface BinaryConfusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/** Confusion counts when predicting positive for `score >= threshold` (default 0.5). */
export function binaryConfusion(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  threshold = 0.5,
  sampleWeight?: Weights,
): BinaryConfusion {
  checkPair("yTrue", yTrue, "yScore", yScore, sampleWeight);
  checkBinaryLabels("yTrue", yTrue);
  if (Number.isNaN(threshold)) throw new ValidationError("threshold is NaN");
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < yTrue.length; i++) {
    const w = wt(sampleWeight, i);
    const pred = yScore[i]! >= threshold;
    if (yTrue[i] === 1) {
      if (pred) c.tp += w;
      else c.fn += w;
    } else if (pred) c.fp += w;
    else c.tn += w;
  }
  return c;
}

/** Precision, recall, F1 and accuracy at one threshold. */
export interface ThresholdScores extends BinaryConfusion {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
}

/**
 * Precision, recall and F1 of the decision `score >= threshold`. A ratio with a zero
 * denominator is 0 (sklearn's `zero_division=0`).
 */
export function thresholdScores(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  threshold = 0.5,
  sampleWeight?: Weights,
): ThresholdScores {
  const c = binaryConfusion(yTrue, yScore, threshold, sampleWeight);
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  const accuracy = (c.tp + c.tn) / (c.tp + c.tn + c.fp + c.fn);
  return { ...c, threshold, precision, recall, f1, accuracy };
}

/** Fraction (weighted) of rows whose predicted label equals the true label. */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, sampleWeight?: Weights): number {
  checkPair("yTrue", yTrue, "yPred", yPred, sampleWeight);
  let hit = 0;
  let total = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const w = wt(sampleWeight, i);
    if (yTrue[i] === yPred[i]) hit += w;
    total += w;
  }
  return hit / total;
}

/**
 * Confusion matrix of class labels 0..numClasses-1: `m[true][predicted]` is the (weighted)
 * count, as sklearn's `confusion_matrix`.
 */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses: number,
  sampleWeight?: Weights,
): number[][] {
  checkPair("yTrue", yTrue, "yPred", yPred, sampleWeight);
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new ValidationError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    for (const [name, v] of [
      ["yTrue", t],
      ["yPred", p],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
        throw new ValidationError(`${name}[${i}] is ${v}, expected a class index in 0..${numClasses - 1}`);
      }
    }
    m[t]![p]! += wt(sampleWeight, i);
  }
  return m;
}
