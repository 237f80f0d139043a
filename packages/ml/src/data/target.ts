import { ValidationError } from "@quintet/core";
import { type CategoricalColumn, type Column, type Frame, isMissing, stringsOf } from "./frame.js";
import { parseBooleanLike } from "./parse.js";

/** What kind of prediction a target asks for. */
export type Task = "binary" | "multiclass" | "regression";

/** How a target column maps to numbers; stored with models so predictions decode back. */
export interface TargetInfo {
  name: string;
  task: Task;
  /**
   * Class labels for classification, indexed by the numeric label; for binary,
   * `classes[1]` is the positive class.
   */
  classes?: string[];
}

export interface TargetOptions {
  /** Force the task; default inferred (2 values: binary; strings with more: multiclass; numbers: regression). */
  task?: Task;
  /**
   * Binary: the positive class. Default: the "true" side of a yes/no, true/false or 1/0
   * pair, else the rarer class.
   */
  positive?: string;
  /** Rows whose target is missing: `error` (default) names them; `drop` removes them. */
  onMissing?: "error" | "drop";
}

/** A frame split into inputs and a numeric label vector. */
export interface SplitTarget {
  /** The input columns (target removed), rows with a missing target dropped if asked. */
  frame: Frame;
  y: Float64Array;
  info: TargetInfo;
  /** Rows dropped for a missing target. */
  dropped: number;
}

function classLabel(c: Column, row: number): string | null {
  if (isMissing(c, row)) return null;
  switch (c.kind) {
    case "categorical":
      return c.dictionary[c.codes[row]!]!;
    case "text":
      return c.values[row]!;
    case "boolean":
      return c.values[row] === 1 ? "true" : "false";
    default:
      return String(c.values[row]);
  }
}

/**
 * Separates the target column from the inputs and encodes it: class indices for
 * classification (see {@link TargetInfo.classes}), values for regression. A missing
 * column, a single class, a constant numeric target or missing labels raise a
 * ValidationError naming the column and rows.
 *
 * @example
 * const { frame: X, y, info } = splitTarget(frame, "churned"); // info.classes = ["no", "yes"]
 */
export function splitTarget(frame: Frame, name: string, options: TargetOptions = {}): SplitTarget {
  if (!frame.has(name)) {
    throw new ValidationError(`target column "${name}" is not in the table`, {
      hint: `Pick the target from: ${frame.names.slice(0, 30).join(", ")}.`,
      details: { column: name },
    });
  }
  let col = frame.column(name);
  let inputs = frame.drop([name]);
  const missingRows: number[] = [];
  for (let i = 0; i < frame.rows; i++) if (isMissing(col, i)) missingRows.push(i);
  let dropped = 0;
  if (missingRows.length > 0) {
    if ((options.onMissing ?? "error") === "error") {
      const shown = missingRows.slice(0, 5).map((i) => frame.rowLabel(i));
      throw new ValidationError(
        `target "${name}" is missing on ${missingRows.length} row${missingRows.length > 1 ? "s" : ""}: ${shown.join(", ")}${missingRows.length > 5 ? ", ..." : ""}`,
        {
          hint: 'Fill in or remove those rows, or pass onMissing: "drop" to train without them.',
          details: { column: name, rows: missingRows.slice(0, 50).map((i) => frame.rowNumbers[i]) },
        },
      );
    }
    const gone = new Set(missingRows);
    const keep: number[] = [];
    for (let i = 0; i < frame.rows; i++) if (!gone.has(i)) keep.push(i);
    const kept = frame.take(keep);
    col = kept.column(name);
    inputs = kept.drop([name]);
    dropped = missingRows.length;
  }
  if (col.kind === "date") {
    throw new ValidationError(`target "${name}" holds dates`, {
      hint: "Predict a number or a class; derive one from the date first (e.g. days until an event).",
      details: { column: name },
    });
  }
  const n = inputs.rows;
  if (n === 0) {
    throw new ValidationError(`target "${name}" has no labelled rows`, { hint: "Load a table with labelled rows." });
  }
  const numericLike = col.kind === "numeric";
  const labels: string[] = new Array(n);
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const l = classLabel(col, i)!;
    labels[i] = l;
    counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  const distinct = [...counts.keys()];
  let task = options.task;
  if (!task) {
    if (distinct.length === 2) task = "binary";
    else if (numericLike) task = "regression";
    else task = "multiclass";
  }
  if (task === "regression") {
    if (col.kind !== "numeric" && col.kind !== "boolean") {
      throw new ValidationError(`target "${name}" holds strings, so it cannot be regressed on`, {
        hint: 'Clean the column to numbers first (cleanFrame coerces number-like strings), or use task: "multiclass".',
        details: { column: name },
      });
    }
    if (distinct.length < 2) {
      throw new ValidationError(`target "${name}" is constant (${distinct[0]})`, {
        hint: "A model needs a target that varies; check the column and the rows loaded.",
        details: { column: name },
      });
    }
    return { frame: inputs, y: Float64Array.from(col.values), info: { name, task }, dropped };
  }
  if (distinct.length < 2) {
    throw new ValidationError(`target "${name}" has a single class ("${distinct[0]}")`, {
      hint: "Classification needs at least two classes in the training data; check the filter or the column.",
      details: { column: name, classes: distinct },
    });
  }
  let classes: string[];
  if (task === "binary") {
    if (distinct.length !== 2) {
      throw new ValidationError(`target "${name}" has ${distinct.length} classes, binary needs exactly 2`, {
        hint: 'Use task: "multiclass", or map the classes to two first.',
        details: { column: name, classes: distinct.slice(0, 20) },
      });
    }
    let positive = options.positive;
    if (positive !== undefined && !counts.has(positive)) {
      throw new ValidationError(`positive class "${positive}" does not occur in target "${name}"`, {
        hint: `Use one of: ${distinct.join(", ")}.`,
        details: { column: name, classes: distinct },
      });
    }
    if (positive === undefined) {
      const truthy = distinct.find((d) => parseBooleanLike(d) === 1);
      const falsy = distinct.find((d) => parseBooleanLike(d) === 0);
      if (truthy !== undefined && falsy !== undefined) positive = truthy;
      else {
        const [a, b] = [...distinct].sort(numericLike ? (x, y) => Number(x) - Number(y) : undefined);
        positive = counts.get(a!)! < counts.get(b!)! ? a! : b!;
      }
    }
    classes = [distinct.find((d) => d !== positive)!, positive];
  } else {
    classes = numericLike ? [...distinct].sort((a, b) => Number(a) - Number(b)) : [...distinct].sort();
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = index.get(labels[i]!)!;
  return { frame: inputs, y, info: { name, task, classes }, dropped };
}

/** Encodes class labels (strings) with a known {@link TargetInfo}; unknown labels raise an error naming the row. */
export function encodeLabels(frame: Frame, info: TargetInfo): Float64Array {
  const col = frame.column(info.name);
  if (info.task === "regression") {
    if (col.kind !== "numeric" && col.kind !== "boolean") {
      throw new ValidationError(`target "${info.name}" must be numeric`, { details: { column: info.name } });
    }
    return Float64Array.from(col.values);
  }
  const index = new Map((info.classes ?? []).map((c, i) => [c, i]));
  const y = new Float64Array(frame.rows);
  const strings =
    col.kind === "categorical" || col.kind === "text"
      ? stringsOf(col as CategoricalColumn)
      : Array.from({ length: frame.rows }, (_, i) => classLabel(col, i));
  for (let i = 0; i < frame.rows; i++) {
    const s = strings[i];
    const k = s === null || s === undefined ? undefined : index.get(s);
    if (k === undefined) {
      throw new ValidationError(
        `${frame.rowLabel(i)}: target "${info.name}" = ${JSON.stringify(s)} is not a known class`,
        {
          hint: `Use one of: ${(info.classes ?? []).join(", ")}.`,
          details: { column: info.name, row: frame.rowNumbers[i] },
        },
      );
    }
    y[i] = k;
  }
  return y;
}
