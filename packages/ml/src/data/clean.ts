import { ValidationError } from "@quintet/core";
import {
  type CategoricalColumn,
  type CellValue,
  type Column,
  categoricalFromStrings,
  cellValue,
  type Frame,
  isMissing,
  type NumericColumn,
  stringsOf,
  type TextColumn,
} from "./frame.js";
import { guessStringType, isMissingToken, parseBooleanLike, parseDateLike, parseNumberLike } from "./parse.js";
import { duplicateRowIndices } from "./profile.js";
import { codeCounts, iqrFences, meanStd, quantileSorted, sortedPresent } from "./stats.js";

/** One changed cell, as shown in a report. */
export interface CleanExample {
  /** The row, named as errors name it (`row 17 (line 18 of data.csv)`). */
  row: string;
  before: CellValue;
  after: CellValue;
}

/** What a step changed in one column. */
export interface ColumnChange {
  column: string;
  /** Cells changed (rows removed, for dedupe). */
  changed: number;
  /** Up to `maxExamples` changed cells. */
  examples: CleanExample[];
  /** E.g. "categorical → numeric", "filled with median 42". */
  note?: string;
}

/** What one cleaning step changed. */
export interface CleanReport {
  step: "trim" | "coerce" | "dedupe" | "impute" | "bucketRare" | "clipOutliers";
  /** One line for a terminal. */
  summary: string;
  /** Total cells changed, or rows removed for dedupe. */
  changed: number;
  columns: ColumnChange[];
}

/** A cleaned frame and what changed. */
export interface Cleaned {
  frame: Frame;
  report: CleanReport;
}

interface StepBase {
  /** Columns to clean; default every column the step applies to. */
  columns?: string[];
  /** Columns to leave as they are (e.g. the target, to keep its labels). */
  exclude?: string[];
  /** Examples kept per column. Default 3. */
  maxExamples?: number;
}

function targets<C extends Column>(frame: Frame, opts: StepBase, applies: (c: Column) => c is C): C[] {
  const skip = new Set(opts.exclude ?? []);
  const cols = opts.columns ? opts.columns.map((n) => frame.column(n)) : frame.columns;
  return cols.filter((c): c is C => applies(c) && !skip.has(c.name));
}

const anyColumn = (c: Column): c is Column => c !== undefined;
const isCategorical = (c: Column): c is CategoricalColumn => c.kind === "categorical";

class ChangeLog {
  readonly columns: ColumnChange[] = [];
  constructor(
    private readonly frame: Frame,
    private readonly maxExamples: number,
  ) {}

  column(name: string): ColumnChange {
    const c: ColumnChange = { column: name, changed: 0, examples: [] };
    this.columns.push(c);
    return c;
  }

  record(change: ColumnChange, row: number, before: CellValue, after: CellValue): void {
    change.changed++;
    if (change.examples.length < this.maxExamples)
      change.examples.push({ row: this.frame.rowLabel(row), before, after });
  }

  report(step: CleanReport["step"], what: string): CleanReport {
    const columns = this.columns.filter((c) => c.changed > 0 || c.note !== undefined);
    const changed = columns.reduce((a, c) => a + c.changed, 0);
    const names = columns.map((c) => c.column);
    const list = names.length > 0 ? ` in ${names.slice(0, 6).join(", ")}${names.length > 6 ? ", ..." : ""}` : "";
    return { step, summary: `${step}: ${changed} ${what}${list}`, changed, columns };
  }
}

const isStringColumn = (c: Column): c is CategoricalColumn | TextColumn =>
  c.kind === "categorical" || c.kind === "text";

function rebuildStrings(c: CategoricalColumn | TextColumn, values: (string | null)[]): Column {
  return c.kind === "text" ? { kind: "text", name: c.name, values } : categoricalFromStrings(c.name, values);
}

export interface TrimOptions extends StepBase {
  /**
   * Merge categories that differ only by case or spaces (`"NORTH"`, `"north "`) into
   * their most frequent spelling. Default true.
   */
  unifyCase?: boolean;
}

/**
 * Trims spaces around strings, turns blanks and missing tokens (`""`, `"NA"`,
 * `"null"`, `"-"`, ...) into missing values and, for categories, merges spellings that
 * differ only by case or spaces.
 */
export function trimStrings(frame: Frame, options: TrimOptions = {}): Cleaned {
  const log = new ChangeLog(frame, options.maxExamples ?? 3);
  let out = frame;
  for (const c of targets(frame, options, isStringColumn)) {
    const change = log.column(c.name);
    const before = stringsOf(c);
    const after = before.map((v) => {
      if (v === null) return null;
      const t = v.trim();
      return isMissingToken(t) ? null : t;
    });
    if (c.kind === "categorical" && (options.unifyCase ?? true)) {
      const spellings = new Map<string, Map<string, number>>();
      for (const v of after) {
        if (v === null) continue;
        const key = v.toLowerCase().replace(/\s+/g, " ");
        const m = spellings.get(key) ?? new Map<string, number>();
        m.set(v, (m.get(v) ?? 0) + 1);
        spellings.set(key, m);
      }
      const canonical = new Map<string, string>();
      for (const [key, m] of spellings) {
        const best = [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
        canonical.set(key, best);
      }
      for (let i = 0; i < after.length; i++) {
        const v = after[i];
        if (v !== null && v !== undefined) after[i] = canonical.get(v.toLowerCase().replace(/\s+/g, " "))!;
      }
    }
    let merged = 0;
    for (let i = 0; i < after.length; i++) {
      if (after[i] !== before[i]) {
        log.record(change, i, before[i] ?? null, after[i] ?? null);
        if (after[i] !== null && before[i]!.trim() !== after[i]) merged++;
      }
    }
    if (change.changed > 0) {
      if (merged > 0) change.note = `${merged} values merged into a common spelling`;
      out = out.withColumn(rebuildStrings(c, after));
    }
  }
  return { frame: out, report: log.report("trim", "values trimmed, blanked or merged") };
}

export interface CoerceOptions extends StepBase {
  /** Share of non-missing values that must parse for a column to change type. Default 0.95. */
  threshold?: number;
  /**
   * Values that do not parse in a column that changes type: `missing` (default) blanks
   * them and lists them in the report; `error` stops with an error naming them.
   */
  onUnreadable?: "missing" | "error";
}

/**
 * Converts string columns whose values read as numbers (`"1,234.5"`, `" 29.85 "`,
 * `"$12"`), booleans (`yes/no`, `true/false`) or ISO dates to those types. Blanks and
 * missing tokens become missing; the few values that do not parse become missing too
 * and are listed as examples so nothing disappears unseen.
 */
export function coerceTypes(frame: Frame, options: CoerceOptions = {}): Cleaned {
  const log = new ChangeLog(frame, options.maxExamples ?? 3);
  let out = frame;
  for (const c of targets(frame, options, isStringColumn)) {
    const strings = stringsOf(c);
    const guess = guessStringType(strings, options.threshold ?? 0.95);
    if (guess.kind === "string") continue;
    const parse =
      guess.kind === "numeric" ? parseNumberLike : guess.kind === "boolean" ? parseBooleanLike : parseDateLike;
    const change = log.column(c.name);
    const values = new Float64Array(strings.length);
    let invalid = 0;
    const unreadable: string[] = [];
    for (let i = 0; i < strings.length; i++) {
      const s = strings[i];
      if (s === null || s === undefined) {
        values[i] = Number.NaN;
        continue;
      }
      const v = parse(s);
      values[i] = v ?? Number.NaN;
      if (v === undefined) {
        invalid++;
        if (unreadable.length < 5) unreadable.push(`${JSON.stringify(s)} at ${frame.rowLabel(i)}`);
      }
      const after = cellValue({ kind: guess.kind, name: c.name, values } as Column, i);
      // A value counts as changed when it is lost (unreadable, a missing token) or, for
      // numbers, reformatted; yes/no words and ISO dates only change type.
      const reformatted = guess.kind === "numeric" && String(after) !== s;
      if (v === undefined || Number.isNaN(v) || reformatted) log.record(change, i, s, after);
    }
    if (invalid > 0 && options.onUnreadable === "error") {
      throw new ValidationError(
        `column "${c.name}" mixes types: ${guess.kind} values except ${invalid}: ${unreadable.join(", ")}${invalid > unreadable.length ? ", ..." : ""}`,
        {
          hint: 'Fix or blank those values, or clean with onUnreadable: "missing" to read them as missing.',
          details: { column: c.name, examples: unreadable },
        },
      );
    }
    change.note = `${c.kind} → ${guess.kind}${invalid > 0 ? `; ${invalid} unreadable value${invalid > 1 ? "s" : ""} set missing` : ""}`;
    out = out.withColumn({ kind: guess.kind, name: c.name, values });
  }
  return { frame: out, report: log.report("coerce", "values converted") };
}

export interface DedupeOptions extends StepBase {}

/** Removes rows that repeat an earlier row exactly (in `columns`, default all), keeping the first. */
export function dedupe(frame: Frame, options: DedupeOptions = {}): Cleaned {
  const dups = duplicateRowIndices(frame, options.columns);
  const log = new ChangeLog(frame, options.maxExamples ?? 3);
  const change = log.column(options.columns ? options.columns.join("+") : "(all columns)");
  for (const d of dups) log.record(change, d.index, `duplicate of ${frame.rowLabel(d.firstSeen)}`, "removed");
  if (dups.length === 0) return { frame, report: log.report("dedupe", "duplicate rows removed") };
  const gone = new Set(dups.map((d) => d.index));
  const keep: number[] = [];
  for (let i = 0; i < frame.rows; i++) if (!gone.has(i)) keep.push(i);
  return { frame: frame.take(keep), report: log.report("dedupe", "duplicate rows removed") };
}

export interface ImputeOptions extends StepBase {
  /**
   * `median` (default) or `mean` for numbers and dates, `mode` for any column,
   * `constant` with `value`. Booleans and categories use the mode unless `constant`.
   */
  strategy?: "median" | "mean" | "mode" | "constant";
  value?: number | string;
}

/** The value {@link imputeMissing} fills a column with; `undefined` when the column has no values to learn from. */
export function fillValue(
  c: Column,
  strategy: ImputeOptions["strategy"],
  value?: number | string,
): CellValue | undefined {
  const s = strategy ?? "median";
  if (s === "constant") {
    if (value === undefined) {
      throw new ValidationError(`impute: strategy "constant" needs a value (column "${c.name}")`, {
        hint: 'Pass value, e.g. 0 or "unknown".',
      });
    }
    return value;
  }
  if (c.kind === "categorical" || c.kind === "text") {
    const counts = new Map<string, number>();
    for (const v of stringsOf(c)) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
    return best?.[0];
  }
  const sorted = sortedPresent(c.values);
  if (sorted.length === 0) return undefined;
  if (c.kind === "boolean" || s === "mode") {
    let best = sorted[0]!;
    let bestCount = 0;
    for (let i = 0; i < sorted.length; ) {
      let j = i;
      while (j < sorted.length && sorted[j] === sorted[i]) j++;
      if (j - i > bestCount) {
        bestCount = j - i;
        best = sorted[i]!;
      }
      i = j;
    }
    return best;
  }
  return s === "mean" ? meanStd(sorted).mean : quantileSorted(sorted, 0.5);
}

/** Writes `fill` into the missing cells of a column, returning the new column. */
export function fillColumn(c: Column, fill: CellValue): Column {
  if (c.kind === "categorical" || c.kind === "text") {
    const s = String(fill);
    return rebuildStrings(
      c,
      stringsOf(c).map((v) => v ?? s),
    );
  }
  const f = typeof fill === "boolean" ? (fill ? 1 : 0) : typeof fill === "string" ? Date.parse(fill) : Number(fill);
  if (Number.isNaN(f)) {
    throw new ValidationError(`cannot fill "${c.name}" (${c.kind}) with ${JSON.stringify(fill)}`, {
      hint: "Use a number for numeric and boolean columns, an ISO date for dates.",
    });
  }
  return { ...c, values: c.values.map((v) => (Number.isNaN(v) ? f : v)) };
}

/**
 * Fills missing values in place of a model-side imputer, for one-off cleaning; use the
 * `impute` feature step when the same fill must apply at prediction time.
 */
export function imputeMissing(frame: Frame, options: ImputeOptions = {}): Cleaned {
  const log = new ChangeLog(frame, options.maxExamples ?? 3);
  let out = frame;
  for (const c of targets(frame, options, anyColumn)) {
    const missingRows: number[] = [];
    for (let i = 0; i < frame.rows; i++) if (isMissing(c, i)) missingRows.push(i);
    if (missingRows.length === 0) continue;
    const fill = fillValue(c, options.strategy, options.value);
    if (fill === undefined || fill === null) continue;
    const filled = fillColumn(c, fill);
    const change = log.column(c.name);
    for (const i of missingRows) log.record(change, i, null, cellValue(filled, i));
    change.note = `filled with ${cellValue(filled, missingRows[0]!)}`;
    out = out.withColumn(filled);
  }
  return { frame: out, report: log.report("impute", "missing values filled") };
}

export interface BucketRareOptions extends StepBase {
  /** Categories in fewer than this share of rows are merged. Default 0.01. */
  minShare?: number;
  /** Or fewer than this many rows (whichever is larger). Default 0. */
  minCount?: number;
  /** Name of the merged category. Default "other". */
  other?: string;
}

/** Merges rare categories into one (`other`), so models do not fit noise on a handful of rows. */
export function bucketRare(frame: Frame, options: BucketRareOptions = {}): Cleaned {
  const log = new ChangeLog(frame, options.maxExamples ?? 3);
  const other = options.other ?? "other";
  const limit = Math.max(options.minCount ?? 0, (options.minShare ?? 0.01) * frame.rows);
  let out = frame;
  for (const c of targets(frame, options, isCategorical)) {
    const { counts } = codeCounts(c.codes, c.dictionary.length);
    const rare = new Set<number>();
    counts.forEach((n, code) => {
      if (n < limit && c.dictionary[code] !== other) rare.add(code);
    });
    if (rare.size === 0) continue;
    const change = log.column(c.name);
    const strings = stringsOf(c);
    for (let i = 0; i < strings.length; i++) {
      if (rare.has(c.codes[i]!)) {
        log.record(change, i, strings[i]!, other);
        strings[i] = other;
      }
    }
    change.note = `${rare.size} rare categor${rare.size > 1 ? "ies" : "y"} merged into "${other}"`;
    out = out.withColumn(categoricalFromStrings(c.name, strings));
  }
  return { frame: out, report: log.report("bucketRare", "values merged into rare buckets") };
}

export interface ClipOptions extends StepBase {
  /** Tukey fence multiplier: clip to `[q1 - k·IQR, q3 + k·IQR]`. Default 1.5. */
  k?: number;
}

/** Clips numeric values beyond the IQR fences to the fence (winsorising). */
export function clipOutliers(frame: Frame, options: ClipOptions = {}): Cleaned {
  const log = new ChangeLog(frame, options.maxExamples ?? 3);
  let out = frame;
  for (const c of targets(frame, options, (c): c is NumericColumn => c.kind === "numeric")) {
    const sorted = sortedPresent(c.values);
    if (sorted.length < 4) continue;
    const f = iqrFences(sorted, options.k ?? 1.5);
    if (!(f.high > f.low)) continue;
    const values = Float64Array.from(c.values);
    const change = log.column(c.name);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Number.isNaN(v)) continue;
      const clipped = Math.min(Math.max(v, f.low), f.high);
      if (clipped !== v) {
        values[i] = clipped;
        log.record(change, i, v, clipped);
      }
    }
    if (change.changed > 0) {
      change.note = `clipped to [${f.low}, ${f.high}]`;
      out = out.withColumn({ ...c, values });
    }
  }
  return { frame: out, report: log.report("clipOutliers", "outliers clipped") };
}

/** Which steps {@link cleanFrame} runs; `false` skips a step, an object configures it. */
export interface CleanOptions {
  /** Columns no step touches (e.g. the target, to keep its labels as written). */
  exclude?: string[];
  /** Default on. */
  trim?: boolean | TrimOptions;
  /** Default on. */
  coerce?: boolean | CoerceOptions;
  /** Default on. */
  dedupe?: boolean | DedupeOptions;
  /** Default off (the feature pipeline imputes with values it saves for serving). */
  impute?: boolean | ImputeOptions;
  /** Default off. */
  bucketRare?: boolean | BucketRareOptions;
  /** Default off. */
  clipOutliers?: boolean | ClipOptions;
}

/**
 * Runs the cleaning steps in order — trim, coerce types, dedupe, then (when asked)
 * impute, bucket rare categories, clip outliers — and returns every step's report.
 *
 * @example
 * const { frame, reports } = cleanFrame(loaded.frame);
 * for (const r of reports) console.log(r.summary);
 */
export function cleanFrame(frame: Frame, options: CleanOptions = {}): { frame: Frame; reports: CleanReport[] } {
  const reports: CleanReport[] = [];
  let f = frame;
  const run = <O>(opt: boolean | O | undefined, dflt: boolean, step: (f: Frame, o: O) => Cleaned) => {
    if (opt === false || (opt === undefined && !dflt)) return;
    const given = (typeof opt === "object" ? opt : {}) as O & StepBase;
    const r = step(f, { ...given, exclude: [...(given.exclude ?? []), ...(options.exclude ?? [])] });
    f = r.frame;
    reports.push(r.report);
  };
  run(options.trim, true, trimStrings);
  run(options.coerce, true, coerceTypes);
  run(options.dedupe, true, dedupe);
  run(options.impute, false, imputeMissing);
  run(options.bucketRare, false, bucketRare);
  run(options.clipOutliers, false, clipOutliers);
  return { frame: f, reports };
}
