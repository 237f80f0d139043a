import { ValidationError } from "@quintet/core";
import type { Matrix } from "../models/ensemble/matrix.js";
import type { ShapValues } from "./tree-shap.js";

/** One feature's place in the global picture. */
export interface FeatureShapSummary {
  feature: string;
  /** Column index in the model's features. */
  index: number;
  /** Mean |SHAP| over the rows (summed over groups when `group` is "all"): the global importance. */
  meanAbs: number;
  /** Mean signed SHAP: how much the feature moves the average row, and which way. */
  mean: number;
  /** Multiclass only: mean |SHAP| per group. */
  perGroup?: number[];
}

/** One dot of a beeswarm (summary) plot: a row's value of a feature against its SHAP value. */
export interface BeeswarmPoint {
  feature: string;
  row: number;
  /** The feature value (NaN in the matrix → null). */
  value: number | null;
  /**
   * The value in [0, 1] from the feature's 5th to 95th percentile (clipped), for
   * colouring low → high; null for missing values and category codes, which have no order.
   */
  scaled: number | null;
  shap: number;
  /** Vertical offset in [-0.45, 0.45] that spreads dense regions, as a beeswarm does. */
  jitter: number;
}

export interface ShapSummary {
  /** The group the points describe, or "all" for every group's |SHAP| summed. */
  group: number | "all";
  rows: number;
  /** Most important first. */
  features: FeatureShapSummary[];
  /** Points for the `top` features in the same order (empty for group "all" on multiclass). */
  points: BeeswarmPoint[];
}

export interface ShapSummaryOptions {
  /** The output group to summarise; default 0, or "all" for multiclass. */
  group?: number | "all";
  /** Features with beeswarm points, most important first. Default 20. */
  top?: number;
  /** Column indices holding category codes (not coloured by value: codes have no order). Default none. */
  categoricalFeatures?: number[];
  /** Feature names; default the SHAP values' names, else `f0`, `f1`… */
  featureNames?: string[];
  /** Bins along the SHAP axis used to spread the points. Default 40. */
  bins?: number;
  /**
   * Most beeswarm points per feature, from rows spread evenly over the input (a chart
   * stays readable and small); mean |SHAP| always uses every row. Default: every row.
   */
  pointsPerFeature?: number;
}

/**
 * Interaction-free global summary of SHAP values: mean |SHAP| per feature (the bar chart
 * of a SHAP summary) and, per top feature, the points of a beeswarm plot (feature value
 * as colour against SHAP value), with offsets that widen where points are dense.
 *
 * @example
 * const shap = treeShap(model, Xtest);
 * const { features, points } = shapSummary(shap, Xtest, { top: 10 });
 */
export function shapSummary(shap: ShapValues, X: Matrix, options: ShapSummaryOptions = {}): ShapSummary {
  if (X.rows !== shap.rows || X.cols !== shap.features) {
    throw new ValidationError(
      `the matrix is ${X.rows} × ${X.cols} but the SHAP values are for ${shap.rows} rows × ${shap.features} features`,
      { hint: "Pass the same matrix the SHAP values were computed on." },
    );
  }
  const G = shap.groups;
  const F = shap.features;
  const group = options.group ?? (G > 1 ? "all" : 0);
  if (group !== "all" && !(Number.isInteger(group) && group >= 0 && group < G)) {
    throw new ValidationError(`group ${group} is out of range: the model has ${G} output groups`, {
      hint: `Use 0..${G - 1} or "all".`,
    });
  }
  const names = options.featureNames ?? shap.featureNames ?? Array.from({ length: F }, (_, j) => `f${j}`);
  if (names.length !== F) throw new ValidationError(`featureNames has ${names.length} names for ${F} features`);
  const width = F + 1;
  const n = Math.max(1, shap.rows);
  const absPerGroup = Array.from({ length: G }, () => new Float64Array(F));
  const signedPerGroup = Array.from({ length: G }, () => new Float64Array(F));
  for (let r = 0; r < shap.rows; r++) {
    for (let g = 0; g < G; g++) {
      const base = (r * G + g) * width;
      for (let j = 0; j < F; j++) {
        const v = shap.values[base + j]!;
        absPerGroup[g]![j]! += Math.abs(v) / n;
        signedPerGroup[g]![j]! += v / n;
      }
    }
  }
  const features: FeatureShapSummary[] = names.map((feature, index) => {
    const groups = group === "all" ? absPerGroup.map((_, g) => g) : [group];
    const s: FeatureShapSummary = {
      feature,
      index,
      meanAbs: groups.reduce((acc, g) => acc + absPerGroup[g]![index]!, 0),
      mean: groups.reduce((acc, g) => acc + signedPerGroup[g]![index]!, 0),
    };
    if (G > 1) s.perGroup = absPerGroup.map((a) => a[index]!);
    return s;
  });
  features.sort((a, b) => b.meanAbs - a.meanAbs || a.index - b.index);

  const points: BeeswarmPoint[] = [];
  if (group !== "all" || G === 1) {
    const g = group === "all" ? 0 : group;
    const top = features.slice(0, Math.max(0, options.top ?? 20));
    const limit = Math.max(1, Math.floor(options.pointsPerFeature ?? shap.rows));
    const rows =
      shap.rows <= limit
        ? Array.from({ length: shap.rows }, (_, i) => i)
        : Array.from({ length: limit }, (_, i) => Math.floor((i * shap.rows) / limit));
    const categorical = new Set(options.categoricalFeatures ?? []);
    const bins = Math.max(1, options.bins ?? 40);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const f of top) {
      for (const r of rows) {
        const v = shap.values[(r * G + g) * width + f.index]!;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    const span = hi - lo || 1;
    const binOf = (v: number) => Math.min(bins - 1, Math.floor(((v - lo) / span) * bins));
    // One scale of spread for every feature, so a wide swarm means many rows there.
    let densest = 1;
    const perFeatureBins = top.map((f) => {
      const counts = new Int32Array(bins);
      for (const r of rows) counts[binOf(shap.values[(r * G + g) * width + f.index]!)]!++;
      for (const c of counts) densest = Math.max(densest, c);
      return counts;
    });
    top.forEach((f, k) => {
      const scaled = valueScale(X, f.index, categorical.has(f.index));
      const counts = perFeatureBins[k]!;
      const seen = new Int32Array(bins);
      for (const r of rows) {
        const s = shap.values[(r * G + g) * width + f.index]!;
        const b = binOf(s);
        const c = counts[b]!;
        const i = seen[b]!++;
        // The bin's points spread evenly around the axis, as wide as the bin is full.
        const jitter = (i - (c - 1) / 2) * (0.9 / densest);
        const x = X.data[r * X.cols + f.index]!;
        points.push({
          feature: f.feature,
          row: r,
          value: Number.isNaN(x) ? null : x,
          scaled: scaled[r]!,
          shap: s,
          jitter,
        });
      }
    });
  }
  return { group, rows: shap.rows, features, points };
}

/**
 * Each row's value placed in [0, 1] between the column's 5th and 95th percentiles
 * (clipped), so a few extreme values do not wash out the colours and 0/1 columns use both
 * ends; null when missing or categorical.
 */
function valueScale(X: Matrix, j: number, categorical: boolean): (number | null)[] {
  const out: (number | null)[] = new Array<number | null>(X.rows).fill(null);
  if (categorical) return out;
  const present: number[] = [];
  for (let r = 0; r < X.rows; r++) {
    const v = X.data[r * X.cols + j]!;
    if (!Number.isNaN(v)) present.push(v);
  }
  if (present.length === 0) return out;
  present.sort((a, b) => a - b);
  const at = (q: number) => present[Math.min(present.length - 1, Math.floor(q * (present.length - 1) + 0.5))]!;
  let lo = at(0.05);
  let hi = at(0.95);
  if (hi <= lo) {
    lo = present[0]!;
    hi = present[present.length - 1]!;
  }
  for (let r = 0; r < X.rows; r++) {
    const v = X.data[r * X.cols + j]!;
    if (Number.isNaN(v)) continue;
    out[r] = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0.5;
  }
  return out;
}
