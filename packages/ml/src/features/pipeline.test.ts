import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanFrame } from "../data/clean.js";
import type { Frame } from "../data/frame.js";
import { loadTable } from "../data/load.js";
import { profileFrame } from "../data/profile.js";
import { frameFromRecords } from "../data/records.js";
import { splitTarget } from "../data/target.js";
import { syntheticCustomers, toCsv } from "../datasets/synthetic-customers.js";
import { crossValidate } from "../eval/cross-validate.js";
import { stratifiedKFold } from "../eval/splits.js";
import { GbdtClassifier } from "../models/gbdt/index.js";
import { autoPipeline } from "./auto.js";
import { Pipeline } from "./pipeline.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-features-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function customers(rows: number, seed: number): Promise<Frame> {
  const p = join(dir, `customers-${rows}-${seed}.csv`);
  const data = syntheticCustomers({ rows, seed }).map((r, i) => ({
    ...r,
    // Free-text notes and a high-cardinality code, as CRM exports have.
    notes:
      i % 4 === 0
        ? `asked about pricing and the outage credit on ticket ${i}`
        : i % 4 === 1
          ? "happy with support"
          : null,
    postcode: `P${(i * 7919) % 400}`,
  }));
  writeFileSync(p, toCsv(data));
  const { frame } = await loadTable(p);
  return cleanFrame(frame, { exclude: ["churned"] }).frame;
}

describe("Pipeline serialisation", () => {
  it("round-trips through JSON to identical matrices, with its input schema", async () => {
    const frame = await customers(1200, 3);
    const pipe = new Pipeline(
      [
        { type: "drop", columns: ["customer_id"] },
        { type: "sql", name: "charge_per_seat", expression: "monthly_charges / NULLIF(seats, 0)" },
        { type: "dateParts", columns: ["signup_date"] },
        { type: "impute", columns: ["nps_score", "logins_30d"], indicator: true },
        { type: "standardScale", columns: ["monthly_charges"] },
        { type: "oneHot", columns: ["contract"] },
        { type: "ordinal", columns: ["plan", "region"] },
        { type: "targetEncode", columns: ["postcode"] },
        { type: "frequencyEncode", columns: ["postcode", "payment_method"] },
        { type: "textHash", columns: ["notes"], buckets: 8, ngrams: 2 },
      ],
      { seed: 4 },
    );
    const { X, target } = await pipe.fitTransform(frame, "churned");
    expect(target).toEqual({ name: "churned", task: "binary", classes: ["no", "yes"] });
    expect(X.rows).toBe(frame.rows);
    expect(X.featureNames).toContain("charge_per_seat");
    expect(X.featureNames).toContain("signup_date:year");
    expect(X.featureNames).toContain("postcode:te");
    expect(X.featureNames).not.toContain("customer_id");
    expect(X.categoricalFeatures.map((j) => X.featureNames[j])).toEqual(["plan", "region"]);

    const json = JSON.parse(JSON.stringify(pipe.toJSON()));
    expect(json.schema.columns.map((c: { name: string }) => c.name)).not.toContain("customer_id");
    expect(json.schema.columns.map((c: { name: string }) => c.name)).not.toContain("churned");
    const served = Pipeline.fromJSON(json);
    const test = await customers(300, 8);
    const a = await pipe.transform(test);
    const b = await served.transform(test);
    expect(b.featureNames).toEqual(a.featureNames);
    expect(b.categoricalFeatures).toEqual(a.categoricalFeatures);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(served.schema).toEqual(pipe.schema);
    expect(served.target).toEqual(pipe.target);

    // Serving takes plain objects too, and needs no dropped or target columns.
    const records = test.drop(["customer_id", "churned"]).toRecords().slice(0, 5);
    const c = await served.transform(records);
    expect(Array.from(c.data)).toEqual(Array.from(a.data.subarray(0, 5 * a.cols)));
  });

  it("names the row and column of bad serving input", async () => {
    const frame = await customers(400, 5);
    const pipe = new Pipeline([
      { type: "drop", columns: ["customer_id", "notes", "postcode"] },
      { type: "dateParts", columns: ["signup_date"] },
      { type: "ordinal" },
    ]);
    await pipe.fit(frame, "churned");
    const good = frame.drop(["churned"]).toRecords()[0]!;
    await expect(pipe.transform([good, { ...good, plan: "platinum" }])).rejects.toThrow(
      'row 2, column "plan": "platinum" is not a category the model knows',
    );
    const { seats: _, ...noSeats } = good;
    await expect(pipe.transform([noSeats])).rejects.toThrow(/column "seats" is missing/);
    await expect(pipe.transform([{ ...good, tenure_months: "ten" }])).rejects.toThrow(/"ten" is not a number/);
    const warnings: string[] = [];
    await pipe.transform([{ ...good, seats: 100000 }], { onWarning: (w) => warnings.push(...w.map((i) => i.message)) });
    expect(warnings[0]).toMatch(/row 1, column "seats": 100000 is outside the training range/);
  });

  it("checks training data against a given contract", async () => {
    const first = await new Pipeline([{ type: "ordinal" }]).fit(
      frameFromRecords([
        { plan: "team", seats: 2 },
        { plan: "starter", seats: 1 },
      ]),
    );
    const next = new Pipeline([{ type: "ordinal" }], { schema: first.schema });
    await expect(
      next.fit(
        frameFromRecords([
          { plan: "team", seats: 3 },
          { plan: "gold", seats: 1 },
        ]),
      ),
    ).rejects.toThrow('row 2, column "plan": "gold" is not a category the model knows');
    await expect(next.fit(frameFromRecords([{ plan: "team" }]))).rejects.toThrow(/column "seats" is missing/);
    await next.fit(
      frameFromRecords([
        { plan: "starter", seats: 3 },
        { plan: "team", seats: 5 },
      ]),
    );
    expect(next.schema).toEqual(first.schema);
  });

  it("refuses a corrupted saved pipeline, naming the part", async () => {
    const pipe = await new Pipeline([{ type: "standardScale" }]).fit(frameFromRecords([{ x: 1 }, { x: 2 }]));
    const json = pipe.toJSON();
    expect(() => Pipeline.fromJSON({ ...json, format: "other" })).toThrow(/pipeline format/);
    const broken = { ...json, steps: [{ spec: json.steps[0]!.spec, state: { columns: ["x"], means: [1] } }] };
    expect(() => Pipeline.fromJSON(broken)).toThrow(/pipeline step 0 \(standardScale\) state stds/);
  });
});

describe("autoPipeline", () => {
  it("picks steps for the churn table and feeds a GBDT under cross-validation", async () => {
    const frame = await customers(1500, 12);
    const profile = profileFrame(frame, { target: "churned" });
    const { pipeline, notes } = autoPipeline(profile);
    expect(notes).toContain("customer_id: dropped (ID-like)");
    expect(notes.find((n) => n.startsWith("postcode:"))).toMatch(/target encoding \+ frequency encoding/);
    expect(notes.find((n) => n.startsWith("notes:"))).toMatch(/free text/);
    expect(notes.find((n) => n.startsWith("contract:"))).toMatch(/native categorical/);
    const kinds = pipeline.steps.map((s) => s.type);
    expect(kinds).toEqual(["drop", "dateParts", "ordinal", "targetEncode", "frequencyEncode", "textHash"]);

    const { y } = splitTarget(frame, "churned");
    const cv = await crossValidate({
      data: frame,
      y,
      splitter: stratifiedKFold({ k: 3, seed: 2 }),
      metrics: ["auc"],
      // The pipeline is fitted inside each fold: the validation rows never shape the encodings.
      fit: async (train: Frame) => {
        const p = autoPipeline(profileFrame(train, { target: "churned" })).pipeline;
        const { X, y: yTrain } = await p.fitTransform(train, "churned");
        const model = await new GbdtClassifier({
          numRounds: 60,
          learningRate: 0.1,
          maxDepth: 4,
          categoricalFeatures: X.categoricalFeatures,
        }).fit(X, yTrain!);
        return { p, model };
      },
      predict: async ({ p, model }, rows: Frame) =>
        model.predictProba(await p.transform(rows, { unseenCategories: "missing" })),
    });
    expect(cv.folds).toHaveLength(3);
    expect(cv.summary.auc!.mean).toBeGreaterThan(0.72);
    expect(cv.summary.auc!.std).toBeLessThan(0.05);
  });

  it("prepares linear-model inputs: imputed, scaled, one-hot", async () => {
    const frame = await customers(600, 2);
    const { pipeline } = autoPipeline(profileFrame(frame, { target: "churned" }), { model: "linear" });
    const { X } = await pipeline.fitTransform(frame, "churned");
    expect(X.categoricalFeatures).toEqual([]);
    expect(Array.from(X.data).every((v) => Number.isFinite(v))).toBe(true);
    const j = X.featureNames.indexOf("tenure_months");
    const col = Array.from({ length: X.rows }, (_, i) => X.data[i * X.cols + j]!);
    expect(Math.abs(col.reduce((a, b) => a + b) / col.length)).toBeLessThan(1e-9);
    expect(X.featureNames).toContain("contract=month-to-month");
    expect(X.featureNames).toContain("nps_score:missing");
  });
});
