import { ValidationError } from "@quintet/core";
import { checkPair, type Weights, wt } from "./validate.js";

/** Root mean squared error (weighted), as sklearn's `mean_squared_error(squared=False)`. */
export function rmse(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, sampleWeight?: Weights): number {
  checkPair("yTrue", yTrue, "yPred", yPred, sampleWeight);
  let s = 0;
  let ws = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const w = wt(sampleWeight, i);
    const d = yTrue[i]! - yPred[i]!;
    s += w * d * d;
    ws += w;
  }
  return Math.sqrt(s / ws);
}

/** Mean absolute error (weighted). */
export function mae(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, sampleWeight?: Weights): number {
  checkPair("yTrue", yTrue, "yPred", yPred, sampleWeight);
  let s = 0;
  let ws = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const w = wt(sampleWeight, i);
    s += w * Math.abs(yTrue[i]! - yPred[i]!);
    ws += w;
  }
  return s / ws;
}

/**
 * Coefficient of determination (weighted), as sklearn's `r2_score`: 1 - SS_res / SS_tot.
 * With a constant target it is 1 for a perfect prediction and 0 otherwise, as sklearn does.
 */
export function r2(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, sampleWeight?: Weights): number {
  checkPair("yTrue", yTrue, "yPred", yPred, sampleWeight);
  let ws = 0;
  let my = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const w = wt(sampleWeight, i);
    my += w * yTrue[i]!;
    ws += w;
  }
  my /= ws;
  let res = 0;
  let tot = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const w = wt(sampleWeight, i);
    res += w * (yTrue[i]! - yPred[i]!) ** 2;
    tot += w * (yTrue[i]! - my) ** 2;
  }
  if (tot === 0) return res === 0 ? 1 : 0;
  return 1 - res / tot;
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (Lanczos, g = 7; about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Poisson negative log-likelihood of counts `yTrue` under predicted means `yPred`,
 * as XGBoost's `poisson-nloglik`: mean of lgamma(y + 1) + mu - y log(mu), mu floored at 1e-16.
 */
export function poissonNegLogLik(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, sampleWeight?: Weights): number {
  checkPair("yTrue", yTrue, "yPred", yPred, sampleWeight);
  let s = 0;
  let ws = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const y = yTrue[i]!;
    if (y < 0) throw new ValidationError(`yTrue[${i}] is ${y}; Poisson targets are counts >= 0`);
    if (yPred[i]! < 0) {
      throw new ValidationError(`yPred[${i}] is ${yPred[i]}; Poisson predictions are means >= 0`, {
        hint: "Pass predicted means (after exp), not log-margins.",
      });
    }
    const mu = Math.max(yPred[i]!, 1e-16);
    const w = wt(sampleWeight, i);
    s += w * (logGamma(y + 1) + mu - y * Math.log(mu));
    ws += w;
  }
  return s / ws;
}
