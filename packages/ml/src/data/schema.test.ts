import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValidationError } from "@quintet/core";
import { afterAll, describe, expect, it } from "vitest";
import { loadTable } from "./load.js";
import { frameFromRecords } from "./records.js";
import { assertConforms, checkFrame, conformFrame, inferSchema, parseSchema } from "./schema.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-schema-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const train = frameFromRecords([
  { plan: "team", seats: 3, autopay: true, signed: new Date("2024-01-05T00:00:00Z"), churned: "no" },
  { plan: "starter", seats: 1, autopay: false, signed: new Date("2024-03-01T00:00:00Z"), churned: "yes" },
  { plan: "business", seats: 12, autopay: true, signed: new Date("2024-02-10T00:00:00Z"), churned: "no" },
  { plan: "team", seats: null, autopay: true, signed: new Date("2024-02-11T00:00:00Z"), churned: "no" },
]);

describe("schema contracts", () => {
  it("are inferred from training data and survive JSON", () => {
    const schema = inferSchema(train, { exclude: ["churned"] });
    expect(schema.columns).toEqual([
      { name: "plan", kind: "categorical", nullable: false, categories: ["business", "starter", "team"] },
      { name: "seats", kind: "numeric", nullable: true, min: 1, max: 12 },
      { name: "autopay", kind: "boolean", nullable: false },
      { name: "signed", kind: "date", nullable: false, min: Date.UTC(2024, 0, 5), max: Date.UTC(2024, 2, 1) },
    ]);
    expect(parseSchema(JSON.parse(JSON.stringify(schema)))).toEqual(schema);
    expect(() => parseSchema({ version: 1, columns: [{ name: "x", kind: "weird", nullable: true }] })).toThrow(
      /schema columns\.0\.kind/,
    );
    expect(checkFrame(train.drop(["churned"]), schema)).toEqual([]);
  });

  it("read inference data the way training data was read", () => {
    const schema = inferSchema(train, { exclude: ["churned"] });
    const incoming = frameFromRecords([
      { plan: " TEAM ", seats: "1,2", autopay: "yes", signed: "2024-02-01" },
      { plan: "starter", seats: " 4 ", autopay: "no", signed: "2024-02-02", extra: 1 },
    ]);
    const { frame, issues } = conformFrame(incoming, schema);
    expect(frame.names).toEqual(["plan", "seats", "autopay", "signed"]);
    expect(frame.toRecords()[1]).toEqual({
      plan: "starter",
      seats: 4,
      autopay: false,
      signed: "2024-02-02T00:00:00.000Z",
    });
    expect(frame.value(0, "plan")).toBe("team");
    // "1,2" is not a number: an error naming the row and column.
    expect(issues.find((i) => i.problem === "type")).toMatchObject({
      severity: "error",
      column: "seats",
      count: 1,
      rows: ["row 1"],
      message: 'row 1, column "seats": "1,2" is not a number',
    });
    expect(issues.find((i) => i.problem === "extra-column")).toMatchObject({ severity: "warning", column: "extra" });
    // Codes follow the schema's category order, whatever order the data arrived in.
    const plan = frame.column("plan");
    expect(plan.kind === "categorical" && plan.dictionary).toEqual(["business", "starter", "team"]);
  });

  it("stop an unseen category or a missing column with the row, column and fix", async () => {
    const schema = inferSchema(train, { exclude: ["churned"] });
    const p = join(dir, "predict.csv");
    writeFileSync(p, "plan,seats,autopay,signed\nteam,2,true,2024-02-01\nplatinum,5,false,2024-02-03\n");
    const { frame } = await loadTable(p);
    let err: ValidationError | undefined;
    try {
      assertConforms(frame, schema);
    } catch (e) {
      err = e as ValidationError;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect(err!.message).toBe(
      '1 schema violation: row 2 (line 3 of predict.csv), column "plan": "platinum" is not a category the model knows',
    );
    expect(err!.hint).toMatch(/Use one of: business, starter, team/);
    expect(assertConforms(frame, schema, { unseenCategories: "missing" }).frame.value(1, "plan")).toBeNull();

    expect(() => assertConforms(frame.drop(["seats"]), schema)).toThrow(/column "seats" is missing/);
    const wrongType = frameFromRecords([{ plan: "team", seats: 2, autopay: true, signed: 5 }]);
    expect(() => assertConforms(wrongType, schema)).toThrow(
      /column "signed" holds numeric values, the model expects date/,
    );
  });

  it("warn about out-of-range values and unexpected missing ones, or stop on them when asked", () => {
    const schema = inferSchema(train, { exclude: ["churned"] });
    const incoming = frameFromRecords([
      { plan: "team", seats: 400, autopay: true, signed: "2024-02-01" },
      { plan: null, seats: 2, autopay: true, signed: "2024-02-01" },
    ]);
    const issues = checkFrame(incoming, schema);
    expect(issues.map((i) => [i.severity, i.column, i.problem])).toEqual([
      ["warning", "plan", "missing-value"],
      ["warning", "seats", "out-of-range"],
    ]);
    expect(issues[1]!.message).toBe('row 1, column "seats": 400 is outside the training range [1, 12]');
    expect(() => assertConforms(incoming, schema, { ranges: "error" })).toThrow(/outside the training range/);
    expect(() => assertConforms(incoming, schema)).not.toThrow();
  });
});
