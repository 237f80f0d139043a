import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArtifactStore, Store } from "@quintet/core";
import { Study, syntheticCustomers, toCsv } from "@quintet/ml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelRegistry, Tracker, type TrainEvent, trainTable } from "../index.js";

let home: string;
let store: Store;
let artifacts: ArtifactStore;
let csv: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "quintet-train-tune-"));
  store = await Store.open({ url: `sqlite:${join(home, "q.db")}` });
  artifacts = await ArtifactStore.open({ home, store });
  csv = join(home, "customers.csv");
  writeFileSync(csv, toCsv(syntheticCustomers({ rows: 2000, seed: 5 })));
});
afterAll(async () => {
  await store.close();
});

describe("trainTable with tuning", () => {
  it("tunes on the train/validation split, trains the final model with the best trial, and records the study", async () => {
    const events: TrainEvent[] = [];
    const result = await trainTable(
      {
        data: csv,
        target: "churned",
        positive: "yes",
        name: "churn",
        tune: { trials: 6, concurrency: 2, folds: 0 },
        onEvent: (e) => events.push(e),
      },
      { store, artifacts, home },
    );
    const tuning = result.tuning!;
    expect(tuning).toMatchObject({ metric: "auc", direction: "maximize", folds: 0, trials: 6, previous: 0, failed: 0 });
    expect(tuning.complete + tuning.pruned).toBe(6);
    expect(result.evaluation.metrics.auc).toBeGreaterThan(0.75);

    // Progress: the tune phase comes before training and reports every trial.
    const phases = events.filter((e) => e.type === "phase").map((e) => (e as { phase: string }).phase);
    expect(phases.indexOf("tune")).toBe(phases.indexOf("features") + 1);
    const trials = events.filter((e) => e.type === "trial");
    expect(trials).toHaveLength(6);
    expect(trials.at(-1)).toMatchObject({ finished: 6, best: { number: tuning.bestTrial, value: tuning.bestValue } });

    // The final fit repeats the best trial: same parameters, same validation curve.
    expect(Math.max(...result.curve.valid)).toBeCloseTo(tuning.bestValue, 12);
    const run = await new Tracker(store, artifacts).getRun(result.runId);
    expect(run.params.learningRate).toBe(tuning.bestParams.learningRate);
    expect(run.params.maxDepth).toBe(tuning.bestParams.maxDepth);
    expect(run.params).toMatchObject({ tune_study: tuning.study, tune_trials: 6, tune_best_trial: tuning.bestTrial });
    expect(run.tags["tune.study_id"]).toBe(tuning.studyId);
    const history = await new Tracker(store, artifacts).metricHistory(result.runId, "tune_valid_auc");
    expect(history.length).toBe(tuning.complete);
    expect(Math.max(...history.map((h) => h.value))).toBe(tuning.bestValue);

    // The study is in the store, reopenable by name.
    const study = await Study.load(store, tuning.study);
    expect((await study.bestTrial())!.params).toEqual(tuning.bestParams);
    expect((await new ModelRegistry(store, artifacts).resolve("churn@champion")).runId).toBe(result.runId);
  }, 180_000);

  it("scores trials by 5-fold cross-validation on a small table unless told otherwise", async () => {
    const events: TrainEvent[] = [];
    const result = await trainTable(
      {
        data: csv,
        target: "churned",
        positive: "yes",
        name: "churn-cv",
        tune: { trials: 3, concurrency: 1, pruner: { type: "none" } },
        onEvent: (e) => events.push(e),
      },
      { store, artifacts, home },
    );
    const tuning = result.tuning!;
    // 2,000 rows are under the CV cut: each trial is the mean over 5 folds of train + validation rows.
    expect(tuning).toMatchObject({ folds: 5, trials: 3, complete: 3 });
    expect(tuning.bestValue).toBeGreaterThan(0.6);
    const phase = events.find((e) => e.type === "phase" && (e as { phase: string }).phase === "tune") as {
      message: string;
    };
    expect(phase.message).toMatch(/5-fold cross-validation on \d+ rows/);
    const run = await new Tracker(store, artifacts).getRun(result.runId);
    expect(run.params.tune_folds).toBe(5);
    await expect(
      trainTable(
        { data: csv, target: "churned", positive: "yes", name: "badfolds", tune: { trials: 1, folds: 1 } },
        { store, artifacts, home },
      ),
    ).rejects.toThrow(/tune option "folds"/);
  }, 180_000);

  it("continues the same study when the same training is tuned again", async () => {
    const again = await trainTable(
      { data: csv, target: "churned", positive: "yes", name: "churn", tune: { trials: 2, concurrency: 1, folds: 0 } },
      { store, artifacts, home },
    );
    expect(again.tuning).toMatchObject({ previous: 6, trials: 8 });
    expect(again.model.version).toBe(2);
  }, 180_000);

  it("holds given parameters fixed and refuses bad tuning options before registering anything", async () => {
    const fixed = await trainTable(
      {
        data: csv,
        target: "churned",
        positive: "yes",
        name: "fixed",
        params: { maxDepth: 3 },
        tune: { trials: 3, concurrency: 1, pruner: { type: "none" } },
      },
      { store, artifacts, home },
    );
    expect(Object.keys(fixed.tuning!.bestParams)).not.toContain("maxDepth");
    expect(fixed.tuning!.pruned).toBe(0);
    const run = await new Tracker(store, artifacts).getRun(fixed.runId);
    expect(run.params.maxDepth).toBe(3);

    await expect(
      trainTable({ data: csv, target: "churned", name: "badtune", tune: { trials: 0 } }, { store, artifacts, home }),
    ).rejects.toThrow(/tune option "trials"/);
    expect((await new ModelRegistry(store, artifacts).listModels()).map((m) => m.name)).not.toContain("badtune");
  }, 180_000);
});
