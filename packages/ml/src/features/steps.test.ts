import { ValidationError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { frameFromRecords } from "../data/records.js";
import { Rng } from "../datasets/rng.js";
import { Pipeline } from "./pipeline.js";
import type { FeatureMatrix } from "./types.js";

function col(X: FeatureMatrix, name: string): number[] {
  const j = X.featureNames.indexOf(name);
  if (j < 0) throw new Error(`no feature ${name} in ${X.featureNames.join(",")}`);
  return Array.from({ length: X.rows }, (_, i) => X.data[i * X.cols + j]!);
}

const frame = frameFromRecords([
  { x: 1, b: true, plan: "team", when: new Date("2024-03-02T00:00:00Z") },
  { x: null, b: false, plan: "starter", when: new Date("2024-03-04T00:00:00Z") },
  { x: 3, b: null, plan: "team", when: null },
  { x: 5, b: true, plan: null, when: new Date("2023-12-31T00:00:00Z") },
]);

describe("feature steps", () => {
  it("impute with learned values and missing indicators, then scale", async () => {
    const p = new Pipeline([
      { type: "impute", columns: ["x", "b"], indicator: true },
      { type: "standardScale", columns: ["x"] },
      { type: "drop", columns: ["plan", "when"] },
    ]);
    const { X } = await p.fitTransform(frame);
    expect(X.featureNames).toEqual(["x", "b", "x:missing", "b:missing"]);
    // median of 1, 3, 5 is 3; mean of 1,3,3,5 = 3, population std = sqrt(2)
    expect(col(X, "x").map((v) => +v.toFixed(6))).toEqual([-1, 0, 0, 1].map((v) => +(v * Math.SQRT2).toFixed(6)));
    expect(col(X, "b")).toEqual([1, 0, 1, 1]);
    expect(col(X, "x:missing")).toEqual([0, 1, 0, 0]);
    // At serving the training fill is used, not the new rows' own median.
    const Y = await p.transform([{ x: null, b: null, plan: "team", when: null }]);
    expect(col(Y, "x")).toEqual([0]);
    expect(col(Y, "x:missing")).toEqual([1]);
  });

  it("one-hot keeps frequent categories and routes the rest to other", async () => {
    const rows = [..."aaaabbbcd"].map((c) => ({ c }));
    const p = new Pipeline([{ type: "oneHot", columns: ["c"], maxCategories: 2 }]);
    const { X } = await p.fitTransform(frameFromRecords(rows));
    expect(X.featureNames).toEqual(["c=a", "c=b", "c=other"]);
    expect(col(X, "c=other")).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1]);
    const Y = await p.transform([{ c: "b" }, { c: null }]);
    expect(Array.from(Y.data)).toEqual([0, 1, 0, 0, 0, 0]);
  });

  it("ordinal codes categories for native categorical splits, missing and unseen as NaN", async () => {
    const p = new Pipeline([
      { type: "ordinal", columns: ["plan"] },
      { type: "drop", columns: ["when"] },
    ]);
    const { X } = await p.fitTransform(frame);
    expect(X.featureNames).toEqual(["plan", "x", "b"]);
    expect(X.categoricalFeatures).toEqual([0]);
    expect(col(X, "plan")).toEqual([0, 1, 0, Number.NaN]);
    const sized = new Pipeline([{ type: "ordinal", columns: ["size"], order: { size: ["S", "M", "L"] } }]);
    const { X: S } = await sized.fitTransform(frameFromRecords([{ size: "L" }, { size: "S" }, { size: "M" }]));
    expect(col(S, "size")).toEqual([2, 0, 1]);
    expect(S.categoricalFeatures).toEqual([]);
    await expect(
      new Pipeline([{ type: "ordinal", columns: ["size"], order: { size: ["S"] } }]).fit(
        frameFromRecords([{ size: "M" }]),
      ),
    ).rejects.toThrow(/order for "size" lacks "M"/);
  });

  it("frequency encoding maps categories to their training share", async () => {
    const p = new Pipeline([{ type: "frequencyEncode", columns: ["c"] }]);
    const { X } = await p.fitTransform(frameFromRecords([{ c: "a" }, { c: "a" }, { c: "b" }, { c: null }]));
    expect(col(X, "c:freq")).toEqual([0.5, 0.5, 0.25, 0.25]);
    expect(Array.from((await p.transform([{ c: "a" }])).data)).toEqual([0.5]);
  });

  it("date parts in UTC", async () => {
    const p = new Pipeline([
      {
        type: "dateParts",
        columns: ["when"],
        parts: ["year", "month", "day", "dayOfWeek", "dayOfYear", "isWeekend", "quarter"],
      },
      { type: "drop", columns: ["plan"] },
    ]);
    const { X } = await p.fitTransform(frame);
    expect(X.featureNames.slice(2)).toEqual([
      "when:year",
      "when:month",
      "when:day",
      "when:dayOfWeek",
      "when:dayOfYear",
      "when:isWeekend",
      "when:quarter",
    ]);
    // 2024-03-02 is a Saturday, day 62 of a leap year.
    expect(X.featureNames.slice(2).map((n) => col(X, n)[0])).toEqual([2024, 3, 2, 5, 62, 1, 1]);
    expect(col(X, "when:year")[2]).toBeNaN();
  });

  it("hashes text into fixed buckets", async () => {
    const notes = frameFromRecords(
      Array.from({ length: 150 }, (_, i) => ({
        note: i === 0 ? "Late payment, late again" : `ticket ${i} about outage number ${i * 7}`,
      })),
    );
    const p = new Pipeline([{ type: "textHash", columns: ["note"], buckets: 16 }]);
    const { X } = await p.fitTransform(notes);
    expect(X.cols).toBe(16);
    const row0 = Array.from(X.data.subarray(0, 16));
    expect(row0.reduce((a, b) => a + b)).toBe(4);
    expect(Math.max(...row0)).toBeGreaterThanOrEqual(2); // "late" twice
    const again = await p.transform([{ note: "LATE payment late again!" }]);
    expect(Array.from(again.data)).toEqual(row0);
  });

  it("SQL expressions run through DuckDB on the frame, typed at fit", async () => {
    const p = new Pipeline([
      { type: "sql", name: "x2", expression: "x * 2 + CASE WHEN b THEN 1 ELSE 0 END" },
      { type: "sql", name: "tier", expression: "CASE WHEN x >= 3 THEN 'high' ELSE 'low' END" },
      { type: "sql", name: "days", expression: "date_diff('day', \"when\", TIMESTAMP '2024-03-10')" },
      { type: "ordinal", columns: ["tier", "plan"] },
      { type: "drop", columns: ["when"] },
    ]);
    const { X } = await p.fitTransform(frame);
    expect(col(X, "x2")).toEqual([3, Number.NaN, 6, 11]);
    expect(col(X, "days")).toEqual([8, 6, Number.NaN, 70]);
    expect(X.categoricalFeatures.map((j) => X.featureNames[j])).toEqual(["tier", "plan"]);
    const Y = await p.transform([{ x: 4, b: false, plan: "team", when: "2024-03-09" }]);
    expect(col(Y, "x2")).toEqual([8]);
    expect(col(Y, "days")).toEqual([1]);
  });

  it("SQL steps cannot reach files, and bad SQL names the step", async () => {
    await expect(
      new Pipeline([{ type: "sql", name: "leak", expression: "(SELECT count(*) FROM read_csv('/etc/hostname'))" }]).fit(
        frame,
      ),
    ).rejects.toThrow(/sql step "leak": .*file system operations are disabled/);
    await expect(new Pipeline([{ type: "sql", name: "bad", expression: "nope(" }]).fit(frame)).rejects.toThrow(
      ValidationError,
    );
    await expect(
      new Pipeline([{ type: "sql", name: "two", expression: "1; DROP TABLE x" }]).fit(frame),
    ).rejects.toThrow(/sql step "two"/);
  });

  it("refuses unknown steps, wrong kinds and unencoded columns with the fix", async () => {
    expect(() => new Pipeline([{ type: "scale" } as never])).toThrow(/step 0 \(scale\)/);
    expect(() => new Pipeline([{ type: "oneHot", colums: ["x"] } as never])).toThrow(ValidationError);
    await expect(new Pipeline([{ type: "oneHot", columns: ["x"] }]).fit(frame)).rejects.toThrow(
      /oneHot: column "x" is numeric, this step takes categorical or text/,
    );
    await expect(new Pipeline([]).fit(frame)).rejects.toThrow(/column "plan" \(categorical\) reaches the end/);
    await expect(new Pipeline([{ type: "targetEncode", columns: ["plan"] }]).fit(frame)).rejects.toThrow(
      /needs a target/,
    );
    await expect(new Pipeline([]).transform(frame)).rejects.toThrow(/not fitted/);
  });
});

describe("target encoding", () => {
  const rng = new Rng(21);
  const n = 400;
  const cities = Array.from({ length: 40 }, (_, i) => `city${i}`);
  const rate = cities.map(() => rng.next());
  const records = Array.from({ length: n }, () => {
    const k = rng.int(0, cities.length);
    return { city: cities[k]!, y: rng.bernoulli(rate[k]!) ? "yes" : "no" };
  });
  const train = frameFromRecords(records);

  it("encodes training rows out of fold: a row's encoding never uses its own label", async () => {
    const p = new Pipeline([{ type: "targetEncode", columns: ["city"], smoothing: 2 }], { seed: 5 });
    const { X, y } = await p.fitTransform(train, "y");
    for (const i of [0, 17, 123, 399]) {
      const flipped = records.map((r, k) => (k === i ? { ...r, y: r.y === "yes" ? "no" : "yes" } : r));
      const q = new Pipeline([{ type: "targetEncode", columns: ["city"], smoothing: 2 }], { seed: 5 });
      const { X: Xf, y: yf } = await q.fitTransform(frameFromRecords(flipped), "y");
      expect(yf![i]).not.toBe(y![i]);
      // Row i's own encoding is unchanged; some other row of its city (in another fold) moves.
      expect(Xf.data[i]).toBe(X.data[i]);
      expect(Array.from(Xf.data).some((v, k) => k !== i && v !== X.data[k])).toBe(true);
    }
  });

  it("saves the full-data mapping for serving, shrunk towards the prior", async () => {
    const p = new Pipeline([{ type: "targetEncode", columns: ["city"], smoothing: 10 }]);
    const { X, y } = await p.fitTransform(train, "y");
    const served = await p.transform(train);
    const city0 = records.map((r, i) => (r.city === "city0" ? i : -1)).filter((i) => i >= 0);
    const prior = y!.reduce((a, b) => a + b) / n;
    const sum = city0.reduce((a, i) => a + y![i]!, 0);
    const expected = (sum + 10 * prior) / (city0.length + 10);
    for (const i of city0) expect(served.data[i]).toBeCloseTo(expected, 12);
    // Out of fold the training rows of one city do not all share one value.
    expect(new Set(city0.map((i) => X.data[i])).size).toBeGreaterThan(1);
    await expect(p.transform([{ city: "atlantis" }])).rejects.toThrow(/"atlantis" is not a category/);
    expect(Array.from((await p.transform([{ city: "atlantis" }], { unseenCategories: "missing" })).data)).toEqual([
      prior,
    ]);
  });

  it("gives one column per class for multiclass targets", async () => {
    const m = frameFromRecords(records.map((r, i) => ({ city: r.city, y: ["a", "b", "c"][i % 3] })));
    const p = new Pipeline([{ type: "targetEncode", columns: ["city"] }]);
    const { X } = await p.fitTransform(m, "y");
    expect(X.featureNames).toEqual(["city:te=a", "city:te=b", "city:te=c"]);
    const row = Array.from((await p.transform([{ city: "city3" }])).data);
    expect(row.reduce((a, b) => a + b)).toBeCloseTo(1, 12);
  });
});
