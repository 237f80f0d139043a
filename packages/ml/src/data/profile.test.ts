import { ValidationError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { Rng } from "../datasets/rng.js";
import { syntheticCustomers } from "../datasets/synthetic-customers.js";
import { cleanFrame } from "./clean.js";
import { profileFrame } from "./profile.js";
import { frameFromRecords } from "./records.js";
import { encodeLabels, splitTarget } from "./target.js";

describe("profileFrame", () => {
  it("summarises each column", () => {
    const records = Array.from({ length: 40 }, (_, i) => ({
      id: i + 1,
      x: i === 39 ? 500 : i % 10,
      c: i < 30 ? "a" : i < 39 ? "b" : "B ",
      k: "same",
      s: i % 5 === 0 ? null : ` ${i}.5 `,
      when: new Date(Date.UTC(2024, 0, 1 + i)),
    }));
    const p = profileFrame(frameFromRecords(records));
    const col = (n: string) => p.columns.find((c) => c.name === n)!;
    expect(col("id").idLike).toBe(true);
    expect(col("x").idLike).toBe(false);
    expect(col("x").numeric).toMatchObject({ min: 0, max: 500, quantiles: { p50: 4.5 } });
    expect(col("x").numeric!.outliers.count).toBe(1);
    expect(col("c").top[0]).toEqual({ value: "a", count: 30, share: 0.75 });
    expect(col("c").distinct).toBe(3);
    expect(col("c").warnings).toContain("1 categories differ only by case or spaces".replace("categories", "category"));
    expect(col("k").constant).toBe(true);
    expect(col("s").missing).toBe(8);
    expect(col("s").missingShare).toBe(0.2);
    expect(col("s").looksLike).toBe("numeric");
    expect(col("when").dates).toEqual({ min: "2024-01-01T00:00:00.000Z", max: "2024-02-09T00:00:00.000Z" });
    expect(p.warnings).toEqual(
      expect.arrayContaining([
        "id: ID-like: every value distinct; drop it from the features",
        "k: constant: a single value",
      ]),
    );
  });

  it("flags columns that mix numbers and words", () => {
    const records = Array.from({ length: 30 }, (_, i) => ({ amount: i % 3 === 0 ? "unknown" : String(i * 10) }));
    const p = profileFrame(frameFromRecords(records));
    expect(p.columns[0]!.mixed!.examples[0]).toEqual({ row: "row 1", value: "unknown" });
    expect(p.columns[0]!.mixed!.numericShare).toBeCloseTo(2 / 3, 12);
    expect(p.warnings).toContain(
      'amount: mixed types: 66.7% of values are numbers, others are not (e.g. "unknown" at row 1); fix or blank those values',
    );
  });

  it("flags a column that alone predicts the target, and not the honest ones", () => {
    const rows = syntheticCustomers({ rows: 3000, seed: 5, messy: false });
    const rng = new Rng(1);
    const leaky = rows.map((r) => ({
      ...r,
      // A status field written after the customer left: the label in disguise.
      account_status: r.churned === "yes" ? (rng.bernoulli(0.99) ? "closed" : "active") : "active",
    }));
    const { frame } = cleanFrame(frameFromRecords(leaky));
    const p = profileFrame(frame, { target: "churned" });
    const col = (n: string) => p.columns.find((c) => c.name === n)!;
    expect(p.target).toMatchObject({ name: "churned", task: "binary", classes: ["false", "true"] });
    expect(col("account_status").leakage!.suspected).toBe(true);
    expect(col("account_status").leakage!.score).toBeGreaterThan(0.98);
    expect(col("contract").leakage!.suspected).toBe(false);
    expect(col("contract").leakage!.score).toBeGreaterThan(0.6);
    // A key column has a bin per row: out of fold it carries no signal.
    expect(col("customer_id").leakage!.score).toBeLessThan(0.6);
    expect(col("customer_id").idLike).toBe(true);
    expect(p.warnings.some((w) => w.startsWith("account_status: suspected leakage"))).toBe(true);
  });

  it("scores regression targets with R²", () => {
    const rng = new Rng(3);
    const records = Array.from({ length: 500 }, () => {
      const a = rng.normal();
      return { a, copy: a * 2 + 1, noise: rng.normal(), y: a * 3 + rng.normal(0, 0.01) };
    });
    const p = profileFrame(frameFromRecords(records), { target: "y" });
    expect(p.target!.task).toBe("regression");
    expect(p.columns.find((c) => c.name === "noise")!.leakage!.score).toBeLessThan(0.1);
    expect(p.columns.find((c) => c.name === "copy")!.leakage).toMatchObject({ metric: "r2" });
    expect(p.columns.find((c) => c.name === "copy")!.leakage!.score).toBeGreaterThan(0.9);
  });
});

describe("splitTarget", () => {
  it("encodes yes/no with yes positive, and other pairs with the rarer class positive", () => {
    const f = frameFromRecords([{ y: "no" }, { y: "yes" }, { y: "no" }]);
    const s = splitTarget(f, "y");
    expect(s.info).toEqual({ name: "y", task: "binary", classes: ["no", "yes"] });
    expect(Array.from(s.y)).toEqual([0, 1, 0]);
    expect(s.frame.names).toEqual([]);
    const g = frameFromRecords([{ y: "stay" }, { y: "stay" }, { y: "leave" }]);
    expect(splitTarget(g, "y").info.classes).toEqual(["stay", "leave"]);
    expect(splitTarget(g, "y", { positive: "stay" }).info.classes).toEqual(["leave", "stay"]);
    const m = frameFromRecords([{ y: "b" }, { y: "a" }, { y: "c" }]);
    expect(splitTarget(m, "y").info).toEqual({ name: "y", task: "multiclass", classes: ["a", "b", "c"] });
    expect(Array.from(encodeLabels(m, splitTarget(m, "y").info))).toEqual([1, 0, 2]);
  });

  it("refuses a missing column, a single class and missing labels, naming them", () => {
    const f = frameFromRecords([
      { x: 1, y: "a" },
      { x: 2, y: "a" },
      { x: 3, y: null },
    ]);
    expect(() => splitTarget(f, "z")).toThrow(/target column "z" is not in the table/);
    expect(() => splitTarget(f, "y")).toThrow(/missing on 1 row: row 3/);
    let err: unknown;
    try {
      splitTarget(f, "y", { onMissing: "drop" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toMatch(/single class \("a"\)/);
    expect(() => splitTarget(frameFromRecords([{ y: 2 }, { y: 2 }, { y: 2 }]), "y", { task: "regression" })).toThrow(
      /constant/,
    );
  });
});
