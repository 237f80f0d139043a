import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NotFoundError, ValidationError } from "@quintet/core";
import { afterAll, describe, expect, it } from "vitest";
import { withDuckDB } from "./duckdb.js";
import { loadQuery, loadTable } from "./load.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-load-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function error(p: Promise<unknown>): Promise<ValidationError> {
  try {
    await p;
  } catch (e) {
    return e as ValidationError;
  }
  throw new Error("expected an error");
}

describe("loadTable", () => {
  it("reads CSV with DuckDB's types into typed columns, leaving yes/no words to cleaning", async () => {
    const p = file(
      "a.csv",
      "id,amount,paid,signed,plan\n1,10.5,true,2024-01-02,team\n2,,false,2024-02-29,starter\n3,7,true,,team\n",
    );
    const { frame, report } = await loadTable(p);
    expect(frame.rows).toBe(3);
    expect(frame.columns.map((c) => [c.name, c.kind])).toEqual([
      ["id", "numeric"],
      ["amount", "numeric"],
      ["paid", "categorical"],
      ["signed", "date"],
      ["plan", "categorical"],
    ]);
    expect(frame.value(1, "amount")).toBeNull();
    expect(frame.value(1, "signed")).toBe("2024-02-29T00:00:00.000Z");
    // DuckDB would read true/false as booleans and yes/no too, losing a target's labels.
    expect(frame.value(0, "paid")).toBe("true");
    expect(frame.value(2, "plan")).toBe("team");
    expect(report.columns[0]).toEqual({ name: "id", sourceType: "BIGINT", kind: "numeric" });
    expect(frame.rowLabel(2)).toBe("row 3 (line 4 of a.csv)");
  });

  it("keeps messy numbers as strings for cleaning rather than guessing", async () => {
    const p = file("m.csv", 'x,y\n"1,234.5",a\n 29.85 ,b\n7,c\n');
    const { frame } = await loadTable(p);
    expect(frame.column("x").kind).toBe("categorical");
    expect(frame.value(0, "x")).toBe("1,234.5");
    expect(frame.value(1, "x")).toBe(" 29.85 ");
  });

  it("names the line of a bad CSV row, or skips it on request and says so", async () => {
    const p = file("bad.csv", "id,amount,plan\n1,3,team\n2,4,team\n3,5,starter,oops\n4,6,team\n");
    const e = await error(loadTable(p));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toContain("bad.csv line 4");
    expect(e.message).toContain("too many fields");
    expect(e.message).toContain("3,5,starter,oops");
    expect(e.hint).toMatch(/onBadRows/);

    const { frame, report } = await loadTable(p, { onBadRows: "skip" });
    expect(frame.rows).toBe(3);
    expect(report.skipped).toHaveLength(1);
    expect(report.skipped[0]!.line).toBe(4);
    // Rows after the skipped line still point at their own lines.
    expect(frame.value(2, "id")).toBe(4);
    expect(frame.rowLabel(2)).toBe("row 4 (line 5 of bad.csv)");
  });

  it("re-reads a column as strings when a late value breaks the sniffed type, losing no row", async () => {
    const lines = ["n,v"];
    for (let i = 0; i < 30_000; i++) lines.push(`${i},${i % 7}`);
    lines.push("30000,unknown");
    const p = file("late.csv", `${lines.join("\n")}\n`);
    const { frame, report } = await loadTable(p);
    expect(frame.rows).toBe(30_001);
    expect(report.readAsText).toEqual(["v"]);
    expect(frame.value(30_000, "v")).toBe("unknown");
  });

  it("reads TSV, JSON arrays, JSON lines and Parquet", async () => {
    const tsv = await loadTable(file("t.tsv", "a\tb\n1\tx\n2\ty\n"));
    expect(tsv.frame.toRecords()).toEqual([
      { a: 1, b: "x" },
      { a: 2, b: "y" },
    ]);
    const json = await loadTable(
      file(
        "j.json",
        JSON.stringify([
          { a: 1.5, b: "x" },
          { a: null, b: "y" },
        ]),
      ),
    );
    expect(json.frame.toRecords()).toEqual([
      { a: 1.5, b: "x" },
      { a: null, b: "y" },
    ]);
    const jsonl = await loadTable(file("j.jsonl", '{"a":1,"tags":{"k":1}}\n\n{"a":2}\n'));
    expect(jsonl.frame.value(0, "tags")).toBe('{"k":1}');
    expect(jsonl.frame.rowLabel(1)).toBe("row 3 (line 3 of j.jsonl)");

    const pq = join(dir, "p.parquet");
    await withDuckDB(async (conn) => {
      await conn.run(
        `COPY (SELECT i AS id, i * 0.5 AS score, CAST(i % 2 AS BOOLEAN) AS flag, DATE '2024-01-01' + CAST(i AS INTEGER) AS day FROM range(4) t(i)) TO '${pq}' (FORMAT parquet)`,
      );
    });
    const parquet = await loadTable(pq);
    expect(parquet.frame.columns.map((c) => c.kind)).toEqual(["numeric", "numeric", "boolean", "date"]);
    expect(parquet.frame.value(3, "day")).toBe("2024-01-04T00:00:00.000Z");
  });

  it("names the bad JSON line", async () => {
    const p = file("bad.jsonl", '{"a":1}\n{"a":2}\n{"a":oops}\n');
    const e = await error(loadTable(p));
    expect(e.message).toMatch(/bad\.jsonl line 3: malformed JSON/);
    const { frame, report } = await loadTable(p, { onBadRows: "skip" });
    expect(frame.rows).toBe(2);
    expect(report.skipped.map((s) => s.line)).toEqual([3]);
  });

  it("refuses what is not a table, with the reason", async () => {
    const bytes = Buffer.alloc(400);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) % 256;
    const e = await error(loadTable(file("noise.csv", bytes)));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toMatch(/noise\.csv is not a/);
    await expect(loadTable(join(dir, "absent.csv"))).rejects.toBeInstanceOf(NotFoundError);
    await expect(loadTable(file("x.xlsx", "nope"))).rejects.toThrow(/cannot tell the format/);
    await expect(loadTable(file("broken.parquet", "not parquet"))).rejects.toThrow(/could not be read as parquet/);
  });

  it("loads a query across files", async () => {
    const a = file("qa.csv", "id,x\n1,10\n2,20\n");
    const b = file("qb.csv", "id,y\n1,a\n2,b\n");
    const frame = await loadQuery(`SELECT id, x, y FROM '${a}' JOIN '${b}' USING (id) ORDER BY id`);
    expect(frame.toRecords()).toEqual([
      { id: 1, x: 10, y: "a" },
      { id: 2, x: 20, y: "b" },
    ]);
    await expect(loadQuery("SELECT * FROM nowhere")).rejects.toThrow(/query failed/);
  });
});
