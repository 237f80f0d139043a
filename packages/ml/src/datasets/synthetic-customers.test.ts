import { describe, expect, it } from "vitest";
import { syntheticCustomers, toCsv } from "./synthetic-customers.js";

describe("syntheticCustomers", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = syntheticCustomers({ rows: 300, seed: 1 });
    const b = syntheticCustomers({ rows: 300, seed: 1 });
    const c = syntheticCustomers({ rows: 300, seed: 2 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("has a realistic churn rate that depends on the contract", () => {
    const rows = syntheticCustomers({ rows: 8000, seed: 3, messy: false });
    const rate = (rs: typeof rows) => rs.filter((r) => r.churned === "yes").length / rs.length;
    const overall = rate(rows);
    expect(overall).toBeGreaterThan(0.12);
    expect(overall).toBeLessThan(0.45);
    const m2m = rate(rows.filter((r) => r.contract === "month-to-month"));
    const twoYear = rate(rows.filter((r) => r.contract === "two-year"));
    expect(m2m).toBeGreaterThan(twoYear * 2);
  });

  it("adds the mess of real exports when asked", () => {
    const rows = syntheticCustomers({ rows: 4000, seed: 4 });
    expect(rows.length).toBeGreaterThan(4000);
    expect(rows.some((r) => r.nps_score === null)).toBe(true);
    expect(rows.some((r) => /^ .* $/.test(r.monthly_charges))).toBe(true);
    const clean = syntheticCustomers({ rows: 500, seed: 4, messy: false });
    expect(clean.every((r) => r.nps_score !== null && !/\s/.test(r.monthly_charges))).toBe(true);
  });

  it("rejects a bad row count", () => {
    expect(() => syntheticCustomers({ rows: 0 })).toThrow(/rows must be/);
  });

  it("writes quoted CSV", () => {
    expect(toCsv([{ a: "x,y", b: null, c: 'say "hi"' }])).toBe('a,b,c\n"x,y",,"say ""hi"""\n');
  });
});
