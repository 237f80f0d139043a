import { ValidationError } from "@quintet/core";
import { z } from "zod";
import {
  type CategoricalColumn,
  type CellValue,
  type Column,
  type ColumnKind,
  Frame,
  isMissing,
  stringsOf,
} from "./frame.js";
import { isMissingToken, parseBooleanLike, parseDateLike, parseNumberLike } from "./parse.js";
import { sortedPresent } from "./stats.js";

/** What one input column must look like. */
export interface ColumnContract {
  name: string;
  kind: ColumnKind;
  /** Whether missing values are expected (seen in the training data). */
  nullable: boolean;
  /** Numeric and date columns (dates in epoch ms): the range seen in training. */
  min?: number;
  max?: number;
  /** Categorical columns: the allowed categories, in the order codes use. */
  categories?: string[];
}

/**
 * A data contract: the columns a model takes, their types, ranges and allowed
 * categories. Inferred from training data, stored with the model, checked before
 * training on new data and before every prediction. Plain JSON, so it can be
 * reviewed and edited.
 */
export interface Schema {
  version: 1;
  columns: ColumnContract[];
}

const contractSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(["numeric", "boolean", "categorical", "text", "date"]),
  nullable: z.boolean(),
  min: z.number().optional(),
  max: z.number().optional(),
  categories: z.array(z.string()).optional(),
});

const schemaSchema = z.object({ version: z.literal(1), columns: z.array(contractSchema) });

/** Validates a schema read from JSON; errors name the offending path. */
export function parseSchema(json: unknown): Schema {
  const r = schemaSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ValidationError(`schema ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
      hint: "A schema is { version: 1, columns: [{ name, kind, nullable, min?, max?, categories? }] }.",
      details: { path: issue.path },
    });
  }
  const seen = new Set<string>();
  for (const c of r.data.columns) {
    if (seen.has(c.name)) throw new ValidationError(`schema lists column "${c.name}" twice`);
    seen.add(c.name);
  }
  return r.data as Schema;
}

export interface InferSchemaOptions {
  /** Columns to leave out (e.g. the target). */
  exclude?: string[];
}

/** Infers a {@link Schema} from (cleaned) training data. */
export function inferSchema(frame: Frame, options: InferSchemaOptions = {}): Schema {
  const skip = new Set(options.exclude ?? []);
  const columns: ColumnContract[] = [];
  for (const c of frame.columns) {
    if (skip.has(c.name)) continue;
    let nullable = false;
    for (let i = 0; i < frame.rows && !nullable; i++) if (isMissing(c, i)) nullable = true;
    const contract: ColumnContract = { name: c.name, kind: c.kind, nullable };
    if (c.kind === "numeric" || c.kind === "date") {
      const s = sortedPresent(c.values);
      if (s.length > 0) {
        contract.min = s[0]!;
        contract.max = s[s.length - 1]!;
      }
    }
    if (c.kind === "categorical") {
      const used = new Set<number>();
      for (const code of c.codes) if (code >= 0) used.add(code);
      contract.categories = [...used].map((k) => c.dictionary[k]!).sort();
    }
    columns.push(contract);
  }
  return { version: 1, columns };
}

/** A problem found checking data against a schema, aggregated per column. */
export interface SchemaIssue {
  severity: "error" | "warning";
  column: string;
  problem: "missing-column" | "extra-column" | "type" | "unseen-category" | "out-of-range" | "missing-value";
  /** Affected rows in total (0 for column-level problems). */
  count: number;
  /** The first affected rows, named as `row 17 (line 18 of data.csv)`. */
  rows: string[];
  /** Their values. */
  examples: CellValue[];
  message: string;
  /** How to fix it. */
  fix: string;
}

export interface ConformOptions {
  /** Categories not in the schema: `error` (default) or read as missing. */
  unseenCategories?: "error" | "missing";
  /** Numbers or dates outside the training range. Default `warn`. */
  ranges?: "error" | "warn" | "ignore";
  /** Missing values in a column that had none in training. Default `warn` (imputation handles them). */
  missingValues?: "error" | "warn" | "ignore";
  /** Columns the schema does not list: `drop` (default, with a warning) or `error`. */
  extraColumns?: "drop" | "error";
}

/** Result of {@link conformFrame}. */
export interface Conformed {
  /** The data with exactly the schema's columns, kinds and category codes. */
  frame: Frame;
  issues: SchemaIssue[];
}

const SHOWN = 5;

class Issues {
  readonly list: SchemaIssue[] = [];
  private open = new Map<string, SchemaIssue>();

  constructor(private readonly frame: Frame) {}

  column(
    severity: SchemaIssue["severity"],
    column: string,
    problem: SchemaIssue["problem"],
    message: string,
    fix: string,
  ) {
    this.list.push({ severity, column, problem, count: 0, rows: [], examples: [], message, fix });
  }

  row(
    severity: SchemaIssue["severity"],
    column: string,
    problem: SchemaIssue["problem"],
    row: number,
    value: CellValue,
    describe: (label: string, value: CellValue) => string,
    fix: string,
  ): void {
    const key = `${column}\u0000${problem}`;
    let issue = this.open.get(key);
    if (!issue) {
      const label = this.frame.rowLabel(row);
      issue = { severity, column, problem, count: 0, rows: [], examples: [], message: describe(label, value), fix };
      this.open.set(key, issue);
      this.list.push(issue);
    }
    issue.count++;
    if (issue.rows.length < SHOWN) {
      issue.rows.push(this.frame.rowLabel(row));
      issue.examples.push(value);
    }
  }

  finish(): SchemaIssue[] {
    for (const i of this.list) {
      if (i.count > 1) i.message += ` (${i.count} rows in all)`;
    }
    return this.list;
  }
}

function severityOf(mode: "error" | "warn" | "ignore"): SchemaIssue["severity"] | undefined {
  return mode === "ignore" ? undefined : mode === "error" ? "error" : "warning";
}

function rawStrings(c: Column): (string | null)[] {
  if (c.kind === "categorical" || c.kind === "text") return stringsOf(c);
  if (c.kind === "boolean") return Array.from(c.values, (v) => (Number.isNaN(v) ? null : v === 1 ? "true" : "false"));
  if (c.kind === "date") return Array.from(c.values, (v) => (Number.isNaN(v) ? null : new Date(v).toISOString()));
  return Array.from(c.values, (v) => (Number.isNaN(v) ? null : String(v)));
}

function conformColumn(
  frame: Frame,
  c: Column,
  contract: ColumnContract,
  options: ConformOptions,
  issues: Issues,
): Column {
  const name = contract.name;
  const want = contract.kind;
  if (want === "numeric" || want === "boolean" || want === "date") {
    let values: Float64Array;
    if (c.kind === want || (want === "numeric" && c.kind === "boolean")) {
      values = (c as { values: Float64Array }).values;
    } else if (c.kind === "categorical" || c.kind === "text" || (want === "boolean" && c.kind === "numeric")) {
      const parse = want === "numeric" ? parseNumberLike : want === "boolean" ? parseBooleanLike : parseDateLike;
      const strings = rawStrings(c);
      values = new Float64Array(strings.length);
      for (let i = 0; i < strings.length; i++) {
        const s = strings[i];
        const v = s === null || s === undefined ? Number.NaN : parse(s);
        if (v === undefined) {
          issues.row(
            "error",
            name,
            "type",
            i,
            s ?? null,
            (label, value) =>
              `${label}, column "${name}": ${JSON.stringify(value)} is not ${want === "numeric" ? "a number" : want === "boolean" ? "a yes/no value" : "an ISO date"}`,
            `Send ${want === "numeric" ? "numbers" : want === "boolean" ? "true/false or yes/no" : "dates as YYYY-MM-DD"} in "${name}", or leave the cell empty if unknown.`,
          );
          values[i] = Number.NaN;
        } else values[i] = v;
      }
    } else {
      issues.column(
        "error",
        name,
        "type",
        `column "${name}" holds ${c.kind} values, the model expects ${want}`,
        `Send "${name}" as ${want} values, as in the training data.`,
      );
      return { kind: want, name, values: new Float64Array(frame.rows).fill(Number.NaN) };
    }
    const rangeSeverity = severityOf(options.ranges ?? "warn");
    const missingSeverity = contract.nullable ? undefined : severityOf(options.missingValues ?? "warn");
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Number.isNaN(v)) {
        if (missingSeverity && !(c.kind !== want && !isMissing(c, i))) {
          issues.row(
            missingSeverity,
            name,
            "missing-value",
            i,
            null,
            (label) => `${label}, column "${name}" is missing; training data always had it`,
            `Provide "${name}" for every row (the model imputes it, but predictions may be less reliable).`,
          );
        }
        continue;
      }
      if (rangeSeverity && want !== "boolean" && contract.min !== undefined && contract.max !== undefined) {
        if (v < contract.min || v > contract.max) {
          const show = (x: number) => (want === "date" ? new Date(x).toISOString().slice(0, 10) : String(x));
          issues.row(
            rangeSeverity,
            name,
            "out-of-range",
            i,
            want === "date" ? new Date(v).toISOString() : v,
            (label, value) =>
              `${label}, column "${name}": ${value} is outside the training range [${show(contract.min!)}, ${show(contract.max!)}]`,
            `Check the value; if such values are valid now, retrain on data that includes them.`,
          );
        }
      }
    }
    return { kind: want, name, values };
  }
  const strings = rawStrings(c).map((s) => (s === null ? null : isMissingToken(s) ? null : s.trim()));
  if (want === "text") return { kind: "text", name, values: strings };
  const allowed = contract.categories ?? [];
  const exact = new Map(allowed.map((a, i) => [a, i]));
  const folded = new Map<string, number>();
  allowed.forEach((a, i) => {
    const key = a.toLowerCase().replace(/\s+/g, " ");
    if (!folded.has(key)) folded.set(key, i);
  });
  const codes = new Int32Array(strings.length);
  const missingSeverity = contract.nullable ? undefined : severityOf(options.missingValues ?? "warn");
  const unseen = options.unseenCategories ?? "error";
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i];
    if (s === null || s === undefined) {
      codes[i] = -1;
      if (missingSeverity) {
        issues.row(
          missingSeverity,
          name,
          "missing-value",
          i,
          null,
          (label) => `${label}, column "${name}" is missing; training data always had it`,
          `Provide "${name}" for every row.`,
        );
      }
      continue;
    }
    const code = exact.get(s) ?? folded.get(s.toLowerCase().replace(/\s+/g, " "));
    if (code !== undefined) {
      codes[i] = code;
      continue;
    }
    codes[i] = -1;
    const list = allowed.length > 12 ? `${allowed.slice(0, 12).join(", ")}, ...` : allowed.join(", ");
    issues.row(
      unseen === "error" ? "error" : "warning",
      name,
      "unseen-category",
      i,
      s,
      (label, value) => `${label}, column "${name}": ${JSON.stringify(value)} is not a category the model knows`,
      `Use one of: ${list}; or retrain with data that has it (or set unseenCategories: "missing" to score it as unknown).`,
    );
  }
  return { kind: "categorical", name, codes, dictionary: [...allowed] } satisfies CategoricalColumn;
}

/**
 * Checks data against a schema and converts it to exactly the schema's columns, kinds
 * and category codes (strings are read with the same rules as cleaning: trimmed,
 * number-like, case-insensitive categories). Returns every issue, aggregated per
 * column, without throwing; see {@link assertConforms} for the throwing form.
 */
export function conformFrame(frame: Frame, schema: Schema, options: ConformOptions = {}): Conformed {
  const issues = new Issues(frame);
  const columns: Column[] = [];
  const known = new Set(schema.columns.map((c) => c.name));
  for (const contract of schema.columns) {
    if (!frame.has(contract.name)) {
      issues.column(
        "error",
        contract.name,
        "missing-column",
        `column "${contract.name}" is missing`,
        `Add a "${contract.name}" column (${contract.kind}); the model was trained with it.`,
      );
      const n = frame.rows;
      columns.push(
        contract.kind === "categorical"
          ? {
              kind: "categorical",
              name: contract.name,
              codes: new Int32Array(n).fill(-1),
              dictionary: [...(contract.categories ?? [])],
            }
          : contract.kind === "text"
            ? { kind: "text", name: contract.name, values: new Array(n).fill(null) }
            : { kind: contract.kind, name: contract.name, values: new Float64Array(n).fill(Number.NaN) },
      );
      continue;
    }
    columns.push(conformColumn(frame, frame.column(contract.name), contract, options, issues));
  }
  for (const name of frame.names) {
    if (known.has(name)) continue;
    const mode = options.extraColumns ?? "drop";
    issues.column(
      mode === "error" ? "error" : "warning",
      name,
      "extra-column",
      `column "${name}" is not in the schema${mode === "drop" ? " and is ignored" : ""}`,
      `Remove "${name}", or retrain with it if the model should use it.`,
    );
  }
  const out = new Frame(columns, { rowNumbers: frame.rowNumbers, ...(frame.source ? { source: frame.source } : {}) });
  return { frame: out, issues: issues.finish() };
}

/** The issues of {@link conformFrame}, without the converted frame. */
export function checkFrame(frame: Frame, schema: Schema, options: ConformOptions = {}): SchemaIssue[] {
  return conformFrame(frame, schema, options).issues;
}

/**
 * {@link conformFrame} that throws a ValidationError when any issue is an error; the
 * message lists the first problems (each naming its row and column), the hint says how
 * to fix the first, and `details.issues` holds them all.
 */
export function assertConforms(frame: Frame, schema: Schema, options: ConformOptions = {}): Conformed {
  const r = conformFrame(frame, schema, options);
  const errors = r.issues.filter((i) => i.severity === "error");
  if (errors.length > 0) {
    const shown = errors.slice(0, 3).map((e) => e.message);
    throw new ValidationError(
      `${errors.length} schema violation${errors.length > 1 ? "s" : ""}: ${shown.join("; ")}${errors.length > 3 ? "; ..." : ""}`,
      { hint: errors[0]!.fix, details: { issues: errors } },
    );
  }
  return r;
}
