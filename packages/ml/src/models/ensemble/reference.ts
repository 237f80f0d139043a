import { MissingKind, SplitKind, type Tree, type TreeEnsemble } from "./types.js";

const ZERO_THRESHOLD = 1e-35;

function inSet(set: Int32Array, code: number): boolean {
  let lo = 0;
  let hi = set.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = set[mid]!;
    if (v === code) return true;
    if (v < code) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Which child a value goes to at `node`: true for left. The one place split semantics live. */
export function goesLeft(tree: Tree, node: number, x: number, float32: boolean): boolean {
  const missing = tree.missing[node]!;
  let v = x;
  if (Number.isNaN(v)) {
    if (missing === MissingKind.None) v = 0;
    else return tree.defaultLeft[node] === 1;
  } else if (missing === MissingKind.Zero && Math.abs(v) <= ZERO_THRESHOLD) {
    return tree.defaultLeft[node] === 1;
  }
  const kind = tree.kind[node]!;
  if (kind === SplitKind.Categorical) {
    // Negative codes are not categories: treat them as missing. A fractional code is
    // truncated to an integer, as XGBoost and LightGBM both do (checked against XGBoost 1.7).
    if (v < 0) return tree.defaultLeft[node] === 1;
    const hit = inSet(tree.categories[node]!, Math.trunc(v));
    return tree.categoryLeft[node] === 1 ? hit : !hit;
  }
  const t = tree.threshold[node]!;
  if (float32) {
    const fv = Math.fround(v);
    const ft = Math.fround(t);
    return kind === SplitKind.LessThan ? fv < ft : fv <= ft;
  }
  return kind === SplitKind.LessThan ? v < t : v <= t;
}

/** The leaf a row falls in. */
export function leafIndex(tree: Tree, row: ArrayLike<number>, float32: boolean): number {
  let node = 0;
  while (tree.left[node] !== -1) {
    node = goesLeft(tree, node, row[tree.feature[node]!]!, float32) ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}

/**
 * Raw margins of one row (one per group), by walking every tree. This is the readable
 * reference the fast predictors are tested against.
 */
export function referenceMargin(model: TreeEnsemble, row: ArrayLike<number>): Float64Array {
  const out = new Float64Array(model.numGroups);
  const counts = new Float64Array(model.numGroups);
  for (let t = 0; t < model.trees.length; t++) {
    const tree = model.trees[t]!;
    const g = model.treeGroup[t]!;
    out[g]! += tree.value[leafIndex(tree, row, model.float32)]!;
    counts[g]!++;
  }
  for (let g = 0; g < model.numGroups; g++) {
    if (model.averageTrees && counts[g]! > 0) out[g]! /= counts[g]!;
    out[g]! += model.baseMargin[g] ?? 0;
  }
  return out;
}

/** Applies the link to margins in place: probabilities for classifiers, means for Poisson. */
export function applyLink(link: TreeEnsemble["link"], margins: Float64Array): Float64Array {
  switch (link) {
    case "identity":
      return margins;
    case "sigmoid":
      for (let i = 0; i < margins.length; i++) margins[i] = 1 / (1 + Math.exp(-margins[i]!));
      return margins;
    case "exp":
      for (let i = 0; i < margins.length; i++) margins[i] = Math.exp(margins[i]!);
      return margins;
    case "softmax": {
      let max = Number.NEGATIVE_INFINITY;
      for (const m of margins) max = Math.max(max, m);
      let sum = 0;
      for (let i = 0; i < margins.length; i++) {
        margins[i] = Math.exp(margins[i]! - max);
        sum += margins[i]!;
      }
      for (let i = 0; i < margins.length; i++) margins[i]! /= sum;
      return margins;
    }
  }
}
