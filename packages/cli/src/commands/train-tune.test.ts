import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticCustomers, toCsv } from "@quintet/ml";
import { describe, expect, it } from "vitest";
import { runCli } from "../testing.js";
import { parseBudget } from "./train.js";

describe("quintet train --tune", () => {
  const cwd = mkdtempSync(join(tmpdir(), "quintet-tunecli-"));
  writeFileSync(join(cwd, "customers.csv"), toCsv(syntheticCustomers({ rows: 1500, seed: 8 })));

  it("parses budgets as times or trial counts and names a bad one", () => {
    expect(parseBudget("60s")).toEqual({ budgetMs: 60_000 });
    expect(parseBudget("5m")).toEqual({ budgetMs: 300_000 });
    expect(parseBudget("1.5h")).toEqual({ budgetMs: 5_400_000 });
    expect(parseBudget("20 trials")).toEqual({ trials: 20 });
    expect(parseBudget("1trial")).toEqual({ trials: 1 });
    expect(() => parseBudget("soon")).toThrow(/--budget must be a time like 60s/);
    expect(() => parseBudget("60")).toThrow(/--budget must be/);
    expect(() => parseBudget("2.5 trials")).toThrow(/whole/);
  });

  it("shows each trial with the best so far, trains with the tuned parameters and records the study", async () => {
    const r = await runCli(
      ["train", "customers.csv", "--target", "churned", "--positive", "yes", "--name", "churn", "--budget", "4 trials"],
      { cwd },
    );
    expect(r.code).toBe(0);
    expect(r.err).toContain("Tuning tree parameters");
    const lines = r.err.split("\n").filter((l) => /^\s+trial \d\/4 \(#\d\)/.test(l));
    expect(lines).toHaveLength(4);
    expect(lines.at(-1)).toMatch(/best auc 0\.\d{4} \(trial \d\)/);
    expect(r.out).toMatch(/Tuned: study churn-[0-9a-f]{12}, 4 trials/);
    expect(r.out).toContain("learningRate=");

    const json = await runCli(
      [
        "train",
        "customers.csv",
        "--target",
        "churned",
        "--positive",
        "yes",
        "--name",
        "churn",
        "--tune",
        "--budget",
        "2 trials",
        "--json",
      ],
      { cwd },
    );
    expect(json.code).toBe(0);
    const out = JSON.parse(json.out);
    // The same training continues its study.
    expect(out.tuning).toMatchObject({ trials: 6, previous: 4, metric: "auc" });
    const run = JSON.parse((await runCli(["runs", "show", out.runId, "--json"], { cwd })).out);
    expect(run.params.tune_study).toBe(out.tuning.study);
    expect(run.params.learningRate).toBe(out.tuning.bestParams.learningRate);
    expect(run.metrics.tune_valid_auc).toBeGreaterThan(0.5);
  }, 180_000);

  it("refuses a bad budget with exit 2", async () => {
    const bad = await runCli(["train", "customers.csv", "--target", "churned", "--budget", "lots"], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--budget must be a time");
  });
});
