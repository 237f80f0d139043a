/**
 * How Quintet reads the values real exports hold. One set of rules serves loading,
 * cleaning and schema checks at inference, so a value parsed at training is parsed the
 * same way when the model serves.
 */

/** Tokens that mean "no value" in exports (compared trimmed and lower-cased). */
export const MISSING_TOKENS: ReadonlySet<string> = new Set([
  "",
  "na",
  "n/a",
  "nan",
  "null",
  "none",
  "nil",
  "-",
  "--",
  "?",
  "#n/a",
  "missing",
]);

/** Whether a string stands for a missing value. */
export function isMissingToken(s: string): boolean {
  return MISSING_TOKENS.has(s.trim().toLowerCase());
}

const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const GROUPED_NUMBER = /^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$/;
const CURRENCY = /^[$€£¥]|[$€£¥]$/g;

/**
 * Parses a number as exports write it: surrounding spaces, thousands separators
 * (`"1,234.5"`), currency symbols, `"12%"` (read as 12). Returns `NaN` for a missing
 * token and `undefined` when the text is not a number.
 */
export function parseNumberLike(raw: string): number | undefined {
  const s = raw.trim();
  if (isMissingToken(s)) return Number.NaN;
  let t = s.replace(CURRENCY, "").trim();
  if (t.endsWith("%")) t = t.slice(0, -1).trim();
  if (PLAIN_NUMBER.test(t)) return Number(t);
  if (GROUPED_NUMBER.test(t)) return Number(t.replace(/,/g, ""));
  return undefined;
}

const TRUE_WORDS = new Set(["true", "t", "yes", "y", "1"]);
const FALSE_WORDS = new Set(["false", "f", "no", "n", "0"]);

/** Parses `yes/no`, `true/false`, `y/n`, `t/f`, `1/0` (any case). `NaN` for missing, `undefined` otherwise. */
export function parseBooleanLike(raw: string): number | undefined {
  const s = raw.trim().toLowerCase();
  if (MISSING_TOKENS.has(s)) return Number.NaN;
  if (TRUE_WORDS.has(s)) return 1;
  if (FALSE_WORDS.has(s)) return 0;
  return undefined;
}

const ISO_DATE =
  /^(\d{4})[-/](\d{2})[-/](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses ISO-style dates and timestamps (`2024-01-31`, `2024/01/31`,
 * `2024-01-31 12:00:00`, with an optional zone; no zone means UTC) to epoch ms.
 * Day-first or month-first forms are ambiguous and not read. `NaN` for missing,
 * `undefined` otherwise.
 */
export function parseDateLike(raw: string): number | undefined {
  const s = raw.trim();
  if (isMissingToken(s)) return Number.NaN;
  const m = ISO_DATE.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), month - 1, day, Number(h ?? 0), Number(mi ?? 0), Number(sec ?? 0), ms);
  // Date.UTC rolls 2024-02-31 over to March; a real export never means that.
  if (new Date(t).getUTCDate() !== day) return undefined;
  if (zone && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return t;
}

/** Which typed reading most of a string column's values allow. */
export interface StringTypeGuess {
  kind: "numeric" | "boolean" | "date" | "string";
  /** Non-missing values examined. */
  present: number;
  /** Values the chosen reading could not parse (they would become missing). */
  invalid: number;
  /** Non-missing values that read as numbers, whatever the verdict (to spot mixed columns). */
  numbers: number;
}

/**
 * Decides whether a column of strings holds numbers, booleans or dates: a reading
 * wins when at least `threshold` of the non-missing values parse (booleans must parse
 * fully, so a `y/n` column with a stray word stays categorical).
 */
export function guessStringType(values: readonly (string | null)[], threshold = 0.95): StringTypeGuess {
  let present = 0;
  let bool = 0;
  let num = 0;
  let date = 0;
  const seen = new Set<string>();
  for (const v of values) {
    if (v === null || isMissingToken(v)) continue;
    present++;
    const b = parseBooleanLike(v);
    if (b !== undefined) {
      bool++;
      seen.add(v.trim().toLowerCase());
    }
    if (parseNumberLike(v) !== undefined) num++;
    if (parseDateLike(v) !== undefined) date++;
  }
  if (present === 0) return { kind: "string", present, invalid: 0, numbers: 0 };
  // A column of 0/1 is numeric, not boolean; words make it boolean.
  const wordy = [...seen].some((s) => s !== "0" && s !== "1");
  if (bool === present && wordy) return { kind: "boolean", present, invalid: 0, numbers: num };
  if (num >= threshold * present) return { kind: "numeric", present, invalid: present - num, numbers: num };
  if (date >= threshold * present) return { kind: "date", present, invalid: present - date, numbers: num };
  return { kind: "string", present, invalid: 0, numbers: num };
}

/** How a column of strings is stored when it is not numbers, booleans or dates. */
export interface StringKindOptions {
  /** More distinct values than this (and most values distinct) make text, not categories. Default 100. */
  maxCategories?: number;
}

/**
 * Categorical unless the values look like identifiers or free text: many distinct
 * values, most of them unique, or long strings.
 */
export function stringKind(
  values: readonly (string | null)[],
  options: StringKindOptions = {},
): "categorical" | "text" {
  const maxCategories = options.maxCategories ?? 100;
  const distinct = new Set<string>();
  let present = 0;
  let length = 0;
  for (const v of values) {
    if (v === null) continue;
    present++;
    length += v.length;
    distinct.add(v);
  }
  if (present === 0) return "categorical";
  if (length / present > 60) return "text";
  if (distinct.size > maxCategories && distinct.size > 0.2 * present) return "text";
  return "categorical";
}
