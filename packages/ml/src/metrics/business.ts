import { ValidationError } from "@quintet/core";
import { sweepScores } from "./classification.js";
import { checkBinaryLabels, checkPair, type Weights, wt } from "./validate.js";

/** Lift and gain when acting on the top fraction of rows by score (lead scoring, campaigns). */
export interface LiftGain {
  /** The fraction asked for. */
  fraction: number;
  /** Rows actually selected: ceil(fraction × n). */
  selected: number;
  /** Share of all positives captured in the selection (cumulative gain). */
  gain: number;
  /** Positive rate in the selection divided by the overall positive rate. */
  lift: number;
  /** Positive rate in the selection. */
  precision: number;
}

/**
 * Lift and gain at the top `fraction` of rows ranked by score. Rows tied at the cut are
 * counted pro rata (each tied row counts for the selected share of its tie group), so the
 * result does not depend on input order.
 */
export function liftGainAt(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  fraction: number,
  sampleWeight?: Weights,
): LiftGain {
  checkPair("yTrue", yTrue, "yScore", yScore, sampleWeight);
  checkBinaryLabels("yTrue", yTrue);
  if (!(fraction > 0 && fraction <= 1)) {
    throw new ValidationError(`fraction must be in (0, 1], got ${fraction}`, {
      hint: "Use e.g. 0.1 for the top decile.",
    });
  }
  const n = yTrue.length;
  const k = Math.ceil(fraction * n - 1e-9);
  // Group rows by distinct score (descending) with their counts, weights and positive weights.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => yScore[b]! - yScore[a]!);
  let taken = 0;
  let selW = 0;
  let selPos = 0;
  let totW = 0;
  let totPos = 0;
  for (let i = 0; i < n; i++) {
    totW += wt(sampleWeight, i);
    totPos += wt(sampleWeight, i) * yTrue[i]!;
  }
  if (!(totPos > 0)) {
    throw new ValidationError("lift and gain are undefined: yTrue has no positive rows", {
      hint: "Evaluate on a set with at least one positive row.",
    });
  }
  let g = 0;
  while (g < n && taken < k) {
    let h = g;
    let gw = 0;
    let gp = 0;
    while (h < n && yScore[order[h]!] === yScore[order[g]!]) {
      const i = order[h]!;
      gw += wt(sampleWeight, i);
      gp += wt(sampleWeight, i) * yTrue[i]!;
      h++;
    }
    const size = h - g;
    const share = Math.min(1, (k - taken) / size);
    selW += share * gw;
    selPos += share * gp;
    taken += Math.min(size, k - taken);
    g = h;
  }
  const precision = selW > 0 ? selPos / selW : 0;
  return { fraction, selected: k, gain: selPos / totPos, lift: precision / (totPos / totW), precision };
}

/** Costs of a binary decision; correct decisions cost 0 unless given. */
export interface DecisionCosts {
  falsePositive: number;
  falseNegative: number;
  truePositive?: number;
  trueNegative?: number;
}

/** The threshold that minimises total cost, with its confusion counts. */
export interface CostThreshold {
  /** Predict positive when score >= threshold (+Infinity: predict nothing positive). */
  threshold: number;
  cost: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

/**
 * The decision threshold with the lowest total cost (fraud: a missed fraud costs more than
 * a reviewed false alarm), trying every distinct score and "flag nothing". Ties go to the
 * highest threshold (fewest alerts).
 */
export function bestCostThreshold(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  costs: DecisionCosts,
  sampleWeight?: Weights,
): CostThreshold {
  checkPair("yTrue", yTrue, "yScore", yScore, sampleWeight);
  checkBinaryLabels("yTrue", yTrue);
  const cfp = costs.falsePositive;
  const cfn = costs.falseNegative;
  const ctp = costs.truePositive ?? 0;
  const ctn = costs.trueNegative ?? 0;
  for (const [name, v] of Object.entries({ cfp, cfn, ctp, ctn })) {
    if (!Number.isFinite(v)) throw new ValidationError(`cost ${name} must be a finite number, got ${v}`);
  }
  const s = sweepScores(yTrue, yScore, sampleWeight);
  const at = (threshold: number, tp: number, fp: number): CostThreshold => {
    const fn = s.pos - tp;
    const tn = s.neg - fp;
    return { threshold, cost: fp * cfp + fn * cfn + tp * ctp + tn * ctn, tp, fp, tn, fn };
  };
  let best = at(Number.POSITIVE_INFINITY, 0, 0);
  for (let k = 0; k < s.thresholds.length; k++) {
    const c = at(s.thresholds[k]!, s.tps[k]!, s.fps[k]!);
    if (c.cost < best.cost) best = c;
  }
  return best;
}
