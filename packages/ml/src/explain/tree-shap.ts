import { ValidationError } from "@quintet/core";
import { assertMatrix, type Matrix } from "../models/ensemble/matrix.js";
import { goesLeft } from "../models/ensemble/reference.js";
import type { Tree, TreeEnsemble } from "../models/ensemble/types.js";

/**
 * SHAP values of a batch of rows: for every row and output group, one contribution per
 * feature plus the bias (the model's expected margin), adding up to the row's raw margin.
 */
export interface ShapValues {
  rows: number;
  /** Output groups: 1 for regression and binary, K for K-class models. */
  groups: number;
  features: number;
  /**
   * Row-major `rows × groups × (features + 1)` in margin space (log-odds for logistic
   * models): entry `features` of each block is the bias, as in XGBoost's `pred_contribs`.
   */
  values: Float64Array;
  /** The bias per group: base margin plus each tree's cover-weighted mean leaf value. */
  expectedValue: Float64Array;
  featureNames?: string[];
}

/** The `features + 1` contributions (bias last) of one row and group, as a view into `shap.values`. */
export function shapRow(shap: ShapValues, row: number, group = 0): Float64Array {
  if (!(Number.isInteger(row) && row >= 0 && row < shap.rows)) {
    throw new ValidationError(`row ${row} is out of range: the SHAP values have ${shap.rows} rows`, {
      hint: `Pick a row from 0 to ${shap.rows - 1}.`,
    });
  }
  if (!(Number.isInteger(group) && group >= 0 && group < shap.groups)) {
    throw new ValidationError(`group ${group} is out of range: the model has ${shap.groups} output groups`, {
      hint: `Pick a group (class) from 0 to ${shap.groups - 1}.`,
    });
  }
  const width = shap.features + 1;
  const start = (row * shap.groups + group) * width;
  return shap.values.subarray(start, start + width);
}

/**
 * 1 / i for small i. The weight recurrences below carry a value from one step to the
 * next; a division on that chain costs several multiplications' latency.
 */
let RECIP = new Float64Array(0);
function reciprocals(n: number): Float64Array {
  if (RECIP.length <= n) RECIP = Float64Array.from({ length: Math.max(n + 1, 64) }, (_, i) => (i === 0 ? 0 : 1 / i));
  return RECIP;
}

/** Depth of the deepest leaf (root = 0). */
function maxDepth(tree: Tree): number {
  let deepest = 0;
  const stack: number[] = [0, 0];
  while (stack.length > 0) {
    const d = stack.pop()!;
    const n = stack.pop()!;
    if (tree.left[n] === -1) deepest = Math.max(deepest, d);
    else stack.push(tree.left[n]!, d + 1, tree.right[n]!, d + 1);
  }
  return deepest;
}

/**
 * Checks the covers TreeSHAP weighs the branches with and returns where the trouble is,
 * or undefined when the tree is usable. Only the root needs a positive cover: below a
 * node nobody reached, both branches get weight 0, which keeps the values exact.
 */
function coverProblem(tree: Tree): string | undefined {
  if (tree.left[0] === -1) return undefined;
  for (let i = 0; i < tree.cover.length; i++) {
    const c = tree.cover[i]!;
    if (!(Number.isFinite(c) && c >= 0)) return `node ${i} has cover ${c}`;
  }
  if (!(tree.cover[0]! > 0)) return "the root has no cover (sum of hessians)";
  return undefined;
}

/** Throws a clear error when any tree lacks the node covers TreeSHAP needs. */
export function assertCovers(model: TreeEnsemble): void {
  for (let t = 0; t < model.trees.length; t++) {
    const problem = coverProblem(model.trees[t]!);
    if (problem) {
      throw new ValidationError(`tree ${t} cannot be explained: ${problem}`, {
        hint: "TreeSHAP weighs branches by the training rows that reached them. Quintet's learners and XGBoost's JSON (sum_hessian) store them; for a model without covers, add them with withDataCovers(model, trainingRows).",
        details: { tree: t },
      });
    }
  }
}

/**
 * Expected value of each node under the tree's own cover weights: the value TreeSHAP
 * starts from when no feature is known. Uses the same branch fractions as the recursion
 * (child cover / node cover), so contributions add up exactly even when a file's covers
 * are rounded.
 */
function nodeMeans(tree: Tree): Float64Array {
  const n = tree.left.length;
  const mean = new Float64Array(n);
  // Children come after their parent in every layout we produce or import, but do not
  // rely on it: an explicit post-order walk.
  const order: number[] = [];
  const stack = [0];
  while (stack.length > 0) {
    const i = stack.pop()!;
    order.push(i);
    if (tree.left[i] !== -1) stack.push(tree.left[i]!, tree.right[i]!);
  }
  for (let k = order.length - 1; k >= 0; k--) {
    const i = order[k]!;
    if (tree.left[i] === -1) {
      mean[i] = tree.value[i]!;
      continue;
    }
    const l = tree.left[i]!;
    const r = tree.right[i]!;
    const c = tree.cover[i]!;
    mean[i] = c > 0 ? (tree.cover[l]! * mean[l]! + tree.cover[r]! * mean[r]!) / c : 0.5 * (mean[l]! + mean[r]!);
  }
  return mean;
}

/**
 * The path of unique features from the root to the current node, one frame per level of
 * the recursion laid out one after another in flat arrays (a child's frame starts where
 * its parent's ends, so going back up needs no copying back).
 *
 * Per element: the feature, the share of background rows that follow the path through
 * that feature's splits (`zero`), whether the explained row does (`one`, 0 or 1), and the
 * weight of the subsets of path features of each size (`weight`), which is what lets the
 * algorithm sum over all feature subsets in polynomial time.
 */
class PathBuffer {
  feature: Int32Array;
  zero: Float64Array;
  one: Float64Array;
  weight: Float64Array;
  /** 1 / i, long enough for every path length in this buffer. */
  private readonly recip: Float64Array;

  constructor(capacity: number, maxLength: number) {
    this.recip = reciprocals(maxLength + 1);
    this.feature = new Int32Array(capacity);
    this.zero = new Float64Array(capacity);
    this.one = new Float64Array(capacity);
    this.weight = new Float64Array(capacity);
  }

  /** Appends an element to the path at `start` of length `len`, updating the subset-size weights. */
  extend(start: number, len: number, zero: number, one: number, feature: number): void {
    const w = this.weight;
    const at = start + len;
    this.feature[at] = feature;
    this.zero[at] = zero;
    this.one[at] = one;
    w[at] = len === 0 ? 1 : 0;
    // Multiplications by a reciprocal instead of divisions: this loop and the two below
    // are where TreeSHAP spends its time.
    const inv = 1 / (len + 1);
    const oneStep = one * inv;
    const zeroStep = zero * inv;
    for (let i = len - 1; i >= 0; i--) {
      const wi = w[start + i]!;
      w[start + i + 1]! += oneStep * wi * (i + 1);
      w[start + i] = zeroStep * wi * (len - i);
    }
  }

  /** Removes element `k` from the path (length `len`), undoing its effect on the weights. */
  unwind(start: number, len: number, k: number): void {
    const w = this.weight;
    const last = len - 1;
    const one = this.one[start + k]!;
    const zero = this.zero[start + k]!;
    let next = w[start + last]!;
    if (one !== 0) {
      const up = len / one;
      const down = zero / len;
      const r = this.recip;
      for (let j = last - 1; j >= 0; j--) {
        const t = w[start + j]!;
        const wj = next * (up * r[j + 1]!);
        w[start + j] = wj;
        next = t - wj * (down * (last - j));
      }
    } else {
      const up = len / zero;
      const r = this.recip;
      for (let j = last - 1; j >= 0; j--) w[start + j] = w[start + j]! * up * r[last - j]!;
    }
    for (let j = k; j < last; j++) {
      this.feature[start + j] = this.feature[start + j + 1]!;
      this.zero[start + j] = this.zero[start + j + 1]!;
      this.one[start + j] = this.one[start + j + 1]!;
    }
  }

  /** Total weight the path would have with element `k` removed, without removing it. */
  unwoundSum(start: number, len: number, k: number): number {
    const w = this.weight;
    const last = len - 1;
    const one = this.one[start + k]!;
    const zero = this.zero[start + k]!;
    let total = 0;
    if (one !== 0) {
      const up = len / one;
      const down = zero / len;
      const r = this.recip;
      let next = w[start + last]!;
      for (let j = last - 1; j >= 0; j--) {
        const t = next * (up * r[j + 1]!);
        total += t;
        next = w[start + j]! - t * (down * (last - j));
      }
    } else {
      const up = len / zero;
      const r = this.recip;
      for (let j = last - 1; j >= 0; j--) total += w[start + j]! * up * r[last - j]!;
    }
    return total;
  }

  copy(from: number, to: number, len: number): void {
    // Paths are a few elements long: a plain loop beats four native copyWithin calls.
    const { feature, zero, one, weight } = this;
    for (let i = 0; i < len; i++) {
      feature[to + i] = feature[from + i]!;
      zero[to + i] = zero[from + i]!;
      one[to + i] = one[from + i]!;
      weight[to + i] = weight[from + i]!;
    }
  }
}

/** One tree's contributions for one row, added (times `scale`) into `phi`. */
class TreeExplainer {
  private readonly path: PathBuffer;
  private row: ArrayLike<number> = [];
  private phi: Float64Array = new Float64Array(0);
  private scale = 1;

  constructor(
    private readonly tree: Tree,
    private readonly float32: boolean,
  ) {
    const d = maxDepth(tree);
    // Frame k holds at most k + 1 elements (the root's placeholder plus one per split above).
    this.path = new PathBuffer(((d + 2) * (d + 3)) / 2, d + 2);
  }

  explain(row: ArrayLike<number>, phi: Float64Array, scale: number): void {
    if (this.tree.left[0] === -1) return;
    this.row = row;
    this.phi = phi;
    this.scale = scale;
    this.recurse(0, 0, 0, 1, 1, -1);
  }

  /**
   * Visits `node`, reached from a parent whose path occupies `parentLen` elements at
   * `parentStart`, through a split on `feature` that background rows take with
   * probability `zero` and the explained row takes iff `one` is 1.
   */
  private recurse(
    node: number,
    parentStart: number,
    parentLen: number,
    zero: number,
    one: number,
    feature: number,
  ): void {
    const tree = this.tree;
    const path = this.path;
    const start = parentStart + parentLen;
    if (parentLen > 0) path.copy(parentStart, start, parentLen);
    path.extend(start, parentLen, zero, one, feature);
    let len = parentLen + 1;

    if (tree.left[node] === -1) {
      const v = tree.value[node]! * this.scale;
      // Element 0 is the root's placeholder, not a feature.
      for (let k = 1; k < len; k++) {
        const w = path.unwoundSum(start, len, k);
        this.phi[path.feature[start + k]!]! += w * (path.one[start + k]! - path.zero[start + k]!) * v;
      }
      return;
    }

    const f = tree.feature[node]!;
    const left = tree.left[node]!;
    const right = tree.right[node]!;
    const toLeft = goesLeft(tree, node, this.row[f]!, this.float32);
    const hot = toLeft ? left : right;
    const cold = toLeft ? right : left;

    // A feature already split on above: merge with its earlier element, so each feature
    // appears once and the fractions multiply along the path.
    let incomingZero = 1;
    let incomingOne = 1;
    for (let k = 1; k < len; k++) {
      if (path.feature[start + k] === f) {
        incomingZero = path.zero[start + k]!;
        incomingOne = path.one[start + k]!;
        path.unwind(start, len, k);
        len--;
        break;
      }
    }
    const cover = tree.cover[node]!;
    const hotShare = cover > 0 ? tree.cover[hot]! / cover : 0;
    const coldShare = cover > 0 ? tree.cover[cold]! / cover : 0;
    // A branch neither the row nor any background row takes adds nothing; skipping it
    // also keeps 0/0 out of the weights.
    const hotZero = incomingZero * hotShare;
    const coldZero = incomingZero * coldShare;
    if (hotZero > 0 || incomingOne > 0) this.recurse(hot, start, len, hotZero, incomingOne, f);
    if (coldZero > 0) this.recurse(cold, start, len, coldZero, 0, f);
  }
}

export interface TreeShapOptions {
  /** Called after each block of rows, for progress displays. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Exact SHAP values of a tree ensemble by path-dependent TreeSHAP (Lundberg, Erion & Lee,
 * "Consistent individualized feature attribution for tree ensembles", Algorithm 2): for
 * each row, the Shapley value of every feature in the game where an unknown feature's
 * splits send the row down both branches weighted by the training rows (node covers) that
 * went each way. Runs in O(trees × leaves × depth²) per row.
 *
 * Numeric and categorical splits and missing values follow exactly the routing of
 * prediction (a missing value takes the node's default direction, so a missing feature
 * can carry a contribution, as in XGBoost). Forests average their trees, so each tree's
 * values are divided by the trees in its group. Per row and group, the contributions plus
 * the bias equal the raw margin (see {@link ShapValues}).
 *
 * @example
 * const shap = treeShap(model, Xtest);
 * const row0 = shapRow(shap, 0); // features + bias, summing to the margin of row 0
 */
export function treeShap(model: TreeEnsemble, X: Matrix, options: TreeShapOptions = {}): ShapValues {
  assertMatrix(X);
  if (X.cols !== model.numFeatures) {
    throw new ValidationError(`the rows have ${X.cols} features but the model takes ${model.numFeatures}`, {
      hint: "Explain rows transformed the same way as the training data (e.g. with the model's pipeline).",
    });
  }
  assertCovers(model);
  const G = model.numGroups;
  const F = model.numFeatures;
  const width = F + 1;
  const counts = new Float64Array(G);
  for (let t = 0; t < model.trees.length; t++) counts[model.treeGroup[t]!]!++;
  const scaleOf = (g: number) => (model.averageTrees && counts[g]! > 0 ? 1 / counts[g]! : 1);

  const expectedValue = new Float64Array(G);
  for (let g = 0; g < G; g++) expectedValue[g] = model.baseMargin[g] ?? 0;
  for (let t = 0; t < model.trees.length; t++) {
    const g = model.treeGroup[t]!;
    expectedValue[g]! += nodeMeans(model.trees[t]!)[0]! * scaleOf(g);
  }

  const explainers = model.trees.map((tree) => new TreeExplainer(tree, model.float32));
  const values = new Float64Array(X.rows * G * width);
  const block = 64;
  for (let r = 0; r < X.rows; r++) {
    const row = X.data.subarray(r * F, (r + 1) * F);
    for (let t = 0; t < explainers.length; t++) {
      const g = model.treeGroup[t]!;
      const phi = values.subarray((r * G + g) * width, (r * G + g + 1) * width);
      explainers[t]!.explain(row, phi, scaleOf(g));
    }
    for (let g = 0; g < G; g++) values[(r * G + g) * width + F] = expectedValue[g]!;
    if (options.onProgress && ((r + 1) % block === 0 || r + 1 === X.rows)) options.onProgress(r + 1, X.rows);
  }
  return {
    rows: X.rows,
    groups: G,
    features: F,
    values,
    expectedValue,
    ...(model.featureNames ? { featureNames: [...model.featureNames] } : {}),
  };
}
