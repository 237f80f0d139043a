import { ValidationError } from "@quintet/core";
import { checkBinaryLabels, checkPair, checkProbabilities, type Weights, wt } from "./validate.js";

/** One reliability bin: rows whose predicted probability fell in `(lower, upper]` (the first bin includes 0). */
export interface ReliabilityBin {
  lower: number;
  upper: number;
  /** Total weight of the rows in the bin (their count when unweighted). */
  weight: number;
  /** Mean predicted probability in the bin (NaN when empty). */
  meanPredicted: number;
  /** Observed fraction of positives in the bin (NaN when empty). */
  fractionPositive: number;
}

/** A reliability diagram and the expected calibration error it implies. */
export interface Calibration {
  bins: ReliabilityBin[];
  /** Expected calibration error: the weight-averaged |fractionPositive - meanPredicted| over bins. */
  ece: number;
  /** Maximum calibration error over non-empty bins. */
  mce: number;
}

/**
 * Reliability bins of equal width on [0, 1] and the expected calibration error. Bin edges
 * and the bin of a value on an edge follow sklearn's `calibration_curve(strategy="uniform")`,
 * whose non-empty bins' (fractionPositive, meanPredicted) are `(prob_true, prob_pred)`.
 */
export function calibration(
  yTrue: ArrayLike<number>,
  yProb: ArrayLike<number>,
  numBins = 10,
  sampleWeight?: Weights,
): Calibration {
  checkPair("yTrue", yTrue, "yProb", yProb, sampleWeight);
  checkBinaryLabels("yTrue", yTrue);
  checkProbabilities("yProb", yProb);
  if (!Number.isInteger(numBins) || numBins < 1) {
    throw new ValidationError(`numBins must be a positive integer, got ${numBins}`);
  }
  const step = 1 / numBins;
  const edges = Array.from({ length: numBins + 1 }, (_, i) => (i === numBins ? 1 : i * step));
  const w = new Float64Array(numBins);
  const sp = new Float64Array(numBins);
  const sy = new Float64Array(numBins);
  for (let i = 0; i < yTrue.length; i++) {
    const p = yProb[i]!;
    // Number of inner edges strictly below p: a value on an edge belongs to the lower bin.
    let b = Math.min(numBins - 1, Math.max(0, Math.ceil(p / step) - 1));
    while (b > 0 && p <= edges[b]!) b--;
    while (b < numBins - 1 && p > edges[b + 1]!) b++;
    const wi = wt(sampleWeight, i);
    w[b]! += wi;
    sp[b]! += wi * p;
    sy[b]! += wi * yTrue[i]!;
  }
  let total = 0;
  for (const x of w) total += x;
  let ece = 0;
  let mce = 0;
  const bins: ReliabilityBin[] = [];
  for (let b = 0; b < numBins; b++) {
    const empty = w[b] === 0;
    const meanPredicted = empty ? Number.NaN : sp[b]! / w[b]!;
    const fractionPositive = empty ? Number.NaN : sy[b]! / w[b]!;
    if (!empty) {
      const gap = Math.abs(fractionPositive - meanPredicted);
      ece += (w[b]! / total) * gap;
      mce = Math.max(mce, gap);
    }
    bins.push({ lower: edges[b]!, upper: edges[b + 1]!, weight: w[b]!, meanPredicted, fractionPositive });
  }
  return { bins, ece, mce };
}
