import { ValidationError } from "@quintet/core";
import type { TreeEnsemble } from "../ensemble/types.js";

/**
 * What a feature importance adds up over the splits on the feature:
 * - `gain`: total loss reduction (LightGBM's "gain", XGBoost's "total_gain");
 * - `split`: number of splits (XGBoost's "weight");
 * - `cover`: total hessian of the rows reaching those splits (XGBoost's "total_cover").
 */
export type ImportanceType = "gain" | "split" | "cover";

/**
 * Per-feature importance of any tree ensemble (trained here or imported), indexed by
 * feature. Pass `normalize: true` to scale the values to sum to 1.
 */
export function featureImportance(
  model: TreeEnsemble,
  type: ImportanceType = "gain",
  options: { normalize?: boolean } = {},
): Float64Array {
  if (type !== "gain" && type !== "split" && type !== "cover") {
    throw new ValidationError(`unknown importance type "${String(type)}"`, { hint: "Use gain, split or cover." });
  }
  const out = new Float64Array(model.numFeatures);
  for (const t of model.trees) {
    for (let i = 0; i < t.left.length; i++) {
      if (t.left[i] === -1) continue;
      const f = t.feature[i]!;
      out[f]! += type === "gain" ? t.gain[i]! : type === "split" ? 1 : t.cover[i]!;
    }
  }
  if (options.normalize) {
    let s = 0;
    for (const v of out) s += v;
    if (s > 0) for (let i = 0; i < out.length; i++) out[i]! /= s;
  }
  return out;
}
