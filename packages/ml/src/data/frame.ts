import { ValidationError } from "@quintet/core";

/** The kinds of column a {@link Frame} holds. */
export type ColumnKind = "numeric" | "boolean" | "categorical" | "text" | "date";

/** Numbers; `NaN` marks a missing value. */
export interface NumericColumn {
  kind: "numeric";
  name: string;
  values: Float64Array;
}

/** 1 (true), 0 (false) or `NaN` (missing), so booleans feed models as numbers directly. */
export interface BooleanColumn {
  kind: "boolean";
  name: string;
  values: Float64Array;
}

/**
 * Low-cardinality strings as codes into `dictionary`; `-1` marks a missing value. Codes
 * are local to one frame: two frames may code the same category differently, so
 * anything fitted stores category strings, never codes.
 */
export interface CategoricalColumn {
  kind: "categorical";
  name: string;
  codes: Int32Array;
  dictionary: string[];
}

/** Free text or identifiers; `null` marks a missing value. */
export interface TextColumn {
  kind: "text";
  name: string;
  values: (string | null)[];
}

/** Instants as milliseconds since the Unix epoch (UTC); `NaN` marks a missing value. */
export interface DateColumn {
  kind: "date";
  name: string;
  values: Float64Array;
}

export type Column = NumericColumn | BooleanColumn | CategoricalColumn | TextColumn | DateColumn;

/** A value of one cell as plain data: what reports and errors show. */
export type CellValue = number | string | boolean | null;

/** Where a frame's rows came from, so errors can name a line of the file. */
export interface FrameSource {
  /** File the rows were read from. */
  path?: string;
  format?: string;
  /**
   * Line of the file that holds data row 1 (2 for a CSV with a header, 1 for JSONL), when
   * every row sits on one line; absent when lines cannot be mapped exactly.
   */
  firstDataLine?: number;
}

export interface FrameOptions {
  /**
   * 1-based row number of each row in its source, kept through `take` so an error after
   * filtering or deduplication still names the original row. Default 1..rows.
   */
  rowNumbers?: Int32Array;
  source?: FrameSource;
}

function columnLength(c: Column): number {
  return c.kind === "categorical" ? c.codes.length : c.values.length;
}

/**
 * A typed, immutable, columnar table: what loading produces and what profiling,
 * cleaning, schema checks, feature pipelines and cross-validation consume. Operations
 * return new frames; column arrays are shared, never written in place.
 */
export class Frame {
  readonly rows: number;
  readonly columns: readonly Column[];
  readonly rowNumbers: Int32Array;
  readonly source: FrameSource | undefined;
  private readonly byName: Map<string, Column>;

  constructor(columns: readonly Column[], options: FrameOptions = {}) {
    const rows = columns.length > 0 ? columnLength(columns[0]!) : (options.rowNumbers?.length ?? 0);
    const byName = new Map<string, Column>();
    for (const c of columns) {
      if (byName.has(c.name)) {
        throw new ValidationError(`column "${c.name}" appears twice`, {
          hint: "Give every column a unique name.",
          details: { column: c.name },
        });
      }
      if (columnLength(c) !== rows) {
        throw new ValidationError(`column "${c.name}" has ${columnLength(c)} values, expected ${rows}`, {
          hint: "Every column of a frame needs the same number of rows.",
          details: { column: c.name },
        });
      }
      byName.set(c.name, c);
    }
    if (options.rowNumbers && options.rowNumbers.length !== rows) {
      throw new ValidationError(`rowNumbers has ${options.rowNumbers.length} entries, expected ${rows}`);
    }
    this.rows = rows;
    this.columns = columns;
    this.byName = byName;
    this.rowNumbers = options.rowNumbers ?? Int32Array.from({ length: rows }, (_, i) => i + 1);
    this.source = options.source;
  }

  /** Column names in order. */
  get names(): string[] {
    return this.columns.map((c) => c.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The named column; a ValidationError lists the columns that exist when it is absent. */
  column(name: string): Column {
    const c = this.byName.get(name);
    if (!c) {
      throw new ValidationError(`no column "${name}" in the table`, {
        hint: `Use one of: ${this.names.slice(0, 30).join(", ")}${this.columns.length > 30 ? ", ..." : ""}.`,
        details: { column: name },
      });
    }
    return c;
  }

  /** A frame with the same rows and these columns. */
  withColumns(columns: readonly Column[]): Frame {
    return new Frame(columns, this.options());
  }

  /** Adds a column, or replaces the one with the same name in place. */
  withColumn(column: Column): Frame {
    const cols = [...this.columns];
    const at = cols.findIndex((c) => c.name === column.name);
    if (at >= 0) cols[at] = column;
    else cols.push(column);
    return this.withColumns(cols);
  }

  select(names: readonly string[]): Frame {
    return this.withColumns(names.map((n) => this.column(n)));
  }

  drop(names: readonly string[]): Frame {
    const gone = new Set(names);
    return this.withColumns(this.columns.filter((c) => !gone.has(c.name)));
  }

  /** Rows at `indices` (0-based, any order, repeats allowed), keeping their source row numbers. */
  take(indices: ArrayLike<number>): Frame {
    const n = indices.length;
    const idx = Int32Array.from(indices as ArrayLike<number>);
    for (let k = 0; k < n; k++) {
      const i = idx[k]!;
      if (i < 0 || i >= this.rows || !Number.isInteger(i)) {
        throw new ValidationError(`row index ${i} is out of range 0..${this.rows - 1}`);
      }
    }
    const cols = this.columns.map((c): Column => {
      switch (c.kind) {
        case "categorical": {
          const codes = new Int32Array(n);
          for (let k = 0; k < n; k++) codes[k] = c.codes[idx[k]!]!;
          return { ...c, codes };
        }
        case "text": {
          const values = new Array<string | null>(n);
          for (let k = 0; k < n; k++) values[k] = c.values[idx[k]!]!;
          return { ...c, values };
        }
        default: {
          const values = new Float64Array(n);
          for (let k = 0; k < n; k++) values[k] = c.values[idx[k]!]!;
          return { ...c, values };
        }
      }
    });
    const rowNumbers = new Int32Array(n);
    for (let k = 0; k < n; k++) rowNumbers[k] = this.rowNumbers[idx[k]!]!;
    return new Frame(cols, { rowNumbers, ...(this.source ? { source: this.source } : {}) });
  }

  /** The value of one cell as plain data (categories decoded, dates as ISO strings). */
  value(row: number, name: string): CellValue {
    return cellValue(this.column(name), row);
  }

  /**
   * How errors name a row: `row 17 (line 18 of customers.csv)` when the line is known,
   * else `row 17`. Row numbers are 1-based data rows of the original source.
   */
  rowLabel(row: number): string {
    const n = this.rowNumbers[row] ?? row + 1;
    const s = this.source;
    if (s?.path !== undefined && s.firstDataLine !== undefined) {
      return `row ${n} (line ${n - 1 + s.firstDataLine} of ${s.path})`;
    }
    return `row ${n}`;
  }

  /** Rows as plain objects, e.g. for printing or writing back out. */
  toRecords(): Record<string, CellValue>[] {
    const out: Record<string, CellValue>[] = [];
    for (let i = 0; i < this.rows; i++) {
      const r: Record<string, CellValue> = {};
      for (const c of this.columns) r[c.name] = cellValue(c, i);
      out.push(r);
    }
    return out;
  }

  private options(): FrameOptions {
    return { rowNumbers: this.rowNumbers, ...(this.source ? { source: this.source } : {}) };
  }
}

/** Decodes one cell of a column to plain data. */
export function cellValue(c: Column, row: number): CellValue {
  switch (c.kind) {
    case "categorical": {
      const code = c.codes[row]!;
      return code < 0 ? null : c.dictionary[code]!;
    }
    case "text":
      return c.values[row] ?? null;
    case "boolean": {
      const v = c.values[row]!;
      return Number.isNaN(v) ? null : v === 1;
    }
    case "date": {
      const v = c.values[row]!;
      return Number.isNaN(v) ? null : new Date(v).toISOString();
    }
    default: {
      const v = c.values[row]!;
      return Number.isNaN(v) ? null : v;
    }
  }
}

/** Whether a cell is missing. */
export function isMissing(c: Column, row: number): boolean {
  switch (c.kind) {
    case "categorical":
      return c.codes[row]! < 0;
    case "text":
      return c.values[row] === null;
    default:
      return Number.isNaN(c.values[row]!);
  }
}

/** Builds a categorical column from strings (`null` is missing), codes in first-seen order. */
export function categoricalFromStrings(name: string, values: readonly (string | null)[]): CategoricalColumn {
  const index = new Map<string, number>();
  const dictionary: string[] = [];
  const codes = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      codes[i] = -1;
      continue;
    }
    let code = index.get(v);
    if (code === undefined) {
      code = dictionary.length;
      index.set(v, code);
      dictionary.push(v);
    }
    codes[i] = code;
  }
  return { kind: "categorical", name, codes, dictionary };
}

/** The strings of a categorical or text column (`null` for missing). */
export function stringsOf(c: CategoricalColumn | TextColumn): (string | null)[] {
  if (c.kind === "text") return c.values;
  const out = new Array<string | null>(c.codes.length);
  for (let i = 0; i < c.codes.length; i++) {
    const code = c.codes[i]!;
    out[i] = code < 0 ? null : c.dictionary[code]!;
  }
  return out;
}
