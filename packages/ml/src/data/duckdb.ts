import { randomUUID } from "node:crypto";
import type { DuckDBConnection, DuckDBInstance, DuckDBType } from "@duckdb/node-api";
import { type Column, categoricalFromStrings, Frame, type FrameOptions, stringsOf } from "./frame.js";
import { type StringKindOptions, stringKind } from "./parse.js";

/**
 * DuckDB's bindings, loaded on first use: the native library takes ~100 ms and several
 * MB of heap to load, which a program that only trains models should not pay.
 */
function duckdbApi(): Promise<typeof import("@duckdb/node-api")> {
  return import("@duckdb/node-api");
}

let instance: Promise<DuckDBInstance> | undefined;

/**
 * One in-memory DuckDB per process, created on first use. Loading and SQL features
 * only read files and scratch tables that each call names uniquely, so sharing it is
 * safe and saves the start-up cost per call.
 */
function duckdb(): Promise<DuckDBInstance> {
  instance ??= duckdbApi()
    .then((api) => api.DuckDBInstance.create(":memory:"))
    .catch((e: unknown) => {
      instance = undefined;
      throw e;
    });
  return instance;
}

let sandbox: Promise<DuckDBInstance> | undefined;

/**
 * A second in-memory DuckDB with no access to files or the network and its settings
 * locked: SQL from saved pipelines runs here, so a pipeline file read from anywhere
 * cannot make serving read or write the disk.
 */
function sandboxDuckdb(): Promise<DuckDBInstance> {
  sandbox ??= duckdbApi()
    .then((api) =>
      api.DuckDBInstance.create(":memory:", { enable_external_access: "false", lock_configuration: "true" }),
    )
    .catch((e: unknown) => {
      sandbox = undefined;
      throw e;
    });
  return sandbox;
}

/** Like {@link withDuckDB}, on the sandboxed instance (no file or network access). */
export async function withSandboxDuckDB<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await (await sandboxDuckdb()).connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

/** Runs `fn` on a fresh connection to the shared in-memory DuckDB, closing it afterwards. */
export async function withDuckDB<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const conn = await (await duckdb()).connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

/** A unique scratch table name. */
export function scratchName(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, "")}`;
}

/** `name` as a DuckDB (standard SQL) identifier: in double quotes, inner quotes doubled. */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `text` as a SQL string literal: in single quotes, inner quotes doubled. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

const NUMERIC_TYPE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL(\(.*\))?)$/;
const DATE_TYPE = /^(DATE|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE|TIMESTAMPTZ)$/;

/** How a DuckDB column type is read into a frame. */
export function readKind(duckType: string): "numeric" | "boolean" | "date" | "string" {
  const t = duckType.toUpperCase();
  if (t === "BOOLEAN") return "boolean";
  if (NUMERIC_TYPE.test(t)) return "numeric";
  if (DATE_TYPE.test(t)) return "date";
  return "string";
}

/**
 * Reads a whole table or view into a {@link Frame}: numbers become float64, booleans
 * 1/0, dates and timestamps epoch milliseconds, everything else strings (nested values
 * as their JSON text), categorical or text by {@link stringKind}. The conversions run
 * in SQL so JavaScript only ever sees numbers, strings and nulls.
 */
export async function readTableIntoFrame(
  conn: DuckDBConnection,
  table: string,
  options: FrameOptions & StringKindOptions & { orderBy?: string } = {},
): Promise<Frame> {
  const desc = (await conn.runAndReadAll(`DESCRIBE ${table}`)).getRowObjectsJS() as {
    column_name: string;
    column_type: string;
  }[];
  if (desc.length === 0) return new Frame([], options);
  const kinds = desc.map((d) => readKind(d.column_type));
  const exprs = desc.map((d, j) => {
    const c = sqlIdentifier(d.column_name);
    switch (kinds[j]) {
      case "numeric":
      case "boolean":
        return `CAST(${c} AS DOUBLE)`;
      case "date":
        return `CAST(epoch_ms(CAST(${c} AS TIMESTAMP)) AS DOUBLE)`;
      default: {
        const t = d.column_type.toUpperCase();
        if (t === "VARCHAR") return c;
        // Nested values keep their structure as JSON text.
        if (/^(STRUCT|MAP|UNION)\(|\[\d*\]$/.test(t)) return `CAST(to_json(${c}) AS VARCHAR)`;
        return `CAST(${c} AS VARCHAR)`;
      }
    }
  });
  const order = options.orderBy ? ` ORDER BY ${options.orderBy}` : "";
  const reader = await conn.runAndReadAll(`SELECT ${exprs.join(", ")} FROM ${table}${order}`);
  const raw = reader.getColumnsJS() as (number | string | null)[][];
  const columns = desc.map((d, j): Column => {
    const values = raw[j] ?? [];
    const name = d.column_name;
    const kind = kinds[j]!;
    if (kind === "string") {
      const strings = values.map((v) => (v === null || v === "" ? null : String(v)));
      return stringKind(strings, options) === "text"
        ? { kind: "text", name, values: strings }
        : categoricalFromStrings(name, strings);
    }
    const out = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      out[i] = v === null || v === undefined ? Number.NaN : Number(v);
    }
    return { kind, name, values: out };
  });
  return new Frame(columns, options);
}

const CHUNK = 2048;

/**
 * Copies a frame into a temporary DuckDB table so SQL can run on it, adding `__row`
 * (0-based row index) to keep results in frame order. Dates are stored as epoch ms and
 * exposed as TIMESTAMP through the returned view name; drop both with
 * {@link dropFrameTable}.
 */
export async function frameToTable(conn: DuckDBConnection, frame: Frame): Promise<{ table: string; view: string }> {
  const { BOOLEAN, DOUBLE, DuckDBDataChunk, VARCHAR } = await duckdbApi();
  const table = scratchName("qframe");
  const view = scratchName("qview");
  const types: DuckDBType[] = [DOUBLE];
  const defs = ["__row DOUBLE"];
  const select = ["CAST(__row AS BIGINT) AS __row"];
  frame.columns.forEach((c, j) => {
    const inner = sqlIdentifier(`c${j}`);
    const outer = sqlIdentifier(c.name);
    if (c.kind === "categorical" || c.kind === "text") {
      types.push(VARCHAR);
      defs.push(`${inner} VARCHAR`);
      select.push(`${inner} AS ${outer}`);
    } else if (c.kind === "boolean") {
      types.push(BOOLEAN);
      defs.push(`${inner} BOOLEAN`);
      select.push(`${inner} AS ${outer}`);
    } else if (c.kind === "date") {
      types.push(DOUBLE);
      defs.push(`${inner} DOUBLE`);
      select.push(`make_timestamp(CAST(${inner} * 1000 AS BIGINT)) AS ${outer}`);
    } else {
      types.push(DOUBLE);
      defs.push(`${inner} DOUBLE`);
      select.push(`${inner} AS ${outer}`);
    }
  });
  await conn.run(`CREATE TEMP TABLE ${table} (${defs.join(", ")})`);
  const columnValues = frame.columns.map((c): (number | string | boolean | null)[] => {
    if (c.kind === "categorical" || c.kind === "text") return stringsOf(c);
    const vs = Array.from(c.values, (v) => (Number.isNaN(v) ? null : v));
    return c.kind === "boolean" ? vs.map((v) => (v === null ? null : v === 1)) : vs;
  });
  const appender = await conn.createAppender(table, null, "temp");
  try {
    for (let start = 0; start < frame.rows; start += CHUNK) {
      const end = Math.min(frame.rows, start + CHUNK);
      const chunk = DuckDBDataChunk.create(types, end - start);
      const rowIds: number[] = [];
      for (let i = start; i < end; i++) rowIds.push(i);
      chunk.setColumns([rowIds, ...columnValues.map((vs) => vs.slice(start, end))]);
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  await conn.run(`CREATE TEMP VIEW ${view} AS SELECT ${select.join(", ")} FROM ${table}`);
  return { table, view };
}

/** Drops what {@link frameToTable} created. */
export async function dropFrameTable(conn: DuckDBConnection, names: { table: string; view: string }): Promise<void> {
  await conn.run(`DROP VIEW IF EXISTS ${names.view}`);
  await conn.run(`DROP TABLE IF EXISTS ${names.table}`);
}
