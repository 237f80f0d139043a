import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QuintetError } from "@quintet/core";
import { afterAll, describe, expect, it } from "vitest";
import { Rng } from "../datasets/rng.js";
import { allocTree, type Matrix, MissingKind, SplitKind, type TreeEnsemble } from "../models/ensemble/index.js";
import { compileEnsemble } from "../models/predict/index.js";
import { loadXgboostModel } from "./xgboost.js";
import { saveXgboostJson } from "./xgboost-export.js";

const PY = "/usr/bin/python3";
const hasXgboost = spawnSync(PY, ["-c", "import xgboost"], { stdio: "ignore" }).status === 0;
if (!hasXgboost) {
  console.warn(
    "skipping the XGBoost round trip: `/usr/bin/python3 -c 'import xgboost'` failed (apt-get install python3-xgboost)",
  );
}

const dir = mkdtempSync(join(tmpdir(), "quintet-xgb-export-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Loads each model file in XGBoost and returns predict(output_margin=True) and predict() per model. */
function scoreInXgboost(models: { file: string; rows: number[][] }[]): { margin: number[][]; pred: number[][] }[] {
  const input = join(dir, "input.json");
  writeFileSync(
    input,
    JSON.stringify(
      models.map((m) => ({ file: m.file, rows: m.rows.map((r) => r.map((v) => (Number.isNaN(v) ? null : v))) })),
    ),
  );
  const script = `
import json, sys, numpy as np, xgboost as xgb
out = []
for m in json.load(open(sys.argv[1])):
    b = xgb.Booster()
    b.load_model(m["file"])
    X = np.array([[np.nan if v is None else v for v in r] for r in m["rows"]], dtype=np.float64)
    types = b.feature_types if b.feature_types else None
    d = xgb.DMatrix(X, feature_types=types, enable_categorical=bool(types))
    mg = np.asarray(b.predict(d, output_margin=True), dtype=np.float64).reshape(len(X), -1)
    pr = np.asarray(b.predict(d), dtype=np.float64).reshape(len(X), -1)
    out.append({"margin": mg.tolist(), "pred": pr.tolist()})
print(json.dumps(out))
`;
  const r = spawnSync(PY, ["-c", script, input], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function rowsOf(m: Matrix): number[][] {
  return Array.from({ length: m.rows }, (_, r) => Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)));
}

/** A random XGBoost-representable ensemble (x < t, NaN missing), categorical sets either way round. */
function randomEnsemble(seed: number, groups: number, link: TreeEnsemble["link"], average = false): TreeEnsemble {
  const rng = new Rng(seed);
  const trees = Array.from({ length: 12 }, () => {
    const t = allocTree(15);
    for (let i = 0; i < 15; i++) {
      if (i < 7) {
        t.left[i] = 2 * i + 1;
        t.right[i] = 2 * i + 2;
        t.feature[i] = rng.int(0, 4);
        t.defaultLeft[i] = rng.int(0, 2);
        t.missing[i] = MissingKind.NaN;
        if (t.feature[i] === 0) {
          t.kind[i] = SplitKind.Categorical;
          t.categories[i] = Int32Array.from([0, 1, 2, 3, 4, 5].filter(() => rng.next() < 0.5));
          t.categoryLeft[i] = rng.int(0, 2);
        } else {
          t.kind[i] = SplitKind.LessThan;
          t.threshold[i] = Math.fround(rng.normal());
        }
      }
      t.value[i] = Math.fround(rng.normal() * 0.3);
      t.cover[i] = 1;
    }
    return t;
  });
  return {
    numFeatures: 4,
    numGroups: groups,
    treeGroup: Int32Array.from(trees.map((_, i) => i % groups)),
    baseMargin: Array.from({ length: groups }, () => Math.fround(rng.normal() * 0.5)),
    link,
    averageTrees: average,
    float32: true,
    objective: "quintet",
    categoricalFeatures: [0],
    trees,
  };
}

function randomRows(seed: number, n: number): Matrix {
  const rng = new Rng(seed);
  const data = new Float64Array(n * 4);
  for (let i = 0; i < data.length; i++) {
    const u = rng.next();
    data[i] = u < 0.1 ? Number.NaN : i % 4 === 0 ? rng.int(0, 7) : rng.normal();
  }
  return { data, rows: n, cols: 4 };
}

describe("saveXgboostJson", () => {
  it.skipIf(!hasXgboost)("XGBoost loads the exported models and scores them as Quintet does", () => {
    const fixture = (n: string) => readFileSync(new URL(`./fixtures/${n}`, import.meta.url));
    const cases: { name: string; e: TreeEnsemble; m: Matrix }[] = [
      { name: "binary-cat", e: randomEnsemble(1, 1, "sigmoid"), m: randomRows(2, 60) },
      { name: "softmax", e: randomEnsemble(3, 3, "softmax"), m: randomRows(4, 60) },
      { name: "poisson", e: randomEnsemble(5, 1, "exp"), m: randomRows(6, 60) },
      { name: "forest", e: randomEnsemble(7, 1, "identity", true), m: randomRows(8, 60) },
      { name: "xgb-categorical", e: loadXgboostModel(fixture("xgb-categorical.json")), m: randomRows(9, 60) },
      {
        name: "xgb-multiclass",
        e: loadXgboostModel(fixture("xgb-multiclass.json")),
        m: { ...randomRows(10, 50), cols: 5, rows: 40 },
      },
    ];
    const files = cases.map((c) => {
      const file = join(dir, `${c.name}.json`);
      writeFileSync(file, saveXgboostJson(c.e));
      return { file, rows: rowsOf(c.m) };
    });
    const got = scoreInXgboost(files);
    cases.forEach((c, k) => {
      const p = compileEnsemble(c.e);
      const margin = p.predictMargin(c.m);
      const pred = p.predict(c.m);
      const G = c.e.numGroups;
      let maxMargin = 0;
      let maxPred = 0;
      for (let r = 0; r < c.m.rows; r++) {
        for (let g = 0; g < G; g++) {
          maxMargin = Math.max(maxMargin, Math.abs(margin[r * G + g]! - got[k]!.margin[r]![g]!));
          maxPred = Math.max(
            maxPred,
            Math.abs(pred[r * G + g]! - got[k]!.pred[r]![g]!) / Math.max(1, Math.abs(pred[r * G + g]!)),
          );
        }
      }
      expect({ name: c.name, ok: maxMargin <= 1e-5 && maxPred <= 1e-6, maxMargin, maxPred }).toMatchObject({
        ok: true,
      });
    });
  });

  it("round-trips through loadXgboostModel to the same predictions", () => {
    const e = randomEnsemble(11, 3, "softmax");
    const back = loadXgboostModel(saveXgboostJson(e));
    const m = randomRows(12, 80);
    const a = compileEnsemble(e).predictMargin(m);
    const b = compileEnsemble(back).predictMargin(m);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6);
    expect(back.objective).toBe("multi:softprob");
    expect(back.categoricalFeatures).toEqual([0]);
  });

  it("rejects what XGBoost cannot represent with UNSUPPORTED and a hint", () => {
    for (const [mutate, re] of [
      [(e: TreeEnsemble) => (e.trees[0]!.kind[1] = SplitKind.LessOrEqual), /x <= threshold/],
      [(e: TreeEnsemble) => (e.trees[0]!.missing[1] = MissingKind.Zero), /treats zero as missing/],
    ] as const) {
      const e = randomEnsemble(13, 1, "sigmoid");
      e.trees[0]!.kind[1] = SplitKind.LessThan;
      mutate(e);
      try {
        saveXgboostJson(e);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(QuintetError);
        expect((err as QuintetError).code).toBe("UNSUPPORTED");
        expect((err as Error).message).toMatch(re);
        expect((err as QuintetError).hint).toBeTruthy();
      }
    }
  });
});
