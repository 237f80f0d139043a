import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValidationError } from "@quintet/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelBundle } from "../bundle/bundle.js";
import { cleanFrame } from "../data/clean.js";
import type { Frame } from "../data/frame.js";
import { loadTable } from "../data/load.js";
import { Rng } from "../datasets/rng.js";
import { syntheticCustomers, toCsv } from "../datasets/synthetic-customers.js";
import { Pipeline } from "../features/pipeline.js";
import { rocAuc } from "../metrics/classification.js";
import { matrixFromRows } from "../models/ensemble/matrix.js";
import { GbdtClassifier } from "../models/gbdt/estimators.js";
import { trainGbdt } from "../models/gbdt/train.js";
import { compileEnsemble } from "../models/predict/compile.js";
import { explainRows } from "./explain-rows.js";
import { featureOrigins, inputGroups } from "./lineage.js";
import { permutationImportance } from "./permutation.js";
import { describeValue, reasonCodes } from "./reasons.js";
import { shapSummary } from "./summary.js";
import { treeShap } from "./tree-shap.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-explain-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function customers(rows: number, seed: number): Promise<Frame> {
  const p = join(dir, `customers-${rows}-${seed}.csv`);
  const data = syntheticCustomers({ rows, seed }).map((r, i) => ({
    ...r,
    notes: i % 3 === 0 ? `asked about the outage credit on ticket ${i}` : i % 3 === 1 ? "happy with support" : null,
    postcode: `P${(i * 7919) % 300}`,
  }));
  writeFileSync(p, toCsv(data));
  return cleanFrame((await loadTable(p)).frame, { exclude: ["churned"] }).frame;
}

const STEPS = [
  { type: "drop", columns: ["customer_id"] },
  { type: "sql", name: "charge_per_seat", expression: "monthly_charges / NULLIF(seats, 0)" },
  { type: "dateParts", columns: ["signup_date"] },
  { type: "impute", columns: ["nps_score"], indicator: true },
  { type: "oneHot", columns: ["contract", "payment_method"] },
  { type: "ordinal", columns: ["plan", "region"] },
  { type: "targetEncode", columns: ["postcode"] },
  { type: "frequencyEncode", columns: ["postcode"] },
  { type: "textHash", columns: ["notes"], buckets: 4 },
] as const;

describe("feature lineage", () => {
  it("traces every pipeline feature back to the input columns it comes from", async () => {
    const frame = await customers(600, 1);
    const pipe = new Pipeline(STEPS as never, { seed: 1 });
    await pipe.fit(frame, "churned");
    const origins = featureOrigins(pipe.toJSON());
    const of = (f: string) => origins.find((o) => o.feature === f);
    expect(origins.map((o) => o.feature)).toEqual(pipe.featureNames);
    expect(of("signup_date:month")).toEqual({
      feature: "signup_date:month",
      inputs: ["signup_date"],
      how: "date part",
    });
    expect(of("contract=month-to-month")).toMatchObject({ inputs: ["contract"], how: "one-hot" });
    expect(of("charge_per_seat")).toMatchObject({ inputs: ["monthly_charges", "seats"], how: "sql" });
    expect(of("nps_score:missing")).toMatchObject({ inputs: ["nps_score"], how: "missing flag" });
    expect(of("nps_score")).toMatchObject({ inputs: ["nps_score"], how: "as is" });
    expect(of("postcode:te")).toMatchObject({ inputs: ["postcode"], how: "target encoding" });
    expect(of("postcode:freq")).toMatchObject({ inputs: ["postcode"], how: "frequency" });
    expect(of("notes#3")).toMatchObject({ inputs: ["notes"], how: "text hash" });
    expect(of("plan")).toMatchObject({ inputs: ["plan"], how: "codes" });

    const groups = inputGroups(origins);
    const contract = groups.find((g) => g.name === "contract")!;
    expect(contract.features.map((j) => pipe.featureNames[j])).toEqual(
      pipe.featureNames.filter((n) => n.startsWith("contract=")),
    );
    const postcode = groups.find((g) => g.name === "postcode")!;
    expect(postcode.features.map((j) => pipe.featureNames[j])).toEqual(["postcode:te", "postcode:freq"]);
    // Every feature is in exactly one group.
    expect(groups.flatMap((g) => g.features).sort((a, b) => a - b)).toEqual(pipe.featureNames.map((_, j) => j));
  });
});

describe("reason codes", () => {
  const featureNames = ["tenure", "plan=a", "plan=b", "d:month", "d:year", "ratio"];
  const groups = [
    { name: "tenure", inputs: ["tenure"], features: [0] },
    { name: "plan", inputs: ["plan"], features: [1, 2] },
    { name: "d", inputs: ["d"], features: [3, 4] },
    { name: "ratio", inputs: ["x", "y"], features: [5] },
  ];

  it("sums grouped features and puts the strongest each way in words with raw values", () => {
    const r = reasonCodes([0.5, 0.25, 0.5, -0.1, -0.05, -0.9, 1.23], {
      featureNames,
      groups,
      raw: { tenure: 2, plan: "b", d: "2024-03-01", x: 3, y: null },
      top: 2,
      outcome: "the log-odds of churn = yes",
    });
    expect(r.up.map((c) => [c.name, c.contribution])).toEqual([
      ["plan", 0.75],
      ["tenure", 0.5],
    ]);
    expect(r.up[0]!.text).toBe('plan is "b": raises the log-odds of churn = yes by 0.75');
    expect(r.up[0]!.features).toEqual(["plan=a", "plan=b"]);
    expect(r.down.map((c) => c.name)).toEqual(["ratio", "d"]);
    expect(r.down[0]!.text).toBe("ratio (from x 3, y missing): lowers the log-odds of churn = yes by 0.90");
    expect(r.down[1]!.contribution).toBeCloseTo(-0.15, 12);
    expect(r.down[1]!.value).toBe("2024-03-01");
  });

  it("falls back to the feature value without raw inputs, and checks its input", () => {
    const r = reasonCodes([0.3, 0, 0, 0, 0, 0], { featureNames, featureValues: [7, 0, 0, 0, 0, 0] });
    expect(r.up[0]!.text).toBe("tenure is 7: raises the score by 0.30");
    expect(r.down).toEqual([]);
    expect(() => reasonCodes([1, 2], { featureNames })).toThrow(/2 contributions for 6 features/);
    expect(describeValue(null)).toBe("missing");
    expect(describeValue(" ")).toBe("missing");
    expect(describeValue(1 / 3)).toBe("0.333333");
  });
});

describe("explainRows", () => {
  let bundle: ModelBundle;
  let test: Frame;

  beforeAll(async () => {
    const frame = await customers(1500, 2);
    const train = frame.take(Array.from({ length: 1200 }, (_, i) => i));
    test = frame.take(Array.from({ length: 300 }, (_, i) => 1200 + i));
    const pipe = new Pipeline(STEPS as never, { seed: 2 });
    const { X, y } = await pipe.fitTransform(train, "churned");
    const clf = await new GbdtClassifier({
      numRounds: 60,
      maxDepth: 4,
      learningRate: 0.1,
      categoricalFeatures: X.categoricalFeatures,
      threads: 1,
    }).fit(X, y!);
    // Through bytes, as a registered model is loaded: covers come back from XGBoost JSON.
    bundle = ModelBundle.fromBytes(ModelBundle.create(pipe, clf.model).toBytes());
  }, 60_000);

  it("splits each row's margin into contributions that add up, and predicts as the bundle does", async () => {
    const records = test.toRecords().slice(0, 80);
    const result = await explainRows(bundle, records);
    const preds = await bundle.predict(records);
    expect(result.rows).toHaveLength(80);
    for (const r of result.rows) {
      const sum = r.contributions.reduce((a, b) => a + b, r.base);
      expect(Math.abs(sum - r.margin)).toBeLessThan(1e-9);
      expect(Math.abs(r.margin - preds.margins[r.row]!)).toBeLessThan(1e-9);
      expect(r.prediction).toBeCloseTo(preds.values[r.row]!, 12);
      expect(r.label).toBe(preds.labels![r.row]);
      expect(r.class).toBe("yes");
      // Per-input sums are the same money, regrouped.
      const byInput = r.inputs.reduce((a, b) => a + b.contribution, 0);
      expect(Math.abs(byInput + r.base - r.margin)).toBeLessThan(1e-9);
    }
    expect(result.rows[0]!.outcome).toBe("the log-odds of churned = yes");
    expect(result.shap.groups).toBe(1);
  });

  it("names the raw input values in the reasons, with one-hot columns and date parts grouped", async () => {
    const records = test.toRecords();
    const result = await explainRows(bundle, records, { top: 3 });
    const reasons = result.rows.flatMap((r) => [...r.reasons.up, ...r.reasons.down]);
    const contract = reasons.find((c) => c.name === "contract");
    expect(contract).toBeDefined();
    expect(contract!.features.every((f) => f.startsWith("contract="))).toBe(true);
    const row = result.rows.find((r) => [...r.reasons.up, ...r.reasons.down].includes(contract!))!;
    expect(contract!.value).toBe(records[row.row]!.contract);
    expect(contract!.text).toContain(`contract is "${records[row.row]!.contract}"`);
    for (const r of result.rows) {
      expect(r.reasons.up.length).toBeLessThanOrEqual(3);
      for (let i = 1; i < r.reasons.up.length; i++)
        expect(r.reasons.up[i - 1]!.contribution).toBeGreaterThanOrEqual(r.reasons.up[i]!.contribution);
      for (const c of r.reasons.up) expect(c.contribution).toBeGreaterThan(0);
      for (const c of r.reasons.down) expect(c.contribution).toBeLessThan(0);
      expect(r.inputs.map((i) => i.name)).not.toContain("signup_date:month");
    }
  });

  it("quotes numbers as the schema reads them and other values as written", async () => {
    const record = { ...test.toRecords()[0]! };
    const tenure = record.tenure_months as number;
    const result = await explainRows(bundle, [{ ...record, tenure_months: ` ${tenure} ` }]);
    const input = result.rows[0]!.inputs.find((i) => i.name === "tenure_months");
    expect(input?.value).toBe(tenure);
    expect(result.rows[0]!.inputs.find((i) => i.name === "contract")?.value).toBe(record.contract);
  });

  it("rejects rows that break the schema and classes the model does not have", async () => {
    const bad = test.toRecords().slice(0, 2);
    bad[1] = { ...bad[1], contract: 42 };
    await expect(explainRows(bundle, bad)).rejects.toThrow(ValidationError);
    await expect(explainRows(bundle, test.toRecords().slice(0, 1), { class: "maybe" })).rejects.toThrow(
      /cannot be explained on its own: this model has one output/,
    );
    expect((await explainRows(bundle, test.toRecords().slice(0, 1), { class: "yes" })).rows[0]!.class).toBe("yes");
  });
});

describe("explainRows on a multiclass model", () => {
  it("explains each row's predicted class unless a class is given", async () => {
    const rng = new Rng(4);
    const rows = Array.from({ length: 600 }, () => {
      const a = rng.normal();
      const kind = ["x", "y", "z"][rng.int(0, 3)]!;
      const z = a + (kind === "x" ? 1 : kind === "y" ? -1 : 0) + rng.normal(0, 0.3);
      return { a, kind, label: z < -0.5 ? "low" : z < 0.7 ? "mid" : "high" };
    });
    const pipe = new Pipeline([{ type: "ordinal", columns: ["kind"] }]);
    const { frameFromRecords } = await import("../data/records.js");
    const { X, y } = await pipe.fitTransform(frameFromRecords(rows), "label");
    const clf = await new GbdtClassifier({ numClasses: 3, numRounds: 20, threads: 1, categoricalFeatures: [0] }).fit(
      X,
      y!,
    );
    const bundle = ModelBundle.create(pipe, clf.model);
    const inputs = rows.slice(0, 30).map(({ a, kind }) => ({ a, kind }));
    const predicted = await explainRows(bundle, inputs);
    const preds = await bundle.predict(inputs);
    const classes = bundle.target.classes!;
    for (const r of predicted.rows) {
      expect(r.label).toBe(preds.labels![r.row]);
      expect(r.class).toBe(r.label);
      expect(r.outcome).toBe(`the score of label = ${r.class}`);
      expect(r.prediction).toBeCloseTo(preds.values[r.row * 3 + r.group]!, 12);
    }
    const fixed = await explainRows(bundle, inputs, { class: classes[2]! });
    expect(fixed.rows.every((r) => r.group === 2 && r.class === classes[2])).toBe(true);
    for (const r of fixed.rows) {
      expect(Math.abs(r.contributions.reduce((a, b) => a + b, r.base) - preds.margins[r.row * 3 + 2]!)).toBeLessThan(
        1e-9,
      );
    }
    await expect(explainRows(bundle, inputs, { class: "nope" })).rejects.toThrow(/"nope" is not a class/);
  });
});

describe("global summaries", () => {
  it("ranks features by mean |SHAP| and lays out beeswarm points coloured by value", async () => {
    const rng = new Rng(5);
    const data = Array.from({ length: 400 }, () => [rng.normal(), rng.normal(), rng.int(0, 4), rng.normal()]);
    for (let r = 0; r < 40; r++) data[r]![0] = Number.NaN;
    const y = Float64Array.from(
      data,
      (x) => 2 * (Number.isNaN(x[0]!) ? 0 : x[0]!) + 0.5 * x[1]! + (x[2] === 1 ? 1 : 0),
    );
    const X = matrixFromRows(data);
    const model = await trainGbdt(X, y, {
      objective: "squared",
      numRounds: 30,
      categoricalFeatures: [2],
      featureNames: ["big", "small", "cat", "noise"],
      threads: 1,
    });
    const shap = treeShap(model, X);
    const s = shapSummary(shap, X, { top: 3, categoricalFeatures: [2] });
    expect(s.features.map((f) => f.feature).slice(0, 2)).toEqual(["big", "small"]);
    expect(s.features[0]!.meanAbs).toBeGreaterThan(s.features[1]!.meanAbs);
    let manual = 0;
    for (let r = 0; r < 400; r++) manual += Math.abs(shap.values[r * 5]!);
    expect(s.features[0]!.meanAbs).toBeCloseTo(manual / 400, 12);
    expect(s.points).toHaveLength(3 * 400);
    const big = s.points.filter((p) => p.feature === "big");
    // Missing values have no colour; higher values of "big" have higher SHAP values.
    expect(big.filter((p) => p.value === null).every((p) => p.scaled === null)).toBe(true);
    const hi = big.filter((p) => p.scaled !== null && p.scaled > 0.9);
    const lo = big.filter((p) => p.scaled !== null && p.scaled < 0.1);
    expect(Math.min(...hi.map((p) => p.shap))).toBeGreaterThan(Math.max(...lo.map((p) => p.shap)));
    expect(s.points.filter((p) => p.feature === "cat").every((p) => p.scaled === null)).toBe(true);
    for (const p of s.points) expect(Math.abs(p.jitter)).toBeLessThanOrEqual(0.45);
    expect(new Set(big.map((p) => p.jitter)).size).toBeGreaterThan(5);
    const few = shapSummary(shap, X, { top: 2, pointsPerFeature: 50 });
    expect(few.points).toHaveLength(2 * 50);
    expect(few.features).toEqual(s.features);
    expect(new Set(few.points.map((p) => p.row)).size).toBe(50);
    expect(Math.max(...few.points.map((p) => p.row))).toBeGreaterThan(350);
    expect(() => shapSummary(shap, matrixFromRows([[1, 2, 3, 4]]))).toThrow(
      /SHAP values are for 400 rows × 4 features/,
    );
  });

  it("colours by position between the 5th and 95th percentiles, so 0/1 columns use both ends", () => {
    const rows = 40;
    const data = Array.from({ length: rows }, (_, r) => [r % 2, r === 0 ? 1000 : r]);
    const X = matrixFromRows(data);
    const values = new Float64Array(rows * 3);
    for (let r = 0; r < rows; r++) {
      values[r * 3] = r % 2 ? 1 : -1;
      values[r * 3 + 1] = r / 100;
    }
    const shap = { rows, groups: 1, features: 2, values, expectedValue: Float64Array.of(0) };
    const s = shapSummary(shap, X, { featureNames: ["flag", "amount"] });
    const flag = s.points.filter((p) => p.feature === "flag");
    expect(new Set(flag.map((p) => p.scaled))).toEqual(new Set([0, 1]));
    const amount = s.points.filter((p) => p.feature === "amount");
    expect(amount.find((p) => p.row === 0)!.scaled).toBe(1); // the outlier is clipped, not the scale
    expect(amount.find((p) => p.row === 20)!.scaled).toBeCloseTo(0.5, 1);
  });

  it("sums |SHAP| over classes for multiclass models, and keeps per-class values", async () => {
    const rng = new Rng(6);
    const data = Array.from({ length: 300 }, () => [rng.normal(), rng.normal()]);
    const y = Float64Array.from(data, (x) => (x[0]! < -0.5 ? 0 : x[0]! < 0.5 ? 1 : 2));
    const X = matrixFromRows(data);
    const model = await trainGbdt(X, y, { objective: "multiclass", numRounds: 10, threads: 1 });
    const s = shapSummary(treeShap(model, X), X);
    expect(s.group).toBe("all");
    expect(s.points).toEqual([]);
    expect(s.features[0]!.feature).toBe("f0");
    expect(s.features[0]!.perGroup).toHaveLength(3);
    expect(s.features[0]!.meanAbs).toBeCloseTo(
      s.features[0]!.perGroup!.reduce((a, b) => a + b, 0),
      12,
    );
    expect(shapSummary(treeShap(model, X), X, { group: 1 }).points).toHaveLength(2 * 300);
  });
});

describe("permutation importance", () => {
  it("finds the informative features, is seeded, and reports mean ± std over repeats", async () => {
    const rng = new Rng(7);
    const data = Array.from({ length: 800 }, () => [rng.normal(), rng.normal(), rng.normal()]);
    const y = Float64Array.from(data, (x) => (2 * x[0]! + 0.4 * x[1]! + rng.normal(0, 0.5) > 0 ? 1 : 0));
    const X = matrixFromRows(data);
    const model = await trainGbdt(X, y, { objective: "binary", numRounds: 40, threads: 1 });
    const predictor = compileEnsemble(model);
    const options = {
      predict: (m: typeof X) => predictor.predict(m),
      X,
      y,
      metric: "auc" as const,
      repeats: 4,
      seed: 3,
      featureNames: ["strong", "weak", "noise"],
    };
    const a = await permutationImportance(options);
    expect(a.baseline).toBeCloseTo(rocAuc(y, predictor.predict(X)), 12);
    expect(a.importances.map((i) => i.feature)).toEqual(["strong", "weak", "noise"]);
    expect(a.importances[0]!.mean).toBeGreaterThan(0.2);
    expect(Math.abs(a.importances[2]!.mean)).toBeLessThan(0.01);
    expect(a.importances[0]!.drops).toHaveLength(4);
    const m = a.importances[0]!;
    const mean = m.drops.reduce((s, d) => s + d, 0) / 4;
    expect(m.mean).toBeCloseTo(mean, 12);
    expect(m.std).toBeCloseTo(Math.sqrt(m.drops.reduce((s, d) => s + (d - mean) ** 2, 0) / 4), 12);
    expect(m.std).toBeGreaterThan(0);
    expect(await permutationImportance(options)).toEqual(a);
    expect((await permutationImportance({ ...options, seed: 4 })).importances[0]!.drops).not.toEqual(m.drops);

    // A lower-is-better metric is oriented so that positive still means "needed".
    const loss = await permutationImportance({ ...options, metric: "logloss" });
    expect(loss.direction).toBe("lower");
    expect(loss.importances[0]!.feature).toBe("strong");
    expect(loss.importances[0]!.mean).toBeGreaterThan(0);

    // Grouped columns are shuffled together.
    const grouped = await permutationImportance({
      ...options,
      groups: [
        { name: "signal", columns: [0, 1] },
        { name: "noise", columns: [2] },
      ],
    });
    expect(grouped.importances[0]).toMatchObject({ feature: "signal", columns: [0, 1] });
    expect(grouped.importances[0]!.mean).toBeGreaterThan(a.importances[0]!.mean);
  });

  it("names bad input", async () => {
    const X = matrixFromRows([
      [1, 2],
      [3, 4],
    ]);
    const predict = () => [0.2, 0.8];
    await expect(permutationImportance({ predict, X, y: [0], metric: "auc" })).rejects.toThrow(/1 labels for 2 rows/);
    await expect(permutationImportance({ predict, X, y: [0, 1], metric: "nope" as never })).rejects.toThrow(
      /unknown metric "nope"/,
    );
    await expect(permutationImportance({ predict, X, y: [0, 1], metric: "auc", repeats: 0 })).rejects.toThrow(
      /repeats must be/,
    );
    await expect(
      permutationImportance({ predict, X, y: [0, 1], metric: "auc", groups: [{ name: "g", columns: [5] }] }),
    ).rejects.toThrow(/lists column 5/);
  });
});
