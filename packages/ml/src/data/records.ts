import { ValidationError } from "@quintet/core";
import { type Column, categoricalFromStrings, Frame, type FrameSource } from "./frame.js";
import { type StringKindOptions, stringKind } from "./parse.js";

export interface FromValuesOptions extends StringKindOptions {
  source?: FrameSource;
  rowNumbers?: Int32Array;
}

/**
 * Builds one column from loosely typed values the way loading does: all numbers make a
 * numeric column, all booleans a boolean one, all `Date`s a date one; anything else is
 * kept as strings (categorical or text), so a mixed column reaches cleaning intact
 * rather than half-converted. Empty strings are missing.
 */
export function columnFromValues(name: string, values: readonly unknown[], options: StringKindOptions = {}): Column {
  let numbers = 0;
  let booleans = 0;
  let dates = 0;
  let present = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || v === "") continue;
    present++;
    if (typeof v === "number" || typeof v === "bigint") {
      if (typeof v === "number" && !Number.isFinite(v) && !Number.isNaN(v)) {
        throw new ValidationError(`row ${i + 1}, column "${name}": value is infinite`, {
          hint: "Replace infinite values with a finite number or leave the cell empty.",
          details: { column: name, row: i + 1 },
        });
      }
      numbers++;
    } else if (typeof v === "boolean") booleans++;
    else if (v instanceof Date) dates++;
  }
  const n = values.length;
  if (present > 0 && numbers === present) {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      out[i] = v === null || v === undefined || v === "" ? Number.NaN : Number(v);
    }
    return { kind: "numeric", name, values: out };
  }
  if (present > 0 && booleans === present) {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      out[i] = typeof v === "boolean" ? (v ? 1 : 0) : Number.NaN;
    }
    return { kind: "boolean", name, values: out };
  }
  if (present > 0 && dates === present) {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      out[i] = v instanceof Date ? v.getTime() : Number.NaN;
    }
    return { kind: "date", name, values: out };
  }
  const strings = values.map((v): string | null => {
    if (v === null || v === undefined || v === "") return null;
    if (typeof v === "string") return v;
    if (v instanceof Date) return v.toISOString();
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  });
  if (stringKind(strings, options) === "text") return { kind: "text", name, values: strings };
  return categoricalFromStrings(name, strings);
}

/**
 * A frame from plain objects (JSON request bodies, test data), column order as first
 * seen. Values are typed per column with {@link columnFromValues}; pass the result
 * through a schema (`conformFrame`) to read it exactly as training data was read.
 *
 * @example
 * const frame = frameFromRecords([{ plan: "team", seats: 3 }, { plan: "starter", seats: 1 }]);
 */
export function frameFromRecords(records: readonly Record<string, unknown>[], options: FromValuesOptions = {}): Frame {
  if (!Array.isArray(records)) {
    throw new ValidationError("records must be an array of objects", { hint: "Pass rows as [{ column: value }]." });
  }
  const names: string[] = [];
  const seen = new Set<string>();
  records.forEach((r, i) => {
    if (r === null || typeof r !== "object" || Array.isArray(r)) {
      throw new ValidationError(`row ${i + 1} is not an object`, {
        hint: "Each row must be an object mapping column names to values.",
        details: { row: i + 1 },
      });
    }
    for (const k of Object.keys(r)) {
      if (!seen.has(k)) {
        seen.add(k);
        names.push(k);
      }
    }
  });
  const columns = names.map((name) =>
    columnFromValues(
      name,
      records.map((r) => r[name]),
      options,
    ),
  );
  return new Frame(columns, {
    ...(options.rowNumbers ? { rowNumbers: options.rowNumbers } : {}),
    ...(options.source ? { source: options.source } : {}),
  });
}

/** A frame from named arrays of loosely typed values (see {@link columnFromValues}). */
export function frameFromArrays(arrays: Record<string, readonly unknown[]>, options: FromValuesOptions = {}): Frame {
  const columns = Object.entries(arrays).map(([name, values]) => columnFromValues(name, values, options));
  return new Frame(columns, {
    ...(options.rowNumbers ? { rowNumbers: options.rowNumbers } : {}),
    ...(options.source ? { source: options.source } : {}),
  });
}
