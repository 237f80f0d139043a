import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../testing.js";

// One project through the whole tabular workflow, as a user would drive it.
describe("quickstart, train, runs, models and predict", () => {
  const cwd = mkdtempSync(join(tmpdir(), "quintet-mlcli-"));

  it("quickstart generates data, trains, registers churn@champion and writes a report", async () => {
    const r = await runCli(["quickstart", "--rows", "2000", "--json"], { cwd });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.model).toMatchObject({ name: "churn", version: 1, aliases: ["champion"] });
    expect(out.metrics.auc).toBeGreaterThan(0.7);
    expect(existsSync(out.reportPath)).toBe(true);
    expect(existsSync(join(cwd, ".quintet", "data", "customers.csv"))).toBe(true);
  }, 120_000);

  it("shows progress and charts to people", async () => {
    const r = await runCli(
      [
        "train",
        ".quintet/data/customers.csv",
        "--target",
        "churned",
        "--positive",
        "yes",
        "--name",
        "churn",
        "--rounds",
        "30",
      ],
      { cwd },
    );
    expect(r.code).toBe(0);
    expect(r.err).toContain("Training gradient-boosted trees");
    expect(r.err).toMatch(/round 25\/30/);
    expect(r.out).toContain("Model churn version 2");
    expect(r.out).toContain("ROC curve");
    expect(r.out).toContain("Top features");
  }, 120_000);

  it("lists and compares runs, lists and shows models, moves aliases", async () => {
    const runs = JSON.parse((await runCli(["runs", "ls", "--json"], { cwd })).out);
    expect(runs).toHaveLength(2);
    const show = await runCli(["runs", "show", runs[0].id], { cwd });
    expect(show.out).toContain("METRIC");
    expect(show.out).toContain("valid_logloss");
    expect(show.out).toContain("report.html");
    const cmp = await runCli(["runs", "compare", runs[0].id, runs[1].id], { cwd });
    expect(cmp.out).toMatch(/\*\s+param numRounds/);

    const models = JSON.parse((await runCli(["models", "ls", "--json"], { cwd })).out);
    expect(models).toEqual([{ name: "churn", description: "", latest: 2, versions: 2, aliases: { champion: 1 } }]);
    expect((await runCli(["models", "alias", "churn", "champion", "2"], { cwd })).out).toContain(
      "churn@champion → version 2",
    );
    const shown = await runCli(["models", "show", "churn"], { cwd });
    expect(shown.out).toContain("champion: 1 → 2");
    const missing = await runCli(["models", "alias", "churn", "champion", "9"], { cwd });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("has no version 9");
  });

  it("predicts from raw rows with the champion, writes a CSV, and names bad input", async () => {
    const r = await runCli(
      ["predict", "churn@champion", ".quintet/data/customers.csv", "--out", "scored.csv", "--json"],
      { cwd },
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.model).toBe("churn/2");
    expect(out.rows).toBeGreaterThan(1900);
    const csv = readFileSync(join(cwd, "scored.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("row,churned_probability,churned");
    expect(csv).toHaveLength(out.rows + 1);

    writeFileSync(join(cwd, "bad.csv"), "region,plan\nnorth,starter\n");
    const bad = await runCli(["predict", "churn@champion", "bad.csv"], { cwd });
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/column/);
    const noModel = await runCli(["predict", "nothing@champion", "bad.csv"], { cwd });
    expect(noModel.err).toContain('model "nothing@champion" not found');
  });

  it("profiles a table and rejects bad train flags with exit 2", async () => {
    const p = await runCli(["profile", ".quintet/data/customers.csv", "--target", "churned"], { cwd });
    expect(p.code).toBe(0);
    expect(p.out).toMatch(/customer_id/);
    expect(p.out).toContain("Findings:");
    const bad = await runCli(["train", "x.csv", "--target", "y", "--test-share", "2"], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--test-share must be a number between 0 and 0.9");
    const noTarget = await runCli(["train", ".quintet/data/customers.csv", "--target", "nope"], { cwd });
    expect(noTarget.code).toBe(1);
    expect(noTarget.err).toContain('no column "nope"');
  });
});
