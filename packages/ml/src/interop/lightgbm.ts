import {
  allocTree,
  type Link,
  MissingKind,
  SplitKind,
  type Tree,
  type TreeEnsemble,
} from "../models/ensemble/types.js";
import { corrupt, unsupported } from "./parse.js";

const F = "LightGBM";

/** decision_type bits, as in LightGBM's tree.h. */
const CATEGORICAL_MASK = 1;
const DEFAULT_LEFT_MASK = 2;

/** How each LightGBM objective turns raw scores into predictions. */
const LINKS: Record<string, Link> = {
  binary: "sigmoid",
  cross_entropy: "sigmoid",
  xentropy: "sigmoid",
  multiclass: "softmax",
  softmax: "softmax",
  multiclassova: "sigmoid",
  ova: "sigmoid",
  regression: "identity",
  regression_l2: "identity",
  regression_l1: "identity",
  l1: "identity",
  l2: "identity",
  huber: "identity",
  fair: "identity",
  quantile: "identity",
  mape: "identity",
  lambdarank: "identity",
  rank_xendcg: "identity",
  poisson: "exp",
  gamma: "exp",
  tweedie: "exp",
};

/** LightGBM prints non-finite doubles as inf/-inf/nan. */
function num(s: string, what: string): number {
  const t = s.trim().toLowerCase();
  if (t === "inf" || t === "+inf" || t === "infinity") return Number.POSITIVE_INFINITY;
  if (t === "-inf" || t === "-infinity") return Number.NEGATIVE_INFINITY;
  if (t === "nan" || t === "-nan") return Number.NaN;
  const n = Number(t);
  if (t === "" || Number.isNaN(n)) corrupt(F, `${what}: "${s}" is not a number`);
  return n;
}

function list(fields: Map<string, string>, key: string, where: string, length: number, required = true): number[] {
  const raw = fields.get(key);
  if (raw === undefined) {
    if (required && length > 0) corrupt(F, `${where} has no "${key}" line`);
    return [];
  }
  const parts = raw.trim() === "" ? [] : raw.trim().split(/\s+/);
  if (parts.length !== length) corrupt(F, `${where}: "${key}" has ${parts.length} values, expected ${length}`);
  return parts.map((p, i) => num(p, `${where} ${key}[${i}]`));
}

function int(fields: Map<string, string>, key: string, where: string): number {
  const raw = fields.get(key);
  if (raw === undefined) corrupt(F, `${where} has no "${key}" line`);
  const n = num(raw, `${where} ${key}`);
  if (!Number.isInteger(n) || n < 0) corrupt(F, `${where}: ${key}=${raw} must be a non-negative integer`);
  return n;
}

/** Categories whose bit is set in the words `cat_threshold[lo..hi)` (bit j of word w is category 32w + j). */
function bitsetCategories(words: number[], lo: number, hi: number): Int32Array {
  const out: number[] = [];
  for (let w = lo; w < hi; w++) {
    const word = words[w]! >>> 0;
    for (let b = 0; b < 32; b++) if ((word >>> b) & 1) out.push((w - lo) * 32 + b);
  }
  return Int32Array.from(out);
}

/**
 * One `Tree=` block. LightGBM numbers internal nodes 0..L-2 and leaves 0..L-1 separately
 * (a negative child c is leaf ~c); here leaf j becomes node L-1+j.
 */
function readTree(fields: Map<string, string>, ti: number, numFeatures: number, scale: number): Tree {
  const where = `Tree=${ti}`;
  const L = int(fields, "num_leaves", where);
  if (L < 1) corrupt(F, `${where}: num_leaves must be >= 1`);
  if ((fields.get("is_linear") ?? "0").trim() !== "0") {
    unsupported(
      `${where} is a linear tree (linear_tree=true), which Quintet does not represent`,
      "Train without linear_tree.",
    );
  }
  const leafValue = list(fields, "leaf_value", where, L);
  if (L === 1) {
    const t = allocTree(1);
    t.value[0] = leafValue[0]! * scale;
    return t;
  }
  const I = L - 1;
  const splitFeature = list(fields, "split_feature", where, I);
  const threshold = list(fields, "threshold", where, I);
  const decisionType = list(fields, "decision_type", where, I, false);
  const leftChild = list(fields, "left_child", where, I);
  const rightChild = list(fields, "right_child", where, I);
  const gain = list(fields, "split_gain", where, I, false);
  const internalValue = list(fields, "internal_value", where, I, false);
  const internalWeight = list(fields, "internal_weight", where, I, false);
  const leafWeight = list(fields, "leaf_weight", where, L, false);
  const numCat = fields.has("num_cat") ? int(fields, "num_cat", where) : 0;
  const catBoundaries = numCat > 0 ? list(fields, "cat_boundaries", where, numCat + 1) : [];
  const catWords = catBoundaries.length > 0 ? catBoundaries[catBoundaries.length - 1]! : 0;
  const catThreshold = numCat > 0 ? list(fields, "cat_threshold", where, catWords) : [];

  const t = allocTree(I + L);
  const child = (c: number, i: number): number => {
    if (!Number.isInteger(c)) corrupt(F, `${where}: node ${i} has child ${c}`);
    if (c >= 0) {
      if (c >= I) corrupt(F, `${where}: node ${i} points to internal node ${c}, but there are ${I}`);
      return c;
    }
    const leaf = ~c;
    if (leaf >= L) corrupt(F, `${where}: node ${i} points to leaf ${leaf}, but there are ${L}`);
    return I + leaf;
  };
  for (let i = 0; i < I; i++) {
    t.left[i] = child(leftChild[i]!, i);
    t.right[i] = child(rightChild[i]!, i);
    const f = splitFeature[i]!;
    if (!Number.isInteger(f) || f < 0 || f >= numFeatures) {
      corrupt(F, `${where}: node ${i} splits on feature ${f}, but max_feature_idx is ${numFeatures - 1}`);
    }
    t.feature[i] = f;
    const dt = decisionType.length > 0 ? decisionType[i]! : 0;
    if (dt & CATEGORICAL_MASK) {
      // LightGBM: categories in the bitset go left; NaN and negative codes go right.
      const k = threshold[i]!;
      if (!Number.isInteger(k) || k < 0 || k >= numCat)
        corrupt(F, `${where}: node ${i} has category set ${k} of ${numCat}`);
      const lo = catBoundaries[k]!;
      const hi = catBoundaries[k + 1]!;
      if (!(lo >= 0 && lo <= hi && hi <= catWords)) corrupt(F, `${where}: cat_boundaries are not increasing`);
      t.kind[i] = SplitKind.Categorical;
      t.categories[i] = bitsetCategories(catThreshold, lo, hi);
      t.categoryLeft[i] = 1;
      t.missing[i] = MissingKind.NaN;
      t.defaultLeft[i] = 0;
    } else {
      const missingType = (dt >> 2) & 3;
      if (missingType === 3) corrupt(F, `${where}: node ${i} has unknown missing type in decision_type ${dt}`);
      t.kind[i] = SplitKind.LessOrEqual;
      t.threshold[i] = threshold[i]!;
      if (Number.isNaN(t.threshold[i])) corrupt(F, `${where}: node ${i} has a NaN threshold`);
      t.missing[i] = missingType === 0 ? MissingKind.None : missingType === 1 ? MissingKind.Zero : MissingKind.NaN;
      t.defaultLeft[i] = dt & DEFAULT_LEFT_MASK ? 1 : 0;
    }
    if (gain.length === I) t.gain[i] = gain[i]!;
    if (internalValue.length === I) t.value[i] = internalValue[i]! * scale;
    if (internalWeight.length === I) t.cover[i] = internalWeight[i]!;
  }
  for (let j = 0; j < L; j++) {
    t.value[I + j] = leafValue[j]! * scale;
    if (leafWeight.length === L) t.cover[I + j] = leafWeight[j]!;
  }
  return t;
}

/** Splits the text into the header's key=value lines and one map per `Tree=` block. */
function sections(text: string): { header: Map<string, string>; flags: Set<string>; trees: Map<string, string>[] } {
  const header = new Map<string, string>();
  const flags = new Set<string>();
  const trees: Map<string, string>[] = [];
  let current: Map<string, string> | null = null;
  let ended = false;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "") continue;
    if (line === "end of trees") {
      ended = true;
      break;
    }
    const eq = line.indexOf("=");
    const key = eq < 0 ? line : line.slice(0, eq);
    const value = eq < 0 ? "" : line.slice(eq + 1);
    if (key === "Tree") {
      if (Number(value) !== trees.length) corrupt(F, `found Tree=${value} where Tree=${trees.length} was expected`);
      current = new Map();
      trees.push(current);
      continue;
    }
    if (current) current.set(key, value);
    else if (eq < 0) flags.add(key);
    else header.set(key, value);
  }
  if (!ended) corrupt(F, `no "end of trees" line: the file is truncated`);
  return { header, flags, trees };
}

/**
 * Loads a LightGBM model saved as text (`booster.save_model("model.txt")`, the CLI's
 * output): numeric splits (`x <= threshold`, missing types None/Zero/NaN with default
 * directions), categorical bitset splits (in-set goes left), multiclass (`num_tree_per_iteration`),
 * random-forest averaging (`average_output`) and the objective's link (sigmoid, softmax,
 * exp). A `sigmoid:k` parameter other than 1 is folded into the leaves, so margins are
 * k × LightGBM's raw score and probabilities equal LightGBM's.
 *
 * Malformed text raises VALIDATION_FAILED; linear trees or unknown objectives raise UNSUPPORTED.
 */
export function loadLightgbmModel(text: string | Uint8Array): TreeEnsemble {
  const s = typeof text === "string" ? text : new TextDecoder().decode(text);
  const firstLine = s.slice(0, 200).trimStart().split(/\r?\n/, 1)[0]?.trim();
  if (firstLine !== "tree") {
    corrupt(F, `the text must start with the line "tree" (found ${JSON.stringify(firstLine?.slice(0, 40) ?? "")})`);
  }
  const { header, flags, trees: blocks } = sections(s);
  const maxFeature = int(header, "max_feature_idx", "header");
  const numFeatures = maxFeature + 1;
  const numClass = header.has("num_class") ? int(header, "num_class", "header") : 1;
  const perIter = header.has("num_tree_per_iteration") ? int(header, "num_tree_per_iteration", "header") : numClass;
  const objLine = (header.get("objective") ?? "").trim();
  if (objLine === "") corrupt(F, `the header has no "objective" line`);
  const [objName, ...params] = objLine.split(/\s+/);
  const link = LINKS[objName!];
  if (!link) {
    unsupported(
      `LightGBM objective "${objName}" is not supported`,
      `Supported objectives: ${Object.keys(LINKS).join(", ")}.`,
    );
  }
  const param = (k: string) => params.find((p) => p.startsWith(`${k}:`))?.slice(k.length + 1);
  const sigmoid =
    link === "sigmoid" && param("sigmoid") !== undefined ? num(param("sigmoid")!, "objective sigmoid") : 1;
  if (!(sigmoid > 0)) corrupt(F, `objective sigmoid:${sigmoid} must be > 0`);
  const numGroups = perIter;
  if (numGroups < 1) corrupt(F, "num_tree_per_iteration must be >= 1");
  if (link === "softmax" && numGroups !== numClass) {
    corrupt(F, `multiclass model has num_class=${numClass} but num_tree_per_iteration=${numGroups}`);
  }
  if (blocks.length === 0) corrupt(F, "the model has no trees");
  if (blocks.length % numGroups !== 0) {
    corrupt(F, `${blocks.length} trees is not a multiple of num_tree_per_iteration=${numGroups}`);
  }
  const trees = blocks.map((b, i) => readTree(b, i, numFeatures, sigmoid));
  const names = (header.get("feature_names") ?? "").trim().split(/\s+/).filter(Boolean);
  const categorical = new Set<number>();
  for (const t of trees)
    for (let i = 0; i < t.left.length; i++) if (t.kind[i] === SplitKind.Categorical) categorical.add(t.feature[i]!);
  const e: TreeEnsemble = {
    numFeatures,
    numGroups,
    treeGroup: Int32Array.from(trees.map((_, i) => i % numGroups)),
    // LightGBM folds its initial score (boost_from_average) into the first trees' leaves.
    baseMargin: new Array<number>(numGroups).fill(0),
    link,
    averageTrees: flags.has("average_output"),
    float32: false,
    objective: `lightgbm:${objName}`,
    trees,
  };
  if (names.length === numFeatures) e.featureNames = names;
  if (categorical.size > 0) e.categoricalFeatures = [...categorical].sort((a, b) => a - b);
  return e;
}
