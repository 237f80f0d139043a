import { type Link, MissingKind, SplitKind, type Tree, type TreeEnsemble } from "../models/ensemble/types.js";
import { unsupported } from "./parse.js";
import { XGBOOST_OBJECTIVES } from "./xgboost.js";

/** Objective blocks as XGBoost 1.7+ writes them (its loader reads each objective's parameters). */
const OBJECTIVE_BLOCKS: Record<string, (numGroups: number) => Record<string, unknown>> = {
  "binary:logistic": () => ({ reg_loss_param: { scale_pos_weight: "1" } }),
  "reg:logistic": () => ({ reg_loss_param: { scale_pos_weight: "1" } }),
  "binary:logitraw": () => ({ reg_loss_param: { scale_pos_weight: "1" } }),
  "reg:squarederror": () => ({ reg_loss_param: { scale_pos_weight: "1" } }),
  "reg:pseudohubererror": () => ({ pseudo_huber_param: { huber_slope: "1" } }),
  "reg:absoluteerror": () => ({}),
  "count:poisson": () => ({ poisson_regression_param: { max_delta_step: "0.699999988" } }),
  "multi:softprob": (k) => ({ softmax_multiclass_param: { num_class: String(k) } }),
  "multi:softmax": (k) => ({ softmax_multiclass_param: { num_class: String(k) } }),
};

const DEFAULT_OBJECTIVE: Record<Link, string> = {
  sigmoid: "binary:logistic",
  softmax: "multi:softprob",
  exp: "count:poisson",
  identity: "reg:squarederror",
};

const LINK_OF: Record<string, Link> = {
  "binary:logistic": "sigmoid",
  "reg:logistic": "sigmoid",
  "binary:logitraw": "identity",
  "reg:squarederror": "identity",
  "reg:pseudohubererror": "identity",
  "reg:absoluteerror": "identity",
  "count:poisson": "exp",
  "multi:softprob": "softmax",
  "multi:softmax": "softmax",
};

/** Writes a float the way XGBoost's JSON does closely enough to read back the same float32. */
const f32 = (x: number) => Math.fround(x);

function checkExportable(e: TreeEnsemble): void {
  e.trees.forEach((t, ti) => {
    for (let i = 0; i < t.left.length; i++) {
      if (t.left[i] === -1) continue;
      if (t.kind[i] === SplitKind.LessOrEqual) {
        unsupported(
          `tree ${ti} node ${i} is an "x <= threshold" split (LightGBM semantics), which XGBoost cannot represent`,
          "Only ensembles with XGBoost's 'x < threshold' splits export to XGBoost JSON; keep LightGBM models in Quintet's own format.",
        );
      }
      if (t.missing[i] !== MissingKind.NaN) {
        unsupported(
          `tree ${ti} node ${i} treats ${t.missing[i] === MissingKind.Zero ? "zero" : "nothing"} as missing; XGBoost only treats NaN as missing`,
          "Only ensembles whose missing values are NaN export to XGBoost JSON.",
        );
      }
    }
  });
}

/** Breadth-first node order, as XGBoost numbers nodes. */
function bfsOrder(t: Tree): number[] {
  const order = [0];
  for (let k = 0; k < order.length; k++) {
    const n = order[k]!;
    if (t.left[n] !== -1) order.push(t.left[n]!, t.right[n]!);
  }
  return order;
}

function treeJson(t: Tree, id: number, numFeatures: number, scale: number): Record<string, unknown> {
  const order = bfsOrder(t);
  const pos = new Map<number, number>();
  for (let k = 0; k < order.length; k++) pos.set(order[k]!, k);
  const n = order.length;
  const left: number[] = [];
  const right: number[] = [];
  const parents = new Array<number>(n).fill(2147483647);
  const splitIdx: number[] = [];
  const cond: number[] = [];
  const dl: number[] = [];
  const splitType: number[] = [];
  const baseWeights: number[] = [];
  const loss: number[] = [];
  const hess: number[] = [];
  const catNodes: number[] = [];
  const catSegs: number[] = [];
  const catSizes: number[] = [];
  const cats: number[] = [];
  for (let k = 0; k < n; k++) {
    const s = order[k]!;
    hess.push(f32(t.cover[s]!));
    if (t.left[s] === -1) {
      const v = f32(t.value[s]! * scale);
      left.push(-1);
      right.push(-1);
      splitIdx.push(0);
      cond.push(v);
      dl.push(0);
      splitType.push(0);
      baseWeights.push(v);
      loss.push(0);
      continue;
    }
    let l = pos.get(t.left[s]!)!;
    let r = pos.get(t.right[s]!)!;
    let defaultLeft = t.defaultLeft[s]!;
    if (t.kind[s] === SplitKind.Categorical) {
      // XGBoost sends the set RIGHT; a set that goes left is the same split with children swapped.
      if (t.categoryLeft[s] === 1) {
        [l, r] = [r, l];
        defaultLeft = defaultLeft ? 0 : 1;
      }
      const set = t.categories[s] ?? new Int32Array(0);
      catNodes.push(k);
      catSegs.push(cats.length);
      catSizes.push(set.length);
      cats.push(...set);
      splitType.push(1);
      cond.push(0);
    } else {
      splitType.push(0);
      cond.push(f32(t.threshold[s]!));
    }
    left.push(l);
    right.push(r);
    parents[l] = k;
    parents[r] = k;
    splitIdx.push(t.feature[s]!);
    dl.push(defaultLeft);
    baseWeights.push(f32(t.value[s]! * scale));
    loss.push(f32(t.gain[s]!));
  }
  return {
    base_weights: Float32Array.from(baseWeights),
    categories: cats,
    categories_nodes: catNodes,
    categories_segments: catSegs,
    categories_sizes: catSizes,
    default_left: dl,
    id,
    left_children: left,
    loss_changes: Float32Array.from(loss),
    parents,
    right_children: right,
    split_conditions: Float32Array.from(cond),
    split_indices: splitIdx,
    split_type: splitType,
    sum_hessian: Float32Array.from(hess),
    tree_param: { num_deleted: "0", num_feature: String(numFeatures), num_nodes: String(n), size_leaf_vector: "0" },
  };
}

/**
 * The ensemble as an XGBoost JSON document (the layout of `save_model("model.json")` in
 * XGBoost 1.7+); float fields are Float32Arrays, which {@link saveXgboostJson} writes as
 * JSON reals (XGBoost's parser rejects `1` where it expects a float, so plain
 * `JSON.stringify` is not enough).
 *
 * Exportable: `x < threshold` and categorical splits with NaN as the only missing value
 * (others raise UNSUPPORTED). Per-group base margins become one single-leaf tree per group
 * (XGBoost 1.x has one scalar base_score); averaged forests are exported with leaves divided
 * by the tree count. XGBoost stores floats as float32 and compares in float32: an ensemble
 * with `float32: false` scores the same except for values between a threshold and its
 * float32 rounding.
 */
export function toXgboostJson(e: TreeEnsemble): Record<string, unknown> {
  checkExportable(e);
  const objective =
    XGBOOST_OBJECTIVES.includes(e.objective) && LINK_OF[e.objective] === e.link && OBJECTIVE_BLOCKS[e.objective]
      ? e.objective
      : DEFAULT_OBJECTIVE[e.link];
  const counts = new Array<number>(e.numGroups).fill(0);
  for (const g of e.treeGroup) counts[g]!++;
  const trees: Record<string, unknown>[] = [];
  const info: number[] = [];
  e.trees.forEach((t, i) => {
    const g = e.treeGroup[i]!;
    trees.push(treeJson(t, trees.length, e.numFeatures, e.averageTrees && counts[g]! > 0 ? 1 / counts[g]! : 1));
    info.push(g);
  });
  // base_score 0 is margin 0 only for identity-link objectives; carry every base margin in a leaf.
  const identityBase = LINK_OF[objective] === "identity" || LINK_OF[objective] === "softmax";
  let baseScore = "0";
  if (!identityBase) baseScore = e.link === "sigmoid" ? "0.5" : "1";
  for (let g = 0; g < e.numGroups; g++) {
    const m = e.baseMargin[g] ?? 0;
    if (m === 0) continue;
    const leaf = {
      left: Int32Array.of(-1),
      right: Int32Array.of(-1),
      feature: Int32Array.of(0),
      threshold: Float64Array.of(0),
      kind: Uint8Array.of(0),
      missing: Uint8Array.of(0),
      defaultLeft: Uint8Array.of(0),
      value: Float64Array.of(m),
      cover: Float64Array.of(0),
      gain: Float64Array.of(0),
      categories: [null],
      categoryLeft: Uint8Array.of(0),
    };
    trees.push(treeJson(leaf, trees.length, e.numFeatures, 1));
    info.push(g);
  }
  const cat = new Set(e.categoricalFeatures ?? []);
  for (const t of e.trees)
    for (let i = 0; i < t.left.length; i++) if (t.kind[i] === SplitKind.Categorical) cat.add(t.feature[i]!);
  const learner: Record<string, unknown> = {
    attributes: {},
    feature_names: e.featureNames ?? [],
    feature_types: cat.size > 0 ? Array.from({ length: e.numFeatures }, (_, j) => (cat.has(j) ? "c" : "float")) : [],
    gradient_booster: {
      model: {
        gbtree_model_param: { num_parallel_tree: "1", num_trees: String(trees.length), size_leaf_vector: "0" },
        tree_info: info,
        trees,
      },
      name: "gbtree",
    },
    learner_model_param: {
      base_score: baseScore,
      boost_from_average: "1",
      num_class: objective.startsWith("multi:") ? String(e.numGroups) : "0",
      num_feature: String(e.numFeatures),
      num_target: "1",
    },
    objective: { name: objective, ...OBJECTIVE_BLOCKS[objective]!(e.numGroups) },
  };
  return { learner, version: [1, 7, 4] };
}

/** A float as a JSON real: always with a fraction or exponent so XGBoost reads a Number, not an Integer. */
function real(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

function write(v: unknown): string {
  if (v instanceof Float32Array || v instanceof Float64Array) return `[${Array.from(v, real).join(",")}]`;
  if (Array.isArray(v)) return `[${v.map(write).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${write(x)}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * Saves the ensemble as XGBoost JSON text (see {@link toXgboostJson}): write it to
 * `model.json` and `xgboost.Booster().load_model("model.json")` scores it as Quintet does.
 */
export function saveXgboostJson(e: TreeEnsemble): string {
  return write(toXgboostJson(e));
}
