import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticCustomers, toCsv } from "@quintet/ml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../testing.js";
import { signedBars } from "./explain.js";

describe("quintet explain", () => {
  const cwd = mkdtempSync(join(tmpdir(), "quintet-explain-cli-"));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  beforeAll(async () => {
    writeFileSync(join(cwd, "customers.csv"), toCsv(syntheticCustomers({ rows: 900, seed: 5 })));
    writeFileSync(join(cwd, "new.csv"), toCsv(syntheticCustomers({ rows: 12, seed: 6, messy: false })));
    const r = await runCli(
      ["train", "customers.csv", "--target", "churned", "--positive", "yes", "--name", "churn", "--rounds", "40"],
      { cwd },
    );
    expect(r.err).not.toContain("error");
    expect(r.code).toBe(0);
  }, 180_000);

  it("explains one row: prediction, base value, contributions that add up, reasons in words", async () => {
    const r = await runCli(["explain", "churn@champion", "new.csv", "--row", "3", "--json"], { cwd });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const o = JSON.parse(r.out);
    expect(o).toMatchObject({ model: "churn/1", row: 3, rows: 12, task: "binary", class: "yes" });
    expect(o.outcome).toBe("the log-odds of churned = yes");
    // The same row through predict gives the same probability.
    const p = JSON.parse((await runCli(["predict", "churn@champion", "new.csv", "--json"], { cwd })).out);
    expect(o.prediction).toBeCloseTo(p.predictions[2].churned_probability, 10);
    expect(o.label).toBe(p.predictions[2].churned);
    const total = o.inputs.reduce((a: number, i: { contribution: number }) => a + i.contribution, o.base);
    expect(Math.abs(total - o.margin)).toBeLessThan(1e-9);
    expect(Math.abs(o.prediction - 1 / (1 + Math.exp(-o.margin)))).toBeLessThan(1e-12);
    // Inputs, not pipeline features: signup_date's parts are summed into signup_date.
    const names = o.inputs.map((i: { name: string }) => i.name);
    expect(names.some((n: string) => n.includes(":"))).toBe(false);
    const raw = syntheticCustomers({ rows: 12, seed: 6, messy: false })[2]!;
    const contract = o.inputs.find((i: { name: string }) => i.name === "contract");
    if (contract) expect(contract.value).toBe(raw.contract);
    expect(o.reasons.up.length + o.reasons.down.length).toBeGreaterThan(0);
    expect(o.reasons.up.length).toBeLessThanOrEqual(3);
    for (const u of o.reasons.up) expect(u.text).toMatch(/: raises the log-odds of churned = yes by \d/);
    for (const d of o.reasons.down) expect(d.text).toMatch(/: lowers the log-odds of churned = yes by \d/);
  });

  it("draws a signed bar chart for people", async () => {
    const r = await runCli(["explain", "churn@champion", "new.csv", "--row", "1", "--top", "4"], { cwd });
    expect(r.code).toBe(0);
    expect(r.out).toContain("churn/1 · row 1 of new.csv");
    expect(r.out).toMatch(/Prediction: (yes|no) \(P\(yes\) = 0\.\d{3}\)/);
    expect(r.out).toMatch(/Score \(the log-odds of churned = yes\): base value [+-]\d+\.\d{3} → this row [+-]\d/);
    expect(r.out).toContain("Contributions to the log-odds of churned = yes:");
    expect(r.out).toContain("│");
    expect(r.out).toMatch(/other inputs?/);
    expect(r.out).toContain("Why:");
    expect(r.out).toMatch(/ {2}[↑↓] \S+ is /);
  });

  it("says clearly what is wrong: row out of range, unknown model, bad file, bad flags", async () => {
    const range = await runCli(["explain", "churn@champion", "new.csv", "--row", "13"], { cwd });
    expect(range.code).toBe(2);
    expect(range.err).toContain("--row 13 is out of range: new.csv has 12 data rows");
    expect(range.err).toContain("Pick a row from 1 to 12");

    const zero = await runCli(["explain", "churn@champion", "new.csv", "--row", "0"], { cwd });
    expect(zero.code).toBe(2);
    expect(zero.err).toContain("--row must be a whole number from 1");

    const missingRow = await runCli(["explain", "churn@champion", "new.csv"], { cwd });
    expect(missingRow.code).toBe(2);
    expect(missingRow.err).toContain("--row");

    const model = await runCli(["explain", "nosuch@champion", "new.csv", "--row", "1"], { cwd });
    expect(model.code).toBe(1);
    expect(model.err).toContain('model "nosuch@champion" not found');

    const file = await runCli(["explain", "churn@champion", "missing.csv", "--row", "1"], { cwd });
    expect(file.code).toBe(1);
    expect(file.err).toContain("missing.csv");

    writeFileSync(join(cwd, "other.csv"), "a,b\n1,2\n");
    const schema = await runCli(["explain", "churn@champion", "other.csv", "--row", "1"], { cwd });
    expect(schema.code).toBe(1);
    expect(schema.err).toMatch(/column/);

    const cls = await runCli(["explain", "churn@champion", "new.csv", "--row", "1", "--class", "maybe"], { cwd });
    expect(cls.code).toBe(1);
    expect(cls.err).toContain("positive class");
  });
});

describe("signedBars", () => {
  it("grows negative values left and positive values right of one axis, scaled to the largest", () => {
    const text = signedBars(
      [
        { label: "a", value: 1 },
        { label: "bb", value: -0.5, note: "x" },
        { label: "c", value: 0.001 },
      ],
      { width: 10 },
    );
    const [a, b, c] = text.split("\n");
    expect(a).toBe(`a  ${" ".repeat(10)}│██████████   +1.000`);
    expect(b).toBe(`bb ${" ".repeat(5)}█████│${" ".repeat(10)}   -0.500  x`);
    expect(c!.split("│")[1]!.startsWith("▏")).toBe(true);
    expect(signedBars([])).toBe("(no contributions)");
  });
});
