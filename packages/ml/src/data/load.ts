import { readFile, stat } from "node:fs/promises";
import { basename, extname } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { NotFoundError, ValidationError } from "@quintet/core";
import { z } from "zod";
import { readTableIntoFrame, scratchName, sqlIdentifier, sqlString, withDuckDB } from "./duckdb.js";
import { Frame, type FrameSource } from "./frame.js";

/** File formats {@link loadTable} reads. */
export type TableFormat = "csv" | "tsv" | "parquet" | "json" | "jsonl";

const loadOptionsSchema = z.object({
  format: z.enum(["csv", "tsv", "parquet", "json", "jsonl"]).optional(),
  delimiter: z.string().min(1).max(4).optional(),
  header: z.boolean().optional(),
  onBadRows: z.enum(["error", "skip"]).optional(),
  maxCategories: z.number().int().positive().optional(),
  limit: z.number().int().positive().optional(),
});

export interface LoadOptions {
  /** Default: from the file extension (`.csv`, `.tsv`/`.tab`, `.parquet`/`.pq`, `.json`, `.jsonl`/`.ndjson`). */
  format?: TableFormat;
  /** CSV field separator. Default `,` for CSV, tab for TSV. */
  delimiter?: string;
  /** Whether the first CSV line names the columns. Default true. */
  header?: boolean;
  /**
   * What to do with lines that do not parse (wrong number of fields, broken quoting,
   * malformed JSON): `error` (default) stops with an error naming the line; `skip`
   * drops them and lists them in the report.
   */
  onBadRows?: "error" | "skip";
  /** String columns with more distinct values than this (most unique) are text. Default 100. */
  maxCategories?: number;
  /** Read at most this many rows. */
  limit?: number;
}

/** A line that could not be read. */
export interface BadLine {
  line: number;
  problem: string;
  text: string;
}

/** What loading did. */
export interface LoadReport {
  path: string;
  format: TableFormat;
  rows: number;
  columns: { name: string; sourceType: string; kind: string }[];
  /** Lines dropped with `onBadRows: "skip"`. */
  skipped: BadLine[];
  /**
   * Columns DuckDB first typed from a sample (e.g. as integers) that later held values
   * of another type; they are read as strings so cleaning can coerce them.
   */
  readAsText: string[];
}

/** Result of {@link loadTable}. */
export interface Loaded {
  frame: Frame;
  report: LoadReport;
}

function formatOf(path: string): TableFormat | undefined {
  const ext = extname(path.replace(/\.(gz|zst)$/i, "")).toLowerCase();
  switch (ext) {
    case ".csv":
    case ".txt":
      return "csv";
    case ".tsv":
    case ".tab":
      return "tsv";
    case ".parquet":
    case ".pq":
      return "parquet";
    case ".json":
      return "json";
    case ".jsonl":
    case ".ndjson":
      return "jsonl";
    default:
      return undefined;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** DuckDB's first message line, without the SQL echo that follows it. */
function firstLine(message: string): string {
  return message.split("\n")[0]!.trim();
}

/**
 * Loads a CSV, TSV, Parquet, JSON (array of objects) or JSON-lines file through DuckDB
 * into a typed {@link Frame}. DuckDB infers the column types; columns whose values do
 * not all fit the sniffed type are read as strings for cleaning to coerce, never
 * dropped. Lines that do not parse stop loading with an error naming the line (or are
 * skipped and reported with `onBadRows: "skip"`).
 *
 * @example
 * const { frame, report } = await loadTable("customers.csv");
 * console.log(frame.rows, report.readAsText);
 */
export async function loadTable(path: string, options: LoadOptions = {}): Promise<Loaded> {
  const parsed = loadOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`load option ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
      hint: "See LoadOptions for the accepted values.",
    });
  }
  const format = options.format ?? formatOf(path);
  if (!format) {
    throw new ValidationError(`cannot tell the format of ${basename(path)} from its extension`, {
      hint: "Name the file .csv, .tsv, .parquet, .json or .jsonl, or pass format.",
      details: { path },
    });
  }
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new ValidationError(`${path} is not a file`, { hint: "Pass the path of a data file." });
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new NotFoundError(`no file at ${path}`, {
      hint: "Check the path (relative paths start at the current directory).",
    });
  }
  return withDuckDB(async (conn) => {
    const loaded =
      format === "csv" || format === "tsv"
        ? await loadCsv(conn, path, format, options)
        : format === "parquet"
          ? await loadSimple(conn, path, format, `read_parquet(${sqlString(path)})`, options)
          : await loadJson(conn, path, format, options);
    if (loaded.frame.columns.length === 0) {
      throw new ValidationError(`${basename(path)} holds no columns`, {
        hint: "Check the file is a table with a header row (CSV) or objects (JSON).",
        details: { path },
      });
    }
    return loaded;
  });
}

async function materialise(conn: DuckDBConnection, table: string, source: string, limit?: number): Promise<void> {
  await conn.run(`CREATE TEMP TABLE ${table} AS SELECT * FROM ${source}${limit ? ` LIMIT ${limit}` : ""}`);
}

async function describe(conn: DuckDBConnection, table: string): Promise<{ name: string; type: string }[]> {
  const rows = (await conn.runAndReadAll(`DESCRIBE ${table}`)).getRowObjectsJS() as {
    column_name: string;
    column_type: string;
  }[];
  return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
}

function report(path: string, format: TableFormat, frame: Frame, types: { name: string; type: string }[]) {
  return {
    path,
    format,
    rows: frame.rows,
    columns: types.map((t) => ({ name: t.name, sourceType: t.type, kind: frame.column(t.name).kind })),
    skipped: [] as BadLine[],
    readAsText: [] as string[],
  };
}

async function loadSimple(
  conn: DuckDBConnection,
  path: string,
  format: TableFormat,
  source: string,
  options: LoadOptions,
  frameSource: FrameSource = { path: basename(path), format },
): Promise<Loaded> {
  const table = scratchName("qload");
  try {
    await materialise(conn, table, source, options.limit);
  } catch (e) {
    throw new ValidationError(`${basename(path)} could not be read as ${format}: ${firstLine(errorText(e))}`, {
      hint: `Check the file is ${format === "parquet" ? "a Parquet file" : "valid JSON"}, or pass the right format.`,
      details: { path },
      cause: e,
    });
  }
  try {
    const types = await describe(conn, table);
    const frame = await readTableIntoFrame(conn, table, { source: frameSource, ...kindOptions(options) });
    return { frame, report: report(path, format, frame, types) };
  } finally {
    await conn.run(`DROP TABLE IF EXISTS ${table}`);
  }
}

function kindOptions(options: LoadOptions) {
  return options.maxCategories ? { maxCategories: options.maxCategories } : {};
}

const STRUCTURAL: Record<string, string> = {
  "MISSING COLUMNS": "too few fields",
  "TOO MANY COLUMNS": "too many fields",
  "UNQUOTED VALUE": "a quote inside an unquoted field",
  "LINE SIZE OVER MAXIMUM": "the line is too long",
  "INVALID ENCODING": "the bytes are not valid UTF-8 text",
  "INVALID STATE": "broken quoting",
};

async function loadCsv(
  conn: DuckDBConnection,
  path: string,
  format: TableFormat,
  options: LoadOptions,
): Promise<Loaded> {
  const delim = options.delimiter ?? (format === "tsv" ? "\t" : ",");
  const header = options.header ?? true;
  const asText = new Set<string>();
  // DuckDB would read yes/no columns as booleans, losing the labels a target needs;
  // they stay strings here and cleaning coerces them (with a report) where wanted.
  // DuckDB types columns from a sample; a later value of another type is a CAST reject.
  // Those columns are re-read as strings (cleaning coerces them), so a bad value never
  // silently drops its row. Each round fixes at least one column, so this terminates.
  for (let round = 0; ; round++) {
    const table = scratchName("qload");
    const rejects = scratchName("qrej");
    const scan = scratchName("qscan");
    const types =
      asText.size > 0 ? `, types = {${[...asText].map((c) => `${sqlString(c)}: 'VARCHAR'`).join(", ")}}` : "";
    const source =
      `read_csv(${sqlString(path)}, delim = ${sqlString(delim)}, header = ${header}, quote = '"', escape = '"', ` +
      `auto_type_candidates = ['BIGINT', 'DOUBLE', 'DATE', 'TIMESTAMP', 'VARCHAR'], ` +
      `store_rejects = true, rejects_table = ${sqlString(rejects)}, rejects_scan = ${sqlString(scan)}${types})`;
    try {
      try {
        await materialise(conn, table, source, options.limit);
      } catch (e) {
        throw new ValidationError(
          `${basename(path)} is not a readable ${format.toUpperCase()} table: ${firstLine(errorText(e))}`,
          {
            hint: `Check the file is delimited text with a header row${format === "csv" ? " (pass delimiter if it is not ',')" : ""}.`,
            details: { path },
            cause: e,
          },
        );
      }
      const bad = (
        await conn.runAndReadAll(
          `SELECT CAST(line AS DOUBLE) AS line, column_name, CAST(error_type AS VARCHAR) AS error_type, csv_line, error_message FROM ${sqlIdentifier(rejects)} ORDER BY line`,
        )
      ).getRowObjectsJS() as {
        line: number;
        column_name: string | null;
        error_type: string;
        csv_line: string;
        error_message: string;
      }[];
      const casts = bad.filter((b) => b.error_type === "CAST" && b.column_name !== null && !asText.has(b.column_name));
      if (casts.length > 0 && round < 50) {
        for (const b of casts) asText.add(b.column_name!);
        continue;
      }
      const lines: BadLine[] = bad.map((b) => ({
        line: b.line,
        problem: STRUCTURAL[b.error_type] ? `${STRUCTURAL[b.error_type]} (${b.error_message})` : b.error_message,
        text: b.csv_line.length > 200 ? `${b.csv_line.slice(0, 200)}...` : b.csv_line,
      }));
      if (lines.some((l) => l.problem.startsWith(STRUCTURAL["INVALID ENCODING"]!))) {
        throw new ValidationError(`${basename(path)} is not a text table: line ${lines[0]!.line} is not valid UTF-8`, {
          hint: "Pass a CSV/TSV text file (UTF-8), or a Parquet/JSON file with the matching extension.",
          details: { path, line: lines[0]!.line },
        });
      }
      if (lines.length > 0 && (options.onBadRows ?? "error") === "error") {
        const first = lines[0]!;
        const more = lines.length > 1 ? ` (and ${lines.length - 1} more bad line${lines.length > 2 ? "s" : ""})` : "";
        throw new ValidationError(`${basename(path)} line ${first.line}: ${first.problem}: ${first.text}${more}`, {
          hint: 'Fix or delete the line, or load with onBadRows: "skip" to drop bad lines (they are listed in the load report).',
          details: { path, lines: lines.slice(0, 20) },
        });
      }
      const types2 = await describe(conn, table);
      const frame = await readTableIntoFrame(conn, table, kindOptions(options));
      // Map each row back to its file line: the header is line 1 and rejected lines
      // leave gaps. Only exact when no field spans lines.
      const badSet = new Set(lines.map((l) => l.line));
      const rowNumbers = new Int32Array(frame.rows);
      let line = header ? 2 : 1;
      for (let i = 0; i < frame.rows; i++) {
        while (badSet.has(line)) line++;
        rowNumbers[i] = line - (header ? 1 : 0);
        line++;
      }
      const multiline = frame.columns.some(
        (c) =>
          (c.kind === "text" && c.values.some((v) => v?.includes("\n"))) ||
          (c.kind === "categorical" && c.dictionary.some((v) => v.includes("\n"))),
      );
      const src: FrameSource = {
        path: basename(path),
        format,
        ...(multiline ? {} : { firstDataLine: header ? 2 : 1 }),
      };
      const out = new Frame(frame.columns, { rowNumbers, source: src });
      const rep = report(path, format, out, types2);
      rep.skipped = lines;
      rep.readAsText = [...asText];
      return { frame: out, report: rep };
    } finally {
      await conn.run(`DROP TABLE IF EXISTS ${table}`);
      await conn.run(`DROP TABLE IF EXISTS ${sqlIdentifier(rejects)}`);
      await conn.run(`DROP TABLE IF EXISTS ${sqlIdentifier(scan)}`);
    }
  }
}

/**
 * Checks each non-blank JSON-lines line is a JSON object. DuckDB yields one row per
 * non-blank line (an all-null row for a line it skips), so positions map back to lines.
 */
async function scanJsonLines(path: string): Promise<{ bad: BadLine[]; lines: number[] }> {
  const text = await readFile(path, "utf8");
  const bad: BadLine[] = [];
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === "") return;
    lines.push(i + 1);
    try {
      const v: unknown = JSON.parse(raw);
      if (v === null || typeof v !== "object" || Array.isArray(v)) {
        bad.push({ line: i + 1, problem: "not a JSON object", text: raw.slice(0, 200) });
      }
    } catch (e) {
      bad.push({ line: i + 1, problem: `malformed JSON (${errorText(e)})`, text: raw.slice(0, 200) });
    }
  });
  return { bad, lines };
}

async function loadJson(
  conn: DuckDBConnection,
  path: string,
  format: TableFormat,
  options: LoadOptions,
): Promise<Loaded> {
  if (format === "json") {
    return loadSimple(conn, path, format, `read_json(${sqlString(path)}, format = 'auto')`, options);
  }
  const { bad, lines } = await scanJsonLines(path);
  if (bad.length > 0 && (options.onBadRows ?? "error") === "error") {
    const first = bad[0]!;
    const more = bad.length > 1 ? ` (and ${bad.length - 1} more bad line${bad.length > 2 ? "s" : ""})` : "";
    throw new ValidationError(`${basename(path)} line ${first.line}: ${first.problem}: ${first.text}${more}`, {
      hint: 'Fix or delete the line, or load with onBadRows: "skip" to drop bad lines (they are listed in the load report).',
      details: { path, lines: bad.slice(0, 20) },
    });
  }
  const source = `read_json(${sqlString(path)}, format = 'newline_delimited'${bad.length > 0 ? ", ignore_errors = true" : ""})`;
  const loaded = await loadSimple(conn, path, format, source, options);
  const rows = loaded.frame.rows;
  const badSet = new Set(bad.map((b) => b.line));
  if (rows !== Math.min(lines.length, options.limit ?? Number.POSITIVE_INFINITY)) {
    // Rows no longer line up with lines; keep the rows but do not claim line numbers.
    return {
      frame: new Frame(loaded.frame.columns, { source: { path: basename(path), format } }),
      report: { ...loaded.report, skipped: bad },
    };
  }
  const keep: number[] = [];
  for (let i = 0; i < rows; i++) if (!badSet.has(lines[i]!)) keep.push(i);
  const kept = new Frame(loaded.frame.columns, {
    rowNumbers: Int32Array.from(lines.slice(0, rows)),
    source: { path: basename(path), format, firstDataLine: 1 },
  }).take(keep);
  return { frame: kept, report: { ...loaded.report, rows: kept.rows, skipped: bad } };
}

/**
 * Runs a DuckDB query (joins across files, filters, SQL transforms) and loads its
 * result as a {@link Frame}.
 *
 * @example
 * const { frame } = await loadQuery("SELECT * FROM 'a.csv' JOIN 'b.parquet' USING (id)");
 */
export async function loadQuery(sql: string, options: Pick<LoadOptions, "maxCategories"> = {}): Promise<Frame> {
  if (typeof sql !== "string" || sql.trim() === "") {
    throw new ValidationError("query must be a non-empty SQL string", { hint: "Pass a SELECT statement." });
  }
  return withDuckDB(async (conn) => {
    const table = scratchName("qquery");
    try {
      await conn.run(`CREATE TEMP TABLE ${table} AS ${sql}`);
    } catch (e) {
      throw new ValidationError(`query failed: ${firstLine(errorText(e))}`, {
        hint: "Check the SQL (DuckDB dialect) and the file paths it reads.",
        cause: e,
      });
    }
    try {
      return await readTableIntoFrame(conn, table, kindOptions(options));
    } finally {
      await conn.run(`DROP TABLE IF EXISTS ${table}`);
    }
  });
}
