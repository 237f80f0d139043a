/**
 * The one in-memory representation of a trained tree ensemble. Quintet's own learners
 * (GBDT, random forest) produce it, the XGBoost and LightGBM importers produce it, and
 * the predictors, TreeSHAP and the exporters read it. Its fields are plain data so a
 * model serialises to JSON and back without loss.
 */

/** How leaf sums become predictions. */
export type Link = "identity" | "sigmoid" | "softmax" | "exp";

/** Split kinds, chosen per node. */
export const SplitKind = {
  /** Numeric, go left when `x < threshold` (XGBoost semantics). */
  LessThan: 0,
  /** Numeric, go left when `x <= threshold` (LightGBM semantics). */
  LessOrEqual: 1,
  /** Categorical: go left when the category code is in `categories[node]` (or not, see `categoryLeft`). */
  Categorical: 2,
} as const;
export type SplitKind = (typeof SplitKind)[keyof typeof SplitKind];

/** What counts as missing at a node (LightGBM's `missing_type`; XGBoost is always `NaN`). */
export const MissingKind = {
  /** NaN is missing and goes the default direction. */
  NaN: 0,
  /** NaN and zero (|x| <= 1e-35) are missing and go the default direction. */
  Zero: 1,
  /** Nothing is missing: NaN is compared as 0. */
  None: 2,
} as const;
export type MissingKind = (typeof MissingKind)[keyof typeof MissingKind];

/**
 * One tree as parallel arrays over its nodes; node 0 is the root.
 * A node is a leaf when `left[node] === -1`.
 */
export interface Tree {
  left: Int32Array;
  right: Int32Array;
  /** Split feature index (unused on leaves). */
  feature: Int32Array;
  /** Numeric threshold (unused on leaves and categorical splits). */
  threshold: Float64Array;
  /** {@link SplitKind} per node. */
  kind: Uint8Array;
  /** {@link MissingKind} per node. */
  missing: Uint8Array;
  /** 1 when missing values go left. */
  defaultLeft: Uint8Array;
  /** Leaf value (raw margin contribution); for internal nodes, the value the node would have as a leaf. */
  value: Float64Array;
  /** Sum of hessians (XGBoost's `cover`) of the training rows that reached the node. */
  cover: Float64Array;
  /** Loss reduction of the split (0 on leaves). */
  gain: Float64Array;
  /**
   * For categorical nodes: the category codes of the set, sorted ascending; `null` elsewhere.
   * Codes are the non-negative integers the feature holds.
   */
  categories: (Int32Array | null)[];
  /**
   * For categorical nodes: 1 when categories in the set go left (LightGBM), 0 when they go
   * right (XGBoost). Codes not in the set go the other way; missing goes by `defaultLeft`.
   */
  categoryLeft: Uint8Array;
}

/** A trained ensemble of trees. */
export interface TreeEnsemble {
  numFeatures: number;
  featureNames?: string[];
  /** Indices of features that hold category codes. */
  categoricalFeatures?: number[];
  /** Number of output groups: 1 for regression and binary, K for K-class softmax. */
  numGroups: number;
  /** Output group of each tree (all 0 unless multiclass). */
  treeGroup: Int32Array;
  /** Margin added to each group before the link (already in margin space). */
  baseMargin: number[];
  link: Link;
  /** Random forest: each group's output is the mean of its trees, not the sum. */
  averageTrees: boolean;
  /**
   * Compare features and thresholds as 32-bit floats (XGBoost does; LightGBM and
   * Quintet's own learners compare doubles).
   */
  float32: boolean;
  /** Objective name for documentation and export (e.g. `binary:logistic`). */
  objective: string;
  trees: Tree[];
}

/** Allocates a tree with `n` nodes, all leaves with value 0. */
export function allocTree(n: number): Tree {
  const left = new Int32Array(n).fill(-1);
  const right = new Int32Array(n).fill(-1);
  return {
    left,
    right,
    feature: new Int32Array(n),
    threshold: new Float64Array(n),
    kind: new Uint8Array(n),
    missing: new Uint8Array(n),
    defaultLeft: new Uint8Array(n),
    value: new Float64Array(n),
    cover: new Float64Array(n),
    gain: new Float64Array(n),
    categories: new Array<Int32Array | null>(n).fill(null),
    categoryLeft: new Uint8Array(n),
  };
}
