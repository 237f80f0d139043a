import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValidationError } from "@quintet/core";
import { afterAll, describe, expect, it } from "vitest";
import { saveXgboostJson } from "../../interop/xgboost-export.js";
import { accuracy, rocAuc } from "../../metrics/classification.js";
import { rmse } from "../../metrics/regression.js";
import { leafIndex } from "../ensemble/reference.js";
import type { TreeEnsemble } from "../ensemble/types.js";
import { binaryTable, regressionTable, sliceTable } from "../gbdt/test-data.js";
import { compileEnsemble } from "../predict/compile.js";
import { RandomForestClassifier, RandomForestRegressor } from "./estimators.js";
import { trainForest } from "./train.js";

const treesOf = (m: TreeEnsemble) =>
  m.trees.map((t) => ({ left: Array.from(t.left), feature: Array.from(t.feature), value: Array.from(t.value) }));

describe("random forest", () => {
  const all = binaryTable(5000, 61);
  const tr = sliceTable(all, 0, 3500);
  const te = sliceTable(all, 3500, 5000);

  it("classifies well, averages its trees, and its out-of-bag AUC tracks the test AUC", async () => {
    const rf = await new RandomForestClassifier({ numTrees: 60, minSamplesLeaf: 3 }).fit(tr.X, tr.y);
    const m = rf.model;
    expect(m.averageTrees).toBe(true);
    expect(m.trees).toHaveLength(60);
    const p = rf.predictProba(te.X);
    const auc = rocAuc(te.y, p);
    expect(auc).toBeGreaterThan(rocAuc(te.y, te.truth) - 0.06);
    expect(Math.abs(rf.oobScore! - auc)).toBeLessThan(0.03);
    // The output of a row is the mean of its leaf values, each a class-1 frequency.
    const row = Array.from(te.X.data.subarray(0, te.X.cols));
    const mean = m.trees.reduce((s, t) => s + t.value[leafIndex(t, row, true)]!, 0) / m.trees.length;
    expect(p[0]).toBeCloseTo(mean, 12);
    for (const t of m.trees) {
      for (let i = 0; i < t.left.length; i++) {
        if (t.left[i] !== -1) continue;
        expect(t.value[i]).toBeGreaterThanOrEqual(0);
        expect(t.value[i]).toBeLessThanOrEqual(1);
        expect(t.cover[i]).toBeGreaterThanOrEqual(3);
      }
    }
  });

  it("bagging and feature subsampling make the trees differ; a seed makes the forest repeatable", async () => {
    const opts = { task: "classification", numTrees: 8, maxDepth: 6, seed: 5 } as const;
    const a = await trainForest(tr.X, tr.y, { ...opts, threads: 1 });
    expect(treesOf(a)[0]).not.toEqual(treesOf(a)[1]);
    expect(treesOf(await trainForest(tr.X, tr.y, { ...opts, threads: 1 }))).toEqual(treesOf(a));
    expect(treesOf(await trainForest(tr.X, tr.y, { ...opts, threads: 2 }))).toEqual(treesOf(a));
    expect(treesOf(await trainForest(tr.X, tr.y, { ...opts, threads: 1, seed: 6 }))).not.toEqual(treesOf(a));
    const depth = (t: TreeEnsemble["trees"][number]) => {
      const walk = (n: number): number => (t.left[n] === -1 ? 0 : 1 + Math.max(walk(t.left[n]!), walk(t.right[n]!)));
      return walk(0);
    };
    for (const t of a.trees) expect(depth(t)).toBeLessThanOrEqual(6);
  });

  it("regression: the averaged trees cut the error well below the constant model", async () => {
    const r = regressionTable(4000, 62, 0.5);
    const rtr = sliceTable(r, 0, 3000);
    const rte = sliceTable(r, 3000, 4000);
    const rf = await new RandomForestRegressor({ numTrees: 50, minSamplesLeaf: 2 }).fit(rtr.X, rtr.y);
    const mean = rtr.y.reduce((a, b) => a + b, 0) / rtr.y.length;
    const baseline = rmse(rte.y, new Float64Array(rte.y.length).fill(mean));
    expect(rmse(rte.y, rf.predict(rte.X))).toBeLessThan(0.45 * baseline);
    expect(rf.model.oobMetric).toBe("rmse");
    expect(rf.oobScore).toBeLessThan(0.5 * baseline);
  });

  it("multiclass: one tree per class per bag, probabilities renormalised", async () => {
    const y3 = Float64Array.from(tr.y, (v, i) => (v === 1 ? 2 : tr.X.data[i * tr.X.cols]! > 0 ? 1 : 0));
    const rf = await new RandomForestClassifier({ numTrees: 20 }).fit(tr.X, y3);
    expect(rf.numClasses).toBe(3);
    expect(rf.model.trees).toHaveLength(60);
    const p = rf.predictProba(tr.X);
    for (let r = 0; r < 50; r++) expect(p[r * 3]! + p[r * 3 + 1]! + p[r * 3 + 2]!).toBeCloseTo(1, 12);
    expect(accuracy(y3, rf.predict(tr.X))).toBeGreaterThan(0.9);
  });

  it("without bootstrap every tree sees every row and there is no out-of-bag score", async () => {
    const m = await trainForest(tr.X, tr.y, { task: "classification", numTrees: 3, bootstrap: false, maxDepth: 3 });
    expect(m.oobScore).toBeUndefined();
    for (const t of m.trees) expect(t.cover[0]).toBe(3500);
  });

  it("rejects bad options and labels", async () => {
    await expect(trainForest(tr.X, tr.y, { task: "classification", maxFeatures: 2 })).rejects.toThrow(
      /option "maxFeatures"/,
    );
    await expect(trainForest(tr.X, tr.y, { task: "clustering" as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(trainForest(tr.X, tr.y, { task: "regression", numClasses: 3 })).rejects.toThrow(/only for task/);
    await expect(trainForest(tr.X, new Float64Array(3500), { task: "classification" })).rejects.toThrow(
      /only one class/,
    );
    expect(() => new RandomForestRegressor({ numTrees: 0 })).toThrow(/option "numTrees"/);
  });
});

const PY = "/usr/bin/python3";
const hasXgboost = spawnSync(PY, ["-c", "import xgboost"], { stdio: "ignore" }).status === 0;
const dir = mkdtempSync(join(tmpdir(), "quintet-forest-xgb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasXgboost)("random forest exported to XGBoost", () => {
  it("scores the same in Python", async () => {
    const t = binaryTable(800, 63, { missingRate: 0.1 });
    const m = await trainForest(t.X, t.y, { task: "classification", numTrees: 10, maxDepth: 8 });
    const file = join(dir, "rf.json");
    writeFileSync(file, saveXgboostJson(m));
    const rows = Array.from({ length: t.X.rows }, (_, r) =>
      Array.from(t.X.data.subarray(r * t.X.cols, (r + 1) * t.X.cols), (v) => (Number.isNaN(v) ? null : v)),
    );
    writeFileSync(join(dir, "rows.json"), JSON.stringify(rows));
    const script = `
import json, sys, numpy as np, xgboost as xgb
b = xgb.Booster(); b.load_model(sys.argv[1])
X = np.array([[np.nan if v is None else v for v in r] for r in json.load(open(sys.argv[2]))], dtype=np.float64)
print(json.dumps(b.predict(xgb.DMatrix(X)).astype(np.float64).tolist()))`;
    const r = spawnSync(PY, ["-c", script, file, join(dir, "rows.json")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const theirs = JSON.parse(r.stdout) as number[];
    const ours = compileEnsemble(m).predict(t.X);
    let max = 0;
    for (let i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(ours[i]! - theirs[i]!));
    expect(max).toBeLessThan(1e-6);
  });
});
