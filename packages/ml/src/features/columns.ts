import { ValidationError } from "@quintet/core";
import type { Column, ColumnKind } from "../data/frame.js";
import type { Work } from "./types.js";

/**
 * The columns a step works on: the ones it names (each must exist with a kind the step
 * handles), or every column of those kinds not yet used by an encoder.
 */
export function resolveColumns(
  step: string,
  requested: readonly string[] | undefined,
  work: Work,
  kinds: readonly ColumnKind[],
): string[] {
  if (requested) {
    for (const name of requested) {
      if (!work.frame.has(name)) {
        throw new ValidationError(`${step}: no column "${name}" at this point of the pipeline`, {
          hint: `Columns available here: ${work.frame.names.join(", ") || "(none)"}.`,
          details: { step, column: name },
        });
      }
      const kind = work.frame.column(name).kind;
      if (!kinds.includes(kind)) {
        throw new ValidationError(`${step}: column "${name}" is ${kind}, this step takes ${kinds.join(" or ")}`, {
          hint: "Pick a step for this kind of column, or clean the column to the right type first.",
          details: { step, column: name, kind },
        });
      }
    }
    return [...requested];
  }
  return work.frame.columns.filter((c) => kinds.includes(c.kind) && !work.consumed.has(c.name)).map((c) => c.name);
}

/** The column a fitted step expects, with a clear error when an earlier step no longer provides it. */
export function requireColumn(step: string, work: Work, name: string, kinds: readonly ColumnKind[]): Column {
  if (!work.frame.has(name)) {
    throw new ValidationError(`${step}: column "${name}" is missing`, {
      hint: "The input must have the columns the pipeline was fitted on.",
      details: { step, column: name },
    });
  }
  const c = work.frame.column(name);
  if (!kinds.includes(c.kind)) {
    throw new ValidationError(`${step}: column "${name}" is ${c.kind}, expected ${kinds.join(" or ")}`, {
      details: { step, column: name },
    });
  }
  return c;
}

/** Category strings of a categorical or text column (`null` missing). */
export function categoryStrings(c: Column): (string | null)[] {
  if (c.kind === "categorical") return Array.from(c.codes, (k) => (k < 0 ? null : c.dictionary[k]!));
  if (c.kind === "text") return c.values;
  throw new ValidationError(`column "${c.name}" is ${c.kind}, not categorical`);
}

/** Replaces NaN/±Infinity by a fallback, so fitted states always serialise to JSON numbers. */
export function finite(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}
