import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { saveXgboostJson } from "../../interop/xgboost-export.js";
import type { Matrix } from "../ensemble/matrix.js";
import { compileEnsemble } from "../predict/compile.js";
import { binaryTable, categoricalTable, regressionTable } from "./test-data.js";
import { trainGbdt } from "./train.js";

const PY = "/usr/bin/python3";
const hasXgboost = spawnSync(PY, ["-c", "import xgboost"], { stdio: "ignore" }).status === 0;
if (!hasXgboost) {
  console.warn("skipping: `/usr/bin/python3 -c 'import xgboost'` failed (apt-get install python3-xgboost)");
}

const dir = mkdtempSync(join(tmpdir(), "quintet-gbdt-xgb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Loads the exported model in XGBoost and returns predict() for `X`, row-major. */
function xgboostPredict(json: string, X: Matrix, name: string): number[] {
  const model = join(dir, `${name}.json`);
  const input = join(dir, `${name}.rows.json`);
  writeFileSync(model, json);
  const rows = Array.from({ length: X.rows }, (_, r) =>
    Array.from(X.data.subarray(r * X.cols, (r + 1) * X.cols), (v) => (Number.isNaN(v) ? null : v)),
  );
  writeFileSync(input, JSON.stringify(rows));
  const script = `
import json, sys, numpy as np, xgboost as xgb
b = xgb.Booster()
b.load_model(sys.argv[1])
X = np.array([[np.nan if v is None else v for v in r] for r in json.load(open(sys.argv[2]))], dtype=np.float64)
types = b.feature_types if b.feature_types else None
d = xgb.DMatrix(X, feature_types=types, enable_categorical=bool(types))
print(json.dumps(np.asarray(b.predict(d), dtype=np.float64).ravel().tolist()))
`;
  const r = spawnSync(PY, ["-c", script, model, input], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as number[];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.skipIf(!hasXgboost)("trained GBDT models scored by XGBoost", () => {
  it("binary with missing values and a categorical feature", async () => {
    const t = binaryTable(1500, 51, { missingRate: 0.1 });
    const c = categoricalTable(1500, 52);
    const cols = t.X.cols + 1;
    const data = new Float64Array(1500 * cols);
    for (let r = 0; r < 1500; r++) {
      data.set(t.X.data.subarray(r * t.X.cols, (r + 1) * t.X.cols), r * cols);
      data[r * cols + t.X.cols] = c.X.data[r * 2]!;
    }
    const X = { data, rows: 1500, cols };
    const model = await trainGbdt(X, t.y, { objective: "binary", numRounds: 40, categoricalFeatures: [t.X.cols] });
    const ours = compileEnsemble(model).predict(X);
    expect(maxAbsDiff(ours, xgboostPredict(saveXgboostJson(model), X, "binary"))).toBeLessThan(1e-6);
  });

  it("multiclass, regression and poisson", async () => {
    const t = binaryTable(900, 53);
    const y3 = Float64Array.from(t.y, (v, i) => (v === 1 ? 2 : i % 3 === 0 ? 1 : 0));
    const multi = await trainGbdt(t.X, y3, { objective: "multiclass", numRounds: 15 });
    expect(
      maxAbsDiff(compileEnsemble(multi).predict(t.X), xgboostPredict(saveXgboostJson(multi), t.X, "multi")),
    ).toBeLessThan(1e-6);
    const r = regressionTable(900, 54);
    for (const objective of ["squared", "absolute", "huber"] as const) {
      const m = await trainGbdt(r.X, r.y, { objective, numRounds: 30 });
      // Regression outputs are on the label scale: compare relative to it (float32 leaves).
      expect(
        maxAbsDiff(compileEnsemble(m).predict(r.X), xgboostPredict(saveXgboostJson(m), r.X, objective)),
      ).toBeLessThan(1e-5);
    }
    const counts = Float64Array.from(r.truth, (v) => Math.round(Math.exp(v / 3)));
    const pm = await trainGbdt(r.X, counts, { objective: "poisson", numRounds: 30 });
    expect(
      maxAbsDiff(compileEnsemble(pm).predict(r.X), xgboostPredict(saveXgboostJson(pm), r.X, "poisson")),
    ).toBeLessThan(1e-5);
  });
});
