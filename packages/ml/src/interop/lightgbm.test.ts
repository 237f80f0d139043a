import { readFileSync } from "node:fs";
import { QuintetError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { matrixFromRows, referenceMargin } from "../models/ensemble/index.js";
import { compileEnsemble } from "../models/predict/index.js";
import { loadLightgbmModel } from "./lightgbm.js";

// Hand-written fixtures; fixtures/README.md describes every tree.
const text = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
const N = Number.NaN;
const sigmoid = (m: number) => 1 / (1 + Math.exp(-m));

function expectQuintet(f: () => unknown, code: string, re: RegExp): void {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(QuintetError);
    expect((err as QuintetError).code).toBe(code);
    expect((err as Error).message).toMatch(re);
    return;
  }
  expect.unreachable(`expected ${code} matching ${re}`);
}

/** Scores rows with the compiled predictor and checks it against the reference walk too. */
function margins(model: ReturnType<typeof loadLightgbmModel>, rows: number[][]): number[][] {
  const m = matrixFromRows(rows);
  const p = compileEnsemble(model);
  const out = p.predictMargin(m);
  const G = model.numGroups;
  return rows.map((row, r) => {
    const got = Array.from(out.subarray(r * G, (r + 1) * G));
    expect(got).toEqual(Array.from(referenceMargin(model, row)));
    return got;
  });
}

describe("loadLightgbmModel", () => {
  it("regression: x <= t, missing None / NaN / Zero with default directions, a single-leaf tree", () => {
    const e = loadLightgbmModel(text("lgb-regression.txt"));
    expect(e).toMatchObject({ numFeatures: 3, numGroups: 1, link: "identity", averageTrees: false, float32: false });
    expect(e.featureNames).toEqual(["age", "tenure", "balance"]);
    const cases: [number[], number, string][] = [
      [[1.5, 0, 3], 10 + 1 + 0.25, "age on the threshold goes left (<=); tenure 0 <= 0; balance > -0.5"],
      [[2, 0, 0], 30 - 1 + 0.25, "age > 1.5; balance 0 is missing (Zero) and goes left"],
      [
        [N, N, N],
        20 - 1 + 0.25,
        "age NaN counts as 0 (None); tenure NaN goes right; balance NaN is missing (Zero) -> left",
      ],
      [[-3, 0.5, 1e-36], 20 - 1 + 0.25, "tenure > 0; |balance| <= 1e-35 counts as zero"],
      [[0.2, -1, -0.4], 10 + 1 + 0.25, "balance -0.4 > -0.5 goes right"],
      [[0.2, -1, -0.5], 10 - 1 + 0.25, "balance on the threshold goes left"],
    ];
    const got = margins(
      e,
      cases.map((c) => c[0]),
    );
    for (const [i, [, want, why]] of cases.entries()) expect(got[i]![0], why).toBeCloseTo(want, 12);
  });

  it("binary: categorical bitsets (in-set left, NaN/negative/unknown right, multi-word sets), sigmoid link", () => {
    const e = loadLightgbmModel(text("lgb-binary.txt"));
    expect(e).toMatchObject({ numFeatures: 4, link: "sigmoid", categoricalFeatures: [1, 3] });
    expect(Array.from(e.trees[1]!.categories[0]!)).toEqual([0, 33]);
    const cases: [number[], number, string][] = [
      [[0.1, 1, 5, 0], 0.5 + 0.3, "plan 1 in {1,3}, score <= 0.25; region 0 in {0,33}"],
      [[0.3, 3, -2, 33], -0.2 + 0.3, "score > 0.25; region 33 is bit 1 of the second word"],
      [[N, 2, N, 5], -0.8 - 0.1, "plan 2 not in set; region 5 not in set, usage NaN counts as 0 > -1"],
      [[N, 3.7, -1, N], 0.5 + 0.1, "plan 3.7 truncates to 3; score NaN goes left; region NaN right; usage -1 <= -1"],
      [[0, -1, 0, 64], -0.8 - 0.1, "negative plan goes right; region 64 lies past the bitset"],
    ];
    const got = margins(
      e,
      cases.map((c) => c[0]),
    );
    for (const [i, [, want, why]] of cases.entries()) expect(got[i]![0], why).toBeCloseTo(want, 12);
    const p = compileEnsemble(e).predict(matrixFromRows(cases.map((c) => c[0])));
    for (const [i, [, want]] of cases.entries()) expect(Math.abs(p[i]! - sigmoid(want))).toBeLessThanOrEqual(1e-12);
  });

  it("multiclass: one tree per class per iteration, softmax", () => {
    const e = loadLightgbmModel(text("lgb-multiclass.txt"));
    expect(e).toMatchObject({ numGroups: 3, link: "softmax" });
    expect(Array.from(e.treeGroup)).toEqual([0, 1, 2]);
    const rows = [
      [-1, 0],
      [1, N],
      [0.5, 2],
      [N, 0.5],
    ];
    const want = [
      [1, -0.5, 0.2],
      [-1, -0.5, 0.2],
      [-1, 0.5, 0.2],
      [1, -0.5, 0.2],
    ];
    expect(margins(e, rows).map((r) => r.map((v) => Math.round(v * 1e12) / 1e12))).toEqual(want);
    const probs = compileEnsemble(e).predict(matrixFromRows(rows));
    want.forEach((w, r) => {
      const z = w.map(Math.exp).reduce((a, b) => a + b, 0);
      for (const [k, m] of w.entries())
        expect(Math.abs(probs[r * 3 + k]! - Math.exp(m) / z)).toBeLessThanOrEqual(1e-12);
    });
  });

  it("average_output (random forest) averages the trees; sigmoid:k scales the margin", () => {
    const rf = loadLightgbmModel(
      text("lgb-regression.txt").replace("objective=regression\n", "objective=regression\naverage_output\n"),
    );
    expect(rf.averageTrees).toBe(true);
    expect(margins(rf, [[1.5, 0, 3]])[0]![0]).toBeCloseTo((10 + 1 + 0.25) / 3, 12);
    const k2 = loadLightgbmModel(text("lgb-binary.txt").replace("binary sigmoid:1", "binary sigmoid:2"));
    expect(margins(k2, [[0.1, 1, 5, 0]])[0]![0]).toBeCloseTo(2 * 0.8, 12);
  });

  it("rejects corrupt and unsupported models clearly", () => {
    const reg = text("lgb-regression.txt");
    expectQuintet(() => loadLightgbmModel("{}"), "VALIDATION_FAILED", /must start with the line "tree"/);
    expectQuintet(() => loadLightgbmModel(reg.slice(0, 900)), "VALIDATION_FAILED", /truncated|has no|values, expected/);
    expectQuintet(() => loadLightgbmModel(reg.replace("end of trees", "")), "VALIDATION_FAILED", /end of trees/);
    expectQuintet(
      () => loadLightgbmModel(reg.replace("left_child=1 -1", "left_child=1 -7")),
      "VALIDATION_FAILED",
      /Tree=0: node 1 points to leaf 6/,
    );
    expectQuintet(
      () => loadLightgbmModel(reg.replace("split_feature=0 1", "split_feature=0 5")),
      "VALIDATION_FAILED",
      /feature 5, but max_feature_idx is 2/,
    );
    expectQuintet(
      () => loadLightgbmModel(reg.replace("threshold=1.5 0", "threshold=1.5 abc")),
      "VALIDATION_FAILED",
      /"abc" is not a number/,
    );
    expectQuintet(
      () => loadLightgbmModel(reg.replace("objective=regression", "objective=custom")),
      "UNSUPPORTED",
      /objective "custom"/,
    );
    expectQuintet(() => loadLightgbmModel(reg.replace("is_linear=0", "is_linear=1")), "UNSUPPORTED", /linear tree/);
    const p = compileEnsemble(loadLightgbmModel(reg));
    expectQuintet(() => p.predictRow([1, 2]), "VALIDATION_FAILED", /2 features, the model expects 3/);
  });
});
