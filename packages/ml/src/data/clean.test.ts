import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { syntheticCustomers, toCsv } from "../datasets/synthetic-customers.js";
import { bucketRare, cleanFrame, clipOutliers, coerceTypes, dedupe, imputeMissing, trimStrings } from "./clean.js";
import { loadTable } from "./load.js";
import { parseBooleanLike, parseDateLike, parseNumberLike } from "./parse.js";
import { frameFromRecords } from "./records.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-clean-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parsing rules", () => {
  it("read numbers, booleans and dates the way exports write them", () => {
    expect(parseNumberLike("1,234.5")).toBe(1234.5);
    expect(parseNumberLike(" 29.85 ")).toBe(29.85);
    expect(parseNumberLike("$12")).toBe(12);
    expect(parseNumberLike("-3e2")).toBe(-300);
    expect(parseNumberLike("")).toBeNaN();
    expect(parseNumberLike("N/A")).toBeNaN();
    expect(parseNumberLike("12,34")).toBeUndefined();
    expect(parseNumberLike("abc")).toBeUndefined();
    expect(parseBooleanLike("Yes")).toBe(1);
    expect(parseBooleanLike(" no ")).toBe(0);
    expect(parseBooleanLike("maybe")).toBeUndefined();
    expect(parseDateLike("2024-02-29")).toBe(Date.UTC(2024, 1, 29));
    expect(parseDateLike("2024-02-30")).toBeUndefined();
    expect(parseDateLike("2024-01-01T10:00:00+02:00")).toBe(Date.UTC(2024, 0, 1, 8));
    expect(parseDateLike("01/02/2024")).toBeUndefined();
  });
});

describe("cleaning steps", () => {
  it("trims, blanks missing tokens and merges spellings, reporting each change", () => {
    const frame = frameFromRecords([
      { region: "north" },
      { region: "north " },
      { region: "NORTH" },
      { region: " NA " },
      { region: "south" },
    ]);
    const { frame: out, report } = trimStrings(frame);
    expect(out.toRecords().map((r) => r.region)).toEqual(["north", "north", "north", null, "south"]);
    expect(report.changed).toBe(3);
    const col = report.columns[0]!;
    expect(col.examples[0]).toEqual({ row: "row 2", before: "north ", after: "north" });
    expect(col.note).toMatch(/1 values merged/);
  });

  it("coerces number-like strings and reports the unreadable ones", () => {
    const frame = frameFromRecords([
      { amount: "1,234.5", flag: "Yes" },
      { amount: " 29.85 ", flag: "no" },
      { amount: "", flag: "YES" },
      { amount: "7", flag: null },
      ...Array.from({ length: 30 }, (_, i) => ({ amount: String(i), flag: i % 2 ? "yes" : "no" })),
      { amount: "twelve", flag: "no" },
    ]);
    const { frame: out, report } = coerceTypes(frame);
    expect(out.column("amount").kind).toBe("numeric");
    expect(out.column("flag").kind).toBe("boolean");
    expect(out.value(0, "amount")).toBe(1234.5);
    expect(out.value(1, "amount")).toBe(29.85);
    expect(out.value(2, "amount")).toBeNull();
    expect(out.value(3, "amount")).toBe(7);
    expect(out.value(34, "amount")).toBeNull();
    expect(out.value(0, "flag")).toBe(true);
    const amount = report.columns.find((c) => c.column === "amount")!;
    expect(amount.note).toBe("categorical → numeric; 1 unreadable value set missing");
    expect(amount.examples[0]).toEqual({ row: "row 1", before: "1,234.5", after: 1234.5 });
    // "7" was already canonical, so only the reformatted and the unreadable values count.
    expect(amount.changed).toBe(3);
  });

  it("stops on unreadable values when asked, naming them", () => {
    const frame = frameFromRecords([...Array.from({ length: 40 }, (_, i) => ({ n: String(i) })), { n: "lots" }]);
    expect(() => coerceTypes(frame, { onUnreadable: "error" })).toThrow(
      'column "n" mixes types: numeric values except 1: "lots" at row 41',
    );
  });

  it("leaves a column of words alone", () => {
    const frame = frameFromRecords([{ plan: "team" }, { plan: "starter" }, { plan: "12" }]);
    const { frame: out, report } = coerceTypes(frame);
    expect(out.column("plan").kind).toBe("categorical");
    expect(report.changed).toBe(0);
  });

  it("removes exact duplicates, naming the row each repeats", () => {
    const frame = frameFromRecords([
      { a: 1, b: "x" },
      { a: 2, b: "y" },
      { a: 1, b: "x" },
      { a: 1, b: "z" },
    ]);
    const { frame: out, report } = dedupe(frame);
    expect(out.rows).toBe(3);
    expect(report.changed).toBe(1);
    expect(report.columns[0]!.examples[0]).toEqual({ row: "row 3", before: "duplicate of row 1", after: "removed" });
    expect(dedupe(frame, { columns: ["a"] }).frame.rows).toBe(2);
    // Row numbers survive the removal.
    expect(out.rowLabel(2)).toBe("row 4");
  });

  it("imputes, buckets rare categories and clips outliers with reports", () => {
    const frame = frameFromRecords([
      ...Array.from({ length: 99 }, (_, i) => ({ x: i % 10, c: i % 3 === 0 ? "a" : "b" })),
      { x: null, c: "rare" },
      { x: 1000, c: null },
    ]);
    const imp = imputeMissing(frame);
    expect(imp.frame.value(99, "x")).toBe(4.5);
    expect(imp.frame.value(100, "c")).toBe("b");
    expect(imp.report.columns.map((c) => [c.column, c.changed, c.note])).toEqual([
      ["x", 1, "filled with 4.5"],
      ["c", 1, "filled with b"],
    ]);
    const rare = bucketRare(frame, { minShare: 0.05 });
    expect(rare.frame.value(99, "c")).toBe("other");
    expect(rare.report.changed).toBe(1);
    const clip = clipOutliers(frame);
    expect(clip.frame.value(100, "x")).toBe(14.5);
    expect(clip.report.columns[0]!.examples[0]).toEqual({ row: "row 101", before: 1000, after: 14.5 });
    expect(imputeMissing(frame, { strategy: "constant", value: 0, columns: ["x"] }).frame.value(99, "x")).toBe(0);
    expect(() => imputeMissing(frame, { strategy: "constant" })).toThrow(/needs a value/);
  });
});

describe("cleaning the synthetic churn export", () => {
  it("turns the messy CSV into typed columns and says what it changed", async () => {
    const rows = syntheticCustomers({ rows: 3000, seed: 11 });
    const p = join(dir, "customers.csv");
    writeFileSync(p, toCsv(rows));
    const { frame } = await loadTable(p);
    expect(frame.rows).toBe(rows.length);
    const { frame: clean, reports } = cleanFrame(frame);
    const kinds = Object.fromEntries(clean.columns.map((c) => [c.name, c.kind]));
    expect(kinds).toMatchObject({
      customer_id: "text",
      signup_date: "date",
      region: "categorical",
      monthly_charges: "numeric",
      total_charges: "numeric",
      logins_30d: "numeric",
      autopay: "boolean",
      churned: "boolean",
    });
    const trim = reports.find((r) => r.step === "trim")!;
    // Upper-cased regions are merged back into their usual spelling.
    expect(trim.columns.find((c) => c.column === "region")!.note).toMatch(/merged/);
    expect(new Set(clean.toRecords().map((r) => r.region))).toEqual(
      new Set(["north", "south", "east", "west", "central"]),
    );
    const coerce = reports.find((r) => r.step === "coerce")!;
    expect(coerce.columns.map((c) => c.column)).toEqual(expect.arrayContaining(["monthly_charges", "total_charges"]));
    // Blank totals (tenure 0) become missing, formatted ones numbers.
    const totals = clean.column("total_charges");
    const tenure = clean.column("tenure_months");
    if (totals.kind !== "numeric" || tenure.kind !== "numeric") throw new Error("unexpected kinds");
    for (let i = 0; i < clean.rows; i++) {
      if (tenure.values[i] === 0) expect(totals.values[i]).toBeNaN();
      else expect(totals.values[i]).toBeGreaterThan(0);
    }
    const dd = reports.find((r) => r.step === "dedupe")!;
    expect(dd.changed).toBe(Math.floor(3000 * 0.005));
    expect(clean.rows).toBe(3000);
  });
});
