import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArtifactStore, SpanQuery, Store, startTracing } from "@quintet/core";
import { ModelBundle, syntheticCustomers, toCsv } from "@quintet/ml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelRegistry, Tracker, type TrainEvent, trainTable } from "../index.js";

let home: string;
let store: Store;
let artifacts: ArtifactStore;
let csv: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "quintet-train-"));
  store = await Store.open({ url: `sqlite:${join(home, "q.db")}` });
  artifacts = await ArtifactStore.open({ home, store });
  csv = join(home, "customers.csv");
  writeFileSync(csv, toCsv(syntheticCustomers({ rows: 3000, seed: 3 })));
});
afterAll(async () => {
  await store.close();
});

describe("trainTable", () => {
  it("trains, evaluates, tracks, reports and registers a churn model from a messy CSV", async () => {
    const tracing = await startTracing(store);
    const events: TrainEvent[] = [];
    const result = await trainTable(
      {
        data: csv,
        target: "churned",
        positive: "yes",
        name: "churn",
        params: { numRounds: 60, learningRate: 0.1, earlyStoppingRounds: 15 },
        onEvent: (e) => events.push(e),
      },
      { store, artifacts, home },
    );
    await tracing.flush();

    // It learned: the synthetic churn signal is strong enough for a clear margin over chance.
    expect(result.evaluation.metrics.auc).toBeGreaterThan(0.75);
    expect(result.evaluation.metrics.logloss).toBeLessThan(0.6);
    expect(result.rows.train + result.rows.valid + result.rows.test).toBe(result.rows.total);
    expect(result.featureNotes.some((n) => n.startsWith("customer_id"))).toBe(true); // ID-like, dropped
    expect(result.importance[0]!.gain).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === "iteration").length).toBe(result.curve.valid.length);
    expect(events.filter((e) => e.type === "phase").map((e) => (e as { phase: string }).phase)).toEqual([
      "load",
      "clean",
      "profile",
      "features",
      "train",
      "evaluate",
      "report",
      "register",
    ]);

    // Registered as the first version with the champion alias and its lineage.
    expect(result.model).toMatchObject({ name: "churn", version: 1, aliases: ["champion"], runId: result.runId });
    expect(result.model.signature?.inputs.map((i) => i.name)).toContain("tenure_months");

    // The stored bundle predicts what the evaluation saw, from raw rows.
    const { bundle } = await new ModelRegistry(store, artifacts).loadBundle("churn@champion");
    const loaded = ModelBundle.fromBytes(bundle);
    const rows = syntheticCustomers({ rows: 5, seed: 99 }).map(({ churned: _, ...r }) => r);
    const preds = await loaded.predict(rows);
    expect(preds.rows).toBe(5);
    for (const v of preds.values) expect(v > 0 && v < 1).toBe(true);
    expect(preds.labels!.every((l) => l === "yes" || l === "no")).toBe(true);

    // The run holds params, curves, test metrics and the report; the report is a real page.
    const run = await new Tracker(store, artifacts).getRun(result.runId);
    expect(run.status).toBe("finished");
    expect(run.metrics.test_auc).toBeCloseTo(result.evaluation.metrics.auc!, 10);
    expect(run.artifacts.map((a) => a.name).sort()).toEqual(["model.bundle.json", "report.html"]);
    expect(existsSync(result.reportPath)).toBe(true);
    const html = readFileSync(result.reportPath, "utf8");
    expect(html).toContain("ROC curve");
    expect((html.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(5);
    // SHAP summary of the test rows: mean |SHAP| bars and a dot plot.
    expect(html).toContain(`SHAP summary: mean |SHAP| per feature (${Math.min(1000, result.rows.test)} test rows)`);
    expect(html).toContain("SHAP values per row (log-odds of churned = yes)");
    expect(html).toContain("feature value");

    // One ml.train span with the run id and the test AUC.
    const [span] = await new SpanQuery(store).list({ kind: "ml.train" });
    expect(span?.attributes["run.id"]).toBe(result.runId);
    await tracing.shutdown();
  });

  it("registers later runs as new versions without moving champion", async () => {
    const second = await trainTable(
      { data: csv, target: "churned", positive: "yes", name: "churn", params: { numRounds: 10 } },
      { store, artifacts, home },
    );
    expect(second.model.version).toBe(2);
    expect(second.model.aliases).toEqual([]);
    expect((await new ModelRegistry(store, artifacts).resolve("churn@champion")).version).toBe(1);
  });

  it("reports SHAP per class for a multiclass target", async () => {
    const result = await trainTable(
      { data: csv, target: "contract", name: "contract", params: { numRounds: 15 } },
      { store, artifacts, home },
    );
    expect(result.target.task).toBe("multiclass");
    const html = readFileSync(result.reportPath, "utf8");
    expect(html).toContain("SHAP summary: mean |SHAP| per feature");
    for (const c of result.target.classes!) expect(html).toContain(`SHAP values for contract = ${c}`);
  });

  it("fails clearly on bad input and registers nothing", async () => {
    const registry = new ModelRegistry(store, artifacts);
    await expect(trainTable({ data: csv, target: "nope", name: "bad" }, { store, artifacts, home })).rejects.toThrow(
      /no column "nope"/,
    );
    const single = join(home, "single.csv");
    writeFileSync(single, "a,b,y\n1,2,x\n3,4,x\n5,6,x\n7,8,x\n");
    await expect(trainTable({ data: single, target: "y", name: "bad" }, { store, artifacts, home })).rejects.toThrow(
      /single class/,
    );
    expect((await registry.listModels()).map((m) => m.name)).not.toContain("bad");
  });

  it("scores a category too rare to reach the training rows as missing in the held-out rows", async () => {
    const rows = ["plan,x,y"];
    for (let i = 0; i < 400; i++)
      rows.push(`${i === 7 ? "rare" : i % 2 ? "a" : "b"},${i % 13},${i % 3 === 0 ? "yes" : "no"}`);
    const file = join(home, "rare.csv");
    writeFileSync(file, `${rows.join("\n")}\n`);
    // Whichever split the single "rare" row lands in, training completes and registers.
    for (const seed of [1, 2, 3, 4]) {
      const r = await trainTable(
        { data: file, target: "y", name: "rare", seed, params: { numRounds: 5 } },
        { store, artifacts, home },
      );
      expect(r.model.name).toBe("rare");
    }
  });
});
