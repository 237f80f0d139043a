import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ValidationError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { Rng } from "../datasets/rng.js";
import { loadLightgbmModel } from "../interop/lightgbm.js";
import { loadXgboostModel } from "../interop/xgboost.js";
import { type Matrix, matrixFromRows } from "../models/ensemble/matrix.js";
import { goesLeft, referenceMargin } from "../models/ensemble/reference.js";
import { allocTree, MissingKind, SplitKind, type Tree, type TreeEnsemble } from "../models/ensemble/types.js";
import { trainForest } from "../models/forest/train.js";
import { trainGbdt } from "../models/gbdt/train.js";
import { compileEnsemble } from "../models/predict/compile.js";
import { withDataCovers } from "./covers.js";
import { shapRow, treeShap } from "./tree-shap.js";

const here = import.meta.dirname;

// ---------------------------------------------------------------- random models

interface RandomTreeOptions {
  features: number;
  categorical: Set<number>;
  maxDepth: number;
  /** Share of internal nodes whose subtree no training row reached (cover 0). */
  emptyShare?: number;
}

/** A random tree: repeated features on a path, set splits, every missing-value kind. */
function randomTree(rng: Rng, o: RandomTreeOptions): Tree {
  type Node = { leaf: boolean; f: number; children?: [Node, Node]; cover: number; value: number } & Record<
    string,
    unknown
  >;
  const build = (depth: number, empty: boolean): Node => {
    if (depth >= o.maxDepth || (depth > 0 && rng.next() < 0.25)) {
      return { leaf: true, f: -1, cover: empty ? 0 : 0.5 + 4 * rng.next(), value: rng.normal() };
    }
    const f = rng.int(0, o.features);
    const l = build(depth + 1, empty || (depth > 0 && rng.next() < (o.emptyShare ?? 0)));
    const r = build(depth + 1, empty);
    return { leaf: false, f, children: [l, r], cover: l.cover + r.cover, value: rng.normal() };
  };
  const root = build(0, false);
  const nodes: Node[] = [];
  const ids = new Map<Node, number>();
  const queue = [root];
  while (queue.length > 0) {
    const n = queue.shift()!;
    ids.set(n, nodes.length);
    nodes.push(n);
    if (n.children) queue.push(...n.children);
  }
  const t = allocTree(nodes.length);
  nodes.forEach((n, i) => {
    t.value[i] = n.value;
    t.cover[i] = n.cover;
    if (n.leaf) return;
    t.left[i] = ids.get(n.children![0])!;
    t.right[i] = ids.get(n.children![1])!;
    t.feature[i] = n.f;
    t.defaultLeft[i] = rng.next() < 0.5 ? 1 : 0;
    t.missing[i] = [MissingKind.NaN, MissingKind.Zero, MissingKind.None][rng.int(0, 3)]!;
    if (o.categorical.has(n.f)) {
      t.kind[i] = SplitKind.Categorical;
      const set = [0, 1, 2, 3, 4].filter(() => rng.next() < 0.5);
      t.categories[i] = Int32Array.from(set.length > 0 ? set : [2]);
      t.categoryLeft[i] = rng.next() < 0.5 ? 1 : 0;
    } else {
      t.kind[i] = rng.next() < 0.5 ? SplitKind.LessThan : SplitKind.LessOrEqual;
      t.threshold[i] = Math.round(rng.normal() * 4) / 4;
    }
  });
  return t;
}

function randomModel(
  seed: number,
  o: { features: number; groups: number; trees: number; maxDepth: number; average?: boolean; emptyShare?: number },
): TreeEnsemble {
  const rng = new Rng(seed);
  const categorical = new Set([0, 3].filter((f) => f < o.features));
  const trees: Tree[] = [];
  const group: number[] = [];
  for (let t = 0; t < o.trees; t++) {
    trees.push(
      randomTree(rng, { features: o.features, categorical, maxDepth: o.maxDepth, emptyShare: o.emptyShare ?? 0 }),
    );
    group.push(t % o.groups);
  }
  return {
    numFeatures: o.features,
    categoricalFeatures: [...categorical],
    numGroups: o.groups,
    treeGroup: Int32Array.from(group),
    baseMargin: Array.from({ length: o.groups }, () => rng.normal()),
    link: o.groups > 1 ? "softmax" : "sigmoid",
    averageTrees: o.average ?? false,
    float32: rng.next() < 0.5,
    objective: "test",
    trees,
  };
}

/** Rows with NaN, exact zeros, values on thresholds, category codes (some unseen, some negative). */
function randomRows(seed: number, rows: number, features: number): Matrix {
  const rng = new Rng(seed);
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) {
    out.push(
      Array.from({ length: features }, (_, j) => {
        const u = rng.next();
        if (u < 0.15) return Number.NaN;
        if (u < 0.22) return 0;
        if (j === 0 || j === 3) return u < 0.25 ? -1 : rng.int(0, 7);
        return u < 0.4 ? Math.round(rng.normal() * 4) / 4 : rng.normal();
      }),
    );
  }
  return matrixFromRows(out);
}

/**
 * Shapley values by definition, over all 2^F feature subsets, with the same value function
 * TreeSHAP uses: a known feature routes the row, an unknown one averages the branches by
 * cover. Exponential, so only for a handful of features.
 */
function bruteForceShap(model: TreeEnsemble, row: ArrayLike<number>): Float64Array[] {
  const F = model.numFeatures;
  const counts = new Float64Array(model.numGroups);
  for (const g of model.treeGroup) counts[g]!++;
  const value = (tree: Tree, node: number, known: number): number => {
    if (tree.left[node] === -1) return tree.value[node]!;
    const f = tree.feature[node]!;
    const l = tree.left[node]!;
    const r = tree.right[node]!;
    if (known & (1 << f)) return value(tree, goesLeft(tree, node, row[f]!, model.float32) ? l : r, known);
    const c = tree.cover[node]!;
    if (c === 0) return 0;
    return (tree.cover[l]! * value(tree, l, known) + tree.cover[r]! * value(tree, r, known)) / c;
  };
  const v = (g: number, known: number) => {
    let s = 0;
    model.trees.forEach((t, i) => {
      if (model.treeGroup[i] === g) s += value(t, 0, known) / (model.averageTrees ? counts[g]! : 1);
    });
    return s;
  };
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  return Array.from({ length: model.numGroups }, (_, g) => {
    const phi = new Float64Array(F);
    for (let i = 0; i < F; i++) {
      for (let s = 0; s < 1 << F; s++) {
        if (s & (1 << i)) continue;
        let size = 0;
        for (let k = 0; k < F; k++) if (s & (1 << k)) size++;
        const weight = (fact(size) * fact(F - size - 1)) / fact(F);
        phi[i]! += weight * (v(g, s | (1 << i)) - v(g, s));
      }
    }
    return phi;
  });
}

function expectAdditive(model: TreeEnsemble, X: Matrix, tolerance = 1e-9): void {
  const shap = treeShap(model, X);
  for (let r = 0; r < X.rows; r++) {
    const margin = referenceMargin(model, X.data.subarray(r * X.cols, (r + 1) * X.cols));
    for (let g = 0; g < model.numGroups; g++) {
      const sum = shapRow(shap, r, g).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - margin[g]!)).toBeLessThan(tolerance);
    }
  }
}

describe("TreeSHAP on random models", () => {
  it("adds up to the raw margin to 1e-9 (sums, forests, multiclass, categorical, every missing kind)", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const model = randomModel(seed, {
        features: 7,
        groups: seed % 3 === 0 ? 3 : 1,
        trees: 9,
        maxDepth: 3 + (seed % 6),
        average: seed % 2 === 0,
      });
      expectAdditive(model, randomRows(seed + 100, 40, 7));
    }
  });

  it("equals the Shapley values computed by enumerating every feature subset", () => {
    for (let seed = 20; seed < 26; seed++) {
      const model = randomModel(seed, {
        features: 5,
        groups: seed === 22 ? 2 : 1,
        trees: 4,
        maxDepth: 5,
        average: seed === 23,
        emptyShare: seed === 24 ? 0.3 : 0,
      });
      const X = randomRows(seed + 7, 15, 5);
      const shap = treeShap(model, X);
      for (let r = 0; r < X.rows; r++) {
        const exact = bruteForceShap(model, X.data.subarray(r * 5, r * 5 + 5));
        for (let g = 0; g < model.numGroups; g++) {
          const got = shapRow(shap, r, g);
          for (let j = 0; j < 5; j++) expect(Math.abs(got[j]! - exact[g]![j]!)).toBeLessThan(1e-9);
        }
      }
    }
  });

  it("gives a feature the model never splits on nothing, and a single-leaf tree only bias", () => {
    const model = randomModel(3, { features: 6, groups: 1, trees: 5, maxDepth: 4 });
    const used = new Set(model.trees.flatMap((t) => Array.from(t.feature).filter((_, i) => t.left[i] !== -1)));
    const stump = allocTree(1);
    stump.value[0] = 0.75;
    model.trees.push(stump);
    model.treeGroup = Int32Array.from([...model.treeGroup, 0]);
    const X = randomRows(4, 20, 6);
    const shap = treeShap(model, X);
    for (let j = 0; j < 6; j++) {
      if (used.has(j)) continue;
      for (let r = 0; r < X.rows; r++) expect(shapRow(shap, r)[j]).toBe(0);
    }
    expectAdditive(model, X);
  });
});

// ---------------------------------------------------------------- trained models

function mixedTable(rows: number, seed: number, classes = 2): { X: Matrix; y: Float64Array } {
  const rng = new Rng(seed);
  const data: number[][] = [];
  const y = new Float64Array(rows);
  const effect = [1.2, -0.9, 0.1, -1.6, 0.8, 0.4];
  for (let r = 0; r < rows; r++) {
    const x0 = rng.normal();
    const c1 = rng.int(0, 6);
    const x2 = rng.normal();
    const x3 = rng.normal();
    const z = x0 + effect[c1]! + (x2 > 0 ? 0.8 * x3 : -0.5) + rng.normal(0, 0.6);
    y[r] = classes === 2 ? (z > 0 ? 1 : 0) : z < -0.6 ? 0 : z < 0.7 ? 1 : 2;
    const row = [x0, c1, x2, x3];
    for (let j = 0; j < 4; j++) if (rng.next() < 0.1) row[j] = Number.NaN;
    data.push(row);
  }
  return { X: matrixFromRows(data), y };
}

describe("TreeSHAP on trained models", () => {
  it("explains Quintet's GBDT (binary and multiclass, categorical, missing) exactly", async () => {
    const bin = mixedTable(800, 5);
    const gb = await trainGbdt(bin.X, bin.y, {
      objective: "binary",
      numRounds: 25,
      maxDepth: 5,
      categoricalFeatures: [1],
      threads: 1,
    });
    expect(gb.trees.some((t) => t.kind.some((k, i) => k === SplitKind.Categorical && t.left[i] !== -1))).toBe(true);
    expectAdditive(gb, bin.X);
    // The compiled predictor agrees, so the sums are the margins users see.
    const shap = treeShap(gb, bin.X);
    const margins = compileEnsemble(gb).predictMargin(bin.X);
    for (let r = 0; r < 50; r++) expect(shapRow(shap, r).reduce((a, b) => a + b, 0)).toBeCloseTo(margins[r]!, 9);

    const multi = mixedTable(900, 6, 3);
    const mc = await trainGbdt(multi.X, multi.y, {
      objective: "multiclass",
      numRounds: 10,
      maxDepth: 4,
      categoricalFeatures: [1],
      threads: 1,
    });
    expectAdditive(mc, multi.X);
  });

  it("explains a random forest (averaged trees, one tree per class and bag)", async () => {
    const t = mixedTable(600, 7, 3);
    const rf = await trainForest(t.X, t.y, {
      task: "classification",
      numTrees: 8,
      maxDepth: 8,
      categoricalFeatures: [1],
      threads: 1,
    });
    expect(rf.averageTrees).toBe(true);
    expectAdditive(rf, t.X);
    const reg = await trainForest(t.X, t.y, { task: "regression", numTrees: 6, threads: 1 });
    expectAdditive(reg, t.X);
  });

  it("ranks the features that drive the label above pure noise", async () => {
    const rng = new Rng(9);
    const rows: number[][] = [];
    const y = new Float64Array(1000);
    for (let r = 0; r < 1000; r++) {
      const x = [rng.normal(), rng.normal(), rng.normal()];
      y[r] = 3 * x[0]! + rng.normal(0, 0.1);
      rows.push(x);
    }
    const X = matrixFromRows(rows);
    const model = await trainGbdt(X, y, { objective: "squared", numRounds: 30, threads: 1 });
    const shap = treeShap(model, X);
    const meanAbs = [0, 1, 2].map((j) => {
      let s = 0;
      for (let r = 0; r < X.rows; r++) s += Math.abs(shapRow(shap, r)[j]!);
      return s / X.rows;
    });
    expect(meanAbs[0]).toBeGreaterThan(20 * Math.max(meanAbs[1]!, meanAbs[2]!));
    // For an additive model SHAP recovers the shape: larger x0, larger contribution.
    const r1 = rows.findIndex((x) => x[0]! > 1.5);
    const r2 = rows.findIndex((x) => x[0]! < -1.5);
    expect(shapRow(shap, r1)[0]).toBeGreaterThan(3);
    expect(shapRow(shap, r2)[0]).toBeLessThan(-3);
  });
});

// ---------------------------------------------------------------- XGBoost

describe("TreeSHAP against XGBoost's pred_contribs", () => {
  const cases = [
    ["fixtures", "shap-binary.model.json", "shap-binary.expected.json"],
    ["fixtures", "shap-multiclass.model.json", "shap-multiclass.expected.json"],
    ["fixtures", "shap-regression.model.json", "shap-regression.expected.json"],
    // The interop room's fixtures carry pred_contribs too: more objectives for free.
    ["../interop/fixtures", "xgb-binary.json", "xgb-binary.expected.json"],
    ["../interop/fixtures", "xgb-multiclass.json", "xgb-multiclass.expected.json"],
    ["../interop/fixtures", "xgb-missing.json", "xgb-missing.expected.json"],
    ["../interop/fixtures", "xgb-categorical.json", "xgb-categorical.expected.json"],
    ["../interop/fixtures", "xgb-poisson.json", "xgb-poisson.expected.json"],
    ["../interop/fixtures", "xgb-regression.json", "xgb-regression.expected.json"],
  ] as const;

  for (const [dir, modelFile, expectedFile] of cases) {
    it(`matches ${modelFile} within 1e-5`, () => {
      const model = loadXgboostModel(readFileSync(join(here, dir, modelFile)));
      const expected = JSON.parse(readFileSync(join(here, dir, expectedFile), "utf8")) as {
        rows: (number | null)[][];
        contribs: number[][] | number[][][];
      };
      const X = matrixFromRows(expected.rows);
      const shap = treeShap(model, X);
      const want = expected.contribs.flat(2) as number[];
      expect(want).toHaveLength(shap.values.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - shap.values[i]!));
      expect(worst).toBeLessThan(1e-5);
      expectAdditive(model, X);
    });
  }

  it("the fixtures exercise categorical splits and missing values", () => {
    const model = loadXgboostModel(readFileSync(join(here, "fixtures", "shap-binary.model.json")));
    expect(model.trees.some((t) => t.kind.some((k) => k === SplitKind.Categorical))).toBe(true);
    const { rows } = JSON.parse(readFileSync(join(here, "fixtures", "shap-binary.expected.json"), "utf8"));
    expect((rows as (number | null)[][]).flat().filter((v) => v === null).length).toBeGreaterThan(10);
  });
});

describe("TreeSHAP on LightGBM imports", () => {
  it("explains <= splits, zero-as-missing, NaN-as-zero and bitset categories exactly", () => {
    for (const file of ["lgb-regression.txt", "lgb-binary.txt", "lgb-multiclass.txt"]) {
      const model = loadLightgbmModel(readFileSync(join(here, "../interop/fixtures", file)));
      const F = model.numFeatures;
      const X = randomRows(40, 30, F);
      expectAdditive(model, X);
      const shap = treeShap(model, X);
      for (let r = 0; r < 10; r++) {
        const exact = bruteForceShap(model, X.data.subarray(r * F, (r + 1) * F));
        for (let g = 0; g < model.numGroups; g++) {
          for (let j = 0; j < F; j++) expect(Math.abs(shapRow(shap, r, g)[j]! - exact[g]![j]!)).toBeLessThan(1e-9);
        }
      }
    }
  });
});

// ---------------------------------------------------------------- covers

describe("covers", () => {
  it("refuses a model without covers, naming the tree and the fix", () => {
    const model = randomModel(31, { features: 4, groups: 1, trees: 3, maxDepth: 3 });
    model.trees[1]!.cover.fill(0);
    const X = randomRows(1, 5, 4);
    expect(() => treeShap(model, X)).toThrow(ValidationError);
    expect(() => treeShap(model, X)).toThrow(/tree 1 cannot be explained: the root has no cover/);
    try {
      treeShap(model, X);
    } catch (e) {
      expect((e as ValidationError).hint).toContain("withDataCovers");
    }
  });

  it("withDataCovers counts the rows through each node, and the result is exact Shapley values", () => {
    const model = randomModel(32, { features: 5, groups: 1, trees: 4, maxDepth: 4 });
    for (const t of model.trees) t.cover.fill(0);
    const background = randomRows(2, 300, 5);
    const covered = withDataCovers(model, background);
    for (const t of covered.trees) {
      expect(t.cover[0]).toBe(300);
      for (let i = 0; i < t.left.length; i++) {
        if (t.left[i] !== -1) expect(t.cover[i]).toBe(t.cover[t.left[i]!]! + t.cover[t.right[i]!]!);
      }
    }
    expect(model.trees[0]!.cover[0]).toBe(0); // the input is not modified
    const X = randomRows(3, 10, 5);
    const shap = treeShap(covered, X);
    for (let r = 0; r < X.rows; r++) {
      const exact = bruteForceShap(covered, X.data.subarray(r * 5, r * 5 + 5))[0]!;
      for (let j = 0; j < 5; j++) expect(Math.abs(shapRow(shap, r)[j]! - exact[j]!)).toBeLessThan(1e-9);
    }
    expectAdditive(covered, X);
  });

  it("checks shapes and indices", () => {
    const model = randomModel(33, { features: 4, groups: 2, trees: 4, maxDepth: 3 });
    expect(() => treeShap(model, randomRows(1, 3, 5))).toThrow(/5 features but the model takes 4/);
    const shap = treeShap(model, randomRows(1, 3, 4));
    expect(() => shapRow(shap, 3)).toThrow(/row 3 is out of range/);
    expect(() => shapRow(shap, 0, 2)).toThrow(/group 2 is out of range/);
    expect(shap.expectedValue).toHaveLength(2);
  });
});
