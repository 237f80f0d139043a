import { readFileSync } from "node:fs";
import { QuintetError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { matrixFromRows, referenceMargin, SplitKind } from "../models/ensemble/index.js";
import { compileEnsemble } from "../models/predict/index.js";
import { loadXgboostModel } from "./xgboost.js";

// Fixtures come from scripts/fixtures/make_xgboost_fixtures.py (python3-xgboost); see its header.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
interface Expected {
  rows: (number | null)[][];
  margin: number[] | number[][];
  pred: number[] | number[][];
}
const expected = (name: string): Expected => JSON.parse(fixture(`xgb-${name}.expected.json`).toString("utf8"));

function expectQuintet(f: () => unknown, code: string, re: RegExp): void {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(QuintetError);
    expect((err as QuintetError).code).toBe(code);
    expect((err as Error).message).toMatch(re);
    expect((err as QuintetError).hint).toBeTruthy();
    return;
  }
  expect.unreachable(`expected ${code} matching ${re}`);
}

const CASES = [
  "binary",
  "multiclass",
  "softmax",
  "regression",
  "poisson",
  "missing",
  "categorical",
  "pseudohuber",
  "absolute",
  "reglogistic",
];

describe("loadXgboostModel predicts what XGBoost predicted", () => {
  for (const name of CASES) {
    it(name, () => {
      const exp = expected(name);
      const fromJson = loadXgboostModel(fixture(`xgb-${name}.json`));
      const fromUbj = loadXgboostModel(fixture(`xgb-${name}.ubj`));
      // Both encodings decode to the very same trees.
      expect(fromUbj).toEqual(fromJson);
      const m = matrixFromRows(exp.rows);
      const p = compileEnsemble(fromJson);
      const G = fromJson.numGroups;
      const margins = p.predictMargin(m);
      const preds = p.predict(m);
      let maxMargin = 0;
      let maxPred = 0;
      for (let r = 0; r < m.rows; r++) {
        const em = G === 1 ? [exp.margin[r] as number] : (exp.margin[r] as number[]);
        for (let g = 0; g < G; g++) maxMargin = Math.max(maxMargin, Math.abs(margins[r * G + g]! - em[g]!));
        if (name === "softmax") {
          const row = Array.from(preds.subarray(r * G, r * G + G));
          expect(row.indexOf(Math.max(...row))).toBe(exp.pred[r]);
          continue;
        }
        const ep = G === 1 ? [exp.pred[r] as number] : (exp.pred[r] as number[]);
        for (let g = 0; g < G; g++) {
          // Regression/Poisson outputs are on the target's scale: compare relatively there.
          const scale = fromJson.link === "identity" || fromJson.link === "exp" ? Math.max(1, Math.abs(ep[g]!)) : 1;
          maxPred = Math.max(maxPred, Math.abs(preds[r * G + g]! - ep[g]!) / scale);
        }
        expect(Array.from(referenceMargin(fromJson, m.data.subarray(r * m.cols, (r + 1) * m.cols)))).toEqual(
          Array.from(margins.subarray(r * G, r * G + G)),
        );
      }
      // XGBoost sums leaves in float32; Quintet in float64 from the same float32 leaves.
      expect(maxMargin).toBeLessThanOrEqual(1e-5);
      expect(maxPred).toBeLessThanOrEqual(1e-6);
    });
  }

  it("reads metadata: objective, groups, base_score as a margin, feature names and categorical features", () => {
    const b = loadXgboostModel(fixture("xgb-binary.json"));
    expect(b).toMatchObject({
      objective: "binary:logistic",
      numFeatures: 4,
      numGroups: 1,
      link: "sigmoid",
      float32: true,
    });
    expect(b.baseMargin[0]).toBeCloseTo(Math.log(0.3 / 0.7), 6);
    const mc = loadXgboostModel(fixture("xgb-multiclass.json"));
    expect(mc.numGroups).toBe(3);
    expect(Array.from(mc.treeGroup.slice(0, 6))).toEqual([0, 1, 2, 0, 1, 2]);
    expect(loadXgboostModel(fixture("xgb-pseudohuber.json")).featureNames).toEqual(["age", "tenure", "spend"]);
    const cat = loadXgboostModel(fixture("xgb-categorical.json"));
    expect(cat.categoricalFeatures).toEqual([0, 2]);
    const kinds = cat.trees.flatMap((t) => Array.from(t.kind));
    expect(kinds).toContain(SplitKind.Categorical);
    expect(loadXgboostModel(fixture("xgb-poisson.json")).link).toBe("exp");
  });

  it("accepts the JSON text, the parsed object, and XGBoost 2/3's vector base_score", () => {
    const text = fixture("xgb-binary.json").toString("utf8");
    const a = loadXgboostModel(text);
    const doc = JSON.parse(text);
    expect(loadXgboostModel(doc)).toEqual(a);
    doc.learner.learner_model_param.base_score = "[3E-1]";
    expect(loadXgboostModel(doc)).toEqual(a);
  });

  it("scales dart trees by weight_drop", () => {
    const doc = JSON.parse(fixture("xgb-regression.json").toString("utf8"));
    const plain = loadXgboostModel(doc);
    const n = doc.learner.gradient_booster.model.trees.length;
    const weights = Array.from({ length: n }, (_, i) => (i % 2 ? 0.5 : 1));
    const dart = {
      ...doc,
      learner: {
        ...doc.learner,
        gradient_booster: {
          name: "dart",
          gbtree: { name: "gbtree", model: doc.learner.gradient_booster.model },
          weight_drop: weights,
        },
      },
    };
    const d = loadXgboostModel(dart);
    const row = new Float64Array([0.3, -0.2, 1, 0.5]);
    let expectedMargin = plain.baseMargin[0]!;
    plain.trees.forEach((t, i) => {
      const one = { ...plain, trees: [t], treeGroup: new Int32Array(1), baseMargin: [0] };
      expectedMargin += referenceMargin(one, row)[0]! * weights[i]!;
    });
    expect(referenceMargin(d, row)[0]).toBeCloseTo(expectedMargin, 5);
  });
});

describe("loadXgboostModel rejects bad input clearly", () => {
  const json = fixture("xgb-binary.json");
  const ubj = fixture("xgb-binary.ubj");
  it("truncated JSON and UBJSON", () => {
    expectQuintet(() => loadXgboostModel(json.subarray(0, json.length - 20)), "VALIDATION_FAILED", /invalid JSON/);
    expectQuintet(
      () => loadXgboostModel(ubj.subarray(0, ubj.length - 20)),
      "VALIDATION_FAILED",
      /UBJSON: unexpected end/,
    );
  });
  it("wrong magic, empty file, legacy binary", () => {
    expectQuintet(
      () => loadXgboostModel(new TextEncoder().encode("PK\u0003\u0004zip")),
      "VALIDATION_FAILED",
      /does not start/,
    );
    expectQuintet(() => loadXgboostModel(new Uint8Array(0)), "VALIDATION_FAILED", /empty/);
    expectQuintet(() => loadXgboostModel(new TextEncoder().encode("binf....")), "VALIDATION_FAILED", /legacy binary/);
    expectQuintet(() => loadXgboostModel({ hello: 1 }), "VALIDATION_FAILED", /missing field "learner"/);
  });
  it("gblinear and unknown objectives are UNSUPPORTED", () => {
    expectQuintet(() => loadXgboostModel(fixture("xgb-gblinear.json")), "UNSUPPORTED", /booster "gblinear"/);
    const doc = JSON.parse(json.toString("utf8"));
    doc.learner.objective.name = "survival:cox";
    expectQuintet(() => loadXgboostModel(doc), "UNSUPPORTED", /objective "survival:cox"/);
  });
  it("inconsistent trees", () => {
    const doc = JSON.parse(json.toString("utf8"));
    doc.learner.gradient_booster.model.trees[0].split_indices[0] = 9;
    expectQuintet(() => loadXgboostModel(doc), "VALIDATION_FAILED", /feature 9, but num_feature is 4/);
    const doc2 = JSON.parse(json.toString("utf8"));
    doc2.learner.gradient_booster.model.trees[1].left_children.pop();
    expectQuintet(() => loadXgboostModel(doc2), "VALIDATION_FAILED", /tree 1/);
  });
  it("a feature-count mismatch at predict time", () => {
    const p = compileEnsemble(loadXgboostModel(json));
    expectQuintet(() => p.predictRow([1, 2, 3]), "VALIDATION_FAILED", /3 features, the model expects 4/);
  });
});
