import {
  allocTree,
  type Link,
  MissingKind,
  SplitKind,
  type Tree,
  type TreeEnsemble,
} from "../models/ensemble/types.js";
import { corrupt, isObj, numParam, nums, type Obj, obj, parseLenientJson, unsupported } from "./parse.js";
import { decodeUbjson } from "./ubjson.js";

const F = "XGBoost";

/** What each supported XGBoost objective means for prediction. */
interface ObjectiveSpec {
  link: Link;
  /** Turns `base_score` (in prediction space) into a margin. */
  toMargin: (p: number) => number;
}

const logit = (p: number) => {
  if (!(p > 0 && p < 1)) corrupt(F, `base_score ${p} must be in (0, 1) for a logistic objective`);
  return Math.log(p / (1 - p));
};
const log = (p: number) => {
  if (!(p > 0)) corrupt(F, `base_score ${p} must be > 0 for a log-link objective`);
  return Math.log(p);
};
const id = (p: number) => p;

const OBJECTIVES: Record<string, ObjectiveSpec> = {
  "binary:logistic": { link: "sigmoid", toMargin: logit },
  "reg:logistic": { link: "sigmoid", toMargin: logit },
  "binary:logitraw": { link: "identity", toMargin: id },
  "reg:squarederror": { link: "identity", toMargin: id },
  "reg:linear": { link: "identity", toMargin: id },
  "reg:squaredlogerror": { link: "identity", toMargin: id },
  "reg:pseudohubererror": { link: "identity", toMargin: id },
  "reg:absoluteerror": { link: "identity", toMargin: id },
  "reg:quantileerror": { link: "identity", toMargin: id },
  "count:poisson": { link: "exp", toMargin: log },
  "reg:gamma": { link: "exp", toMargin: log },
  "reg:tweedie": { link: "exp", toMargin: log },
  "multi:softprob": { link: "softmax", toMargin: id },
  // multi:softmax predicts the argmax class; the ensemble gives its class probabilities.
  "multi:softmax": { link: "softmax", toMargin: id },
};

/** The names {@link loadXgboostModel} accepts. */
export const XGBOOST_OBJECTIVES = Object.keys(OBJECTIVES);

/** Parses bytes (JSON or UBJSON), text (JSON) or an already parsed object into the model document. */
function toDocument(input: Uint8Array | ArrayBuffer | string | object): unknown {
  if (typeof input === "string") return parseLenientJson(input, F);
  const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : input instanceof Uint8Array ? input : undefined;
  if (!bytes) return input;
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (i >= bytes.length) corrupt(F, "the file is empty");
  if (bytes[i] !== 0x7b) {
    const head = new TextDecoder().decode(bytes.subarray(0, 4));
    corrupt(
      F,
      head === "binf" || bytes[0] === 0
        ? "this is XGBoost's legacy binary format, which is not supported"
        : `the file does not start with '{' (neither JSON nor UBJSON; first bytes ${JSON.stringify(head)})`,
    );
  }
  // JSON continues with a quote, whitespace or '}'; UBJSON with a length/type marker.
  let j = i + 1;
  while (j < bytes.length && (bytes[j] === 0x20 || bytes[j] === 0x0a || bytes[j] === 0x0d || bytes[j] === 0x09)) j++;
  if (j < bytes.length && (bytes[j] === 0x22 || (bytes[j] === 0x7d && j > i + 1))) {
    return parseLenientJson(new TextDecoder().decode(bytes), F);
  }
  return decodeUbjson(bytes);
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") corrupt(F, `${what} must be a string`);
  return v;
}

/** XGBoost 1.x writes base_score as "5E-1"; 2.x/3.x as a vector "[5E-1]" (one per target). */
function parseBaseScore(v: unknown, numGroups: number): number[] {
  if (typeof v === "string" && v.trim().startsWith("[")) {
    const parts = v
      .trim()
      .slice(1, -1)
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0)
      .map((s) => numParam(F, s, "learner_model_param.base_score"));
    if (parts.length === 0) corrupt(F, `base_score "${v}" is an empty vector`);
    if (parts.length === 1) return new Array<number>(numGroups).fill(parts[0]!);
    if (parts.length !== numGroups) corrupt(F, `base_score has ${parts.length} values for ${numGroups} output groups`);
    return parts;
  }
  return new Array<number>(numGroups).fill(numParam(F, v, "learner_model_param.base_score"));
}

function readTree(t: Obj, ti: number, numFeature: number, weight: number): Tree {
  const where = `tree ${ti}`;
  const left = nums(F, t, "left_children", where);
  const right = nums(F, t, "right_children", where);
  const splitIdx = nums(F, t, "split_indices", where);
  const cond = nums(F, t, "split_conditions", where);
  const dl = nums(F, t, "default_left", where);
  const n = left.length;
  if (n === 0) corrupt(F, `${where} has no nodes`);
  for (const [name, a] of [
    ["right_children", right],
    ["split_indices", splitIdx],
    ["split_conditions", cond],
    ["default_left", dl],
  ] as const) {
    if (a.length !== n) corrupt(F, `${where}: "${name}" has ${a.length} entries, "left_children" has ${n}`);
  }
  const hess = nums(F, t, "sum_hessian", where, false);
  const gain = nums(F, t, "loss_changes", where, false);
  const baseWeights = nums(F, t, "base_weights", where, false);
  const splitType = nums(F, t, "split_type", where, false);
  const tp = t.tree_param;
  if (isObj(tp) && tp.size_leaf_vector !== undefined && numParam(F, tp.size_leaf_vector, "size_leaf_vector") > 1) {
    unsupported(
      `${where} has vector leaves (multi_strategy="multi_output_tree"), which Quintet does not represent`,
      "Train with the default multi_strategy (one_output_per_tree).",
    );
  }
  const tree = allocTree(n);
  for (let i = 0; i < n; i++) {
    const l = left[i]!;
    if (l === -1) {
      // XGBoost keeps a leaf's value in split_conditions, as float32.
      tree.value[i] = Math.fround(Math.fround(cond[i]!) * weight);
      if (Number.isNaN(tree.value[i])) corrupt(F, `${where} leaf ${i} has no value`);
    } else {
      const r = right[i]!;
      if (!Number.isInteger(l) || !Number.isInteger(r) || l < 0 || r < 0 || l >= n || r >= n) {
        corrupt(F, `${where} node ${i} has children ${l}, ${r} outside 0..${n - 1}`);
      }
      const f = splitIdx[i]!;
      if (!Number.isInteger(f) || f < 0 || f >= numFeature) {
        corrupt(F, `${where} node ${i} splits on feature ${f}, but num_feature is ${numFeature}`);
      }
      tree.left[i] = l;
      tree.right[i] = r;
      tree.feature[i] = f;
      tree.defaultLeft[i] = dl[i] ? 1 : 0;
      tree.missing[i] = MissingKind.NaN;
      tree.kind[i] = splitType.length > 0 && splitType[i] === 1 ? SplitKind.Categorical : SplitKind.LessThan;
      if (tree.kind[i] === SplitKind.LessThan) {
        tree.threshold[i] = Math.fround(cond[i]!);
        if (Number.isNaN(tree.threshold[i])) corrupt(F, `${where} node ${i} has a NaN threshold`);
      }
      tree.value[i] = baseWeights.length === n ? Math.fround(baseWeights[i]!) : 0;
    }
    if (hess.length === n) tree.cover[i] = Math.fround(hess[i]!);
    if (gain.length === n && l !== -1) tree.gain[i] = Math.fround(gain[i]!);
  }
  if (splitType.length > 0) readCategories(t, tree, where);
  return tree;
}

/** Categorical sets: `categories_nodes[k]` owns `categories[segments[k] .. + sizes[k]]`; in-set goes right. */
function readCategories(t: Obj, tree: Tree, where: string): void {
  const nodes = nums(F, t, "categories_nodes", where, false);
  const segs = nums(F, t, "categories_segments", where, false);
  const sizes = nums(F, t, "categories_sizes", where, false);
  const cats = nums(F, t, "categories", where, false);
  if (segs.length !== nodes.length || sizes.length !== nodes.length) {
    corrupt(F, `${where}: categories_nodes, categories_segments and categories_sizes differ in length`);
  }
  for (let k = 0; k < nodes.length; k++) {
    const node = nodes[k]!;
    if (!(node >= 0 && node < tree.left.length) || tree.kind[node] !== SplitKind.Categorical) {
      corrupt(F, `${where}: categories_nodes[${k}] = ${node} is not a categorical split`);
    }
    const s = segs[k]!;
    const z = sizes[k]!;
    if (!(s >= 0 && z >= 0 && s + z <= cats.length)) corrupt(F, `${where}: category segment ${k} is out of range`);
    const set = Int32Array.from(Array.from({ length: z }, (_, i) => cats[s + i]!)).sort();
    tree.categories[node] = set;
    tree.categoryLeft[node] = 0;
  }
  for (let i = 0; i < tree.left.length; i++) {
    if (tree.kind[i] === SplitKind.Categorical && tree.categories[i] === null) {
      corrupt(F, `${where}: categorical node ${i} has no category set`);
    }
  }
}

/**
 * Loads an XGBoost model saved with `save_model("*.json")` or `("*.ubj")` (XGBoost 1.6+):
 * `gbtree` and `dart` boosters, numeric and categorical splits, default directions,
 * `base_score` converted to a margin through the objective's link, and XGBoost's float32
 * comparisons. Accepts the file's bytes, its JSON text, or the parsed JSON object.
 *
 * Malformed files raise VALIDATION_FAILED; boosters or objectives Quintet cannot score
 * (gblinear, ranking with custom links, survival, vector leaves) raise UNSUPPORTED.
 */
export function loadXgboostModel(input: Uint8Array | ArrayBuffer | string | object): TreeEnsemble {
  const doc = toDocument(input);
  const learner = obj(F, doc, "learner");
  const lmp = obj(F, learner, "learner_model_param");
  const objective = obj(F, learner, "objective");
  const objName = str(objective.name, "learner.objective.name");
  const spec = OBJECTIVES[objName];
  if (!spec) {
    unsupported(
      `XGBoost objective "${objName}" is not supported`,
      `Supported objectives: ${XGBOOST_OBJECTIVES.join(", ")}.`,
    );
  }
  const gb = obj(F, learner, "gradient_booster");
  const boosterName = str(gb.name, "gradient_booster.name");
  let model: Obj;
  let weights: ArrayLike<number> | undefined;
  if (boosterName === "gbtree") {
    model = obj(F, gb, "model");
  } else if (boosterName === "dart") {
    model = obj(F, gb, "gbtree.model");
    weights = nums(F, gb, "weight_drop", "dart booster");
  } else {
    return unsupported(
      `XGBoost booster "${boosterName}" is not supported (only tree boosters: gbtree, dart)`,
      "Train with booster='gbtree' (the default) to import the model.",
    );
  }
  const numFeature = numParam(F, lmp.num_feature, "learner_model_param.num_feature");
  const numClass = numParam(F, lmp.num_class ?? "0", "learner_model_param.num_class");
  const numTarget = numParam(F, lmp.num_target ?? "1", "learner_model_param.num_target");
  if (numTarget > 1) {
    unsupported(`XGBoost model has ${numTarget} targets`, "Export one model per target.");
  }
  if (!Number.isInteger(numFeature) || numFeature < 1)
    corrupt(F, `num_feature ${numFeature} must be a positive integer`);
  const numGroups = spec.link === "softmax" ? numClass : 1;
  if (spec.link === "softmax" && !(Number.isInteger(numClass) && numClass >= 2)) {
    corrupt(F, `objective ${objName} needs num_class >= 2, got ${numClass}`);
  }
  const treesRaw = model.trees;
  if (!Array.isArray(treesRaw)) corrupt(F, `gradient_booster.model.trees must be an array`);
  const info = nums(F, model, "tree_info", "gradient_booster.model");
  if (info.length !== treesRaw.length) {
    corrupt(F, `tree_info has ${info.length} entries for ${treesRaw.length} trees`);
  }
  if (weights && weights.length !== treesRaw.length) {
    corrupt(F, `dart weight_drop has ${weights.length} entries for ${treesRaw.length} trees`);
  }
  const trees = treesRaw.map((t, i) => {
    if (!isObj(t)) corrupt(F, `tree ${i} must be an object`);
    return readTree(t, i, numFeature, weights ? weights[i]! : 1);
  });
  const treeGroup = Int32Array.from(info);
  for (let i = 0; i < treeGroup.length; i++) {
    if (!(treeGroup[i]! >= 0 && treeGroup[i]! < numGroups)) {
      corrupt(F, `tree_info[${i}] = ${info[i]} is not an output group (0..${numGroups - 1})`);
    }
  }
  const base = parseBaseScore(lmp.base_score ?? "0.5", numGroups).map((b) => spec.toMargin(Math.fround(b)));

  const names = Array.isArray(learner.feature_names) ? (learner.feature_names as unknown[]) : [];
  const types = Array.isArray(learner.feature_types) ? (learner.feature_types as unknown[]) : [];
  const categorical = types.flatMap((t, i) => (t === "c" ? [i] : []));
  for (const t of trees) {
    for (let i = 0; i < t.left.length; i++) {
      if (t.kind[i] === SplitKind.Categorical && !categorical.includes(t.feature[i]!)) categorical.push(t.feature[i]!);
    }
  }
  categorical.sort((a, b) => a - b);
  const e: TreeEnsemble = {
    numFeatures: numFeature,
    numGroups,
    treeGroup,
    baseMargin: base,
    link: spec.link,
    averageTrees: false,
    float32: true,
    objective: objName,
    trees,
  };
  if (names.length === numFeature && names.every((n) => typeof n === "string")) e.featureNames = names as string[];
  if (categorical.length > 0) e.categoricalFeatures = categorical;
  return e;
}
