import { ValidationError } from "@quintet/core";
import { dropFrameTable, frameToTable, readTableIntoFrame, scratchName, withSandboxDuckDB } from "../data/duckdb.js";
import { type Column, categoricalFromStrings, stringsOf } from "../data/frame.js";
import type { SqlStep, StepState } from "./specs.js";
import type { StepKind, Work } from "./types.js";

type Kind = StepState<"sql">["kind"];

const CAST: Record<Kind, string> = {
  numeric: "DOUBLE",
  boolean: "BOOLEAN",
  categorical: "VARCHAR",
  date: "TIMESTAMP",
};

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
}

/** Evaluates the expression on every row of the frame inside the sandboxed DuckDB. */
async function evaluate(spec: SqlStep, work: Work, kind: Kind | undefined): Promise<{ column: Column; kind: Kind }> {
  return withSandboxDuckDB(async (conn) => {
    const names = await frameToTable(conn, work.frame);
    const result = scratchName("qsql");
    try {
      const expr = kind ? `CAST((${spec.expression}) AS ${CAST[kind]})` : `(${spec.expression})`;
      const select = `SELECT __row, ${expr} AS v FROM ${names.view}`;
      let statements = 0;
      try {
        statements = (await conn.extractStatements(select)).count;
      } catch (e) {
        throw invalid(spec, work, message(e));
      }
      if (statements !== 1) throw invalid(spec, work, "the expression must be a single SQL expression, not statements");
      try {
        await conn.run(`CREATE TEMP TABLE ${result} AS ${select}`);
      } catch (e) {
        throw invalid(spec, work, message(e));
      }
      const out = await readTableIntoFrame(conn, result, { orderBy: "__row", maxCategories: Number.POSITIVE_INFINITY });
      const v = out.column("v");
      const got: Kind = kind ?? (v.kind === "text" || v.kind === "categorical" ? "categorical" : v.kind);
      let column: Column;
      if (got === "categorical") {
        column = categoricalFromStrings(spec.name, v.kind === "text" || v.kind === "categorical" ? stringsOf(v) : []);
      } else if (v.kind === "numeric" || v.kind === "boolean" || v.kind === "date") {
        column = { kind: got, name: spec.name, values: v.values };
      } else {
        throw invalid(spec, work, `the result is ${v.kind}, expected ${got}`);
      }
      return { column, kind: got };
    } finally {
      await conn.run(`DROP TABLE IF EXISTS ${result}`);
      await dropFrameTable(conn, names);
    }
  });
}

function invalid(spec: SqlStep, work: Work, why: string): ValidationError {
  return new ValidationError(`sql step "${spec.name}": ${why}`, {
    hint: `Write a DuckDB expression over the columns ${work.frame.names.map((n) => JSON.stringify(n)).join(", ")}.`,
    details: { step: spec.name, expression: spec.expression },
  });
}

/**
 * Adds a column computed by a DuckDB SQL expression over the frame (ratios, CASE
 * rules, date arithmetic, string functions). It learns nothing; its result type is
 * fixed at fit and cast to at serving. Runs in a DuckDB without file or network
 * access.
 */
export const sqlKind: StepKind<SqlStep, StepState<"sql">> = {
  async fit(spec, work) {
    const { column, kind } = await evaluate(spec, work, spec.kind);
    return { state: { kind }, work: { ...work, frame: work.frame.withColumn(column) } };
  },
  async transform(spec, state, work) {
    const { column } = await evaluate(spec, work, state.kind);
    return { ...work, frame: work.frame.withColumn(column) };
  },
};
