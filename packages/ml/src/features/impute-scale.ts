import { ValidationError } from "@quintet/core";
import { fillColumn, fillValue } from "../data/clean.js";
import { type Column, isMissing } from "../data/frame.js";
import { parseDateLike } from "../data/parse.js";
import { meanStd } from "../data/stats.js";
import { finite, requireColumn, resolveColumns } from "./columns.js";
import type { ImputeStep, StandardScaleStep, StepState } from "./specs.js";
import type { StepKind, Work } from "./types.js";

const IMPUTABLE = ["numeric", "boolean", "date", "categorical"] as const;
const MISSING_CATEGORY = "(missing)";

function applyImpute(work: Work, state: StepState<"impute">): Work {
  let frame = work.frame;
  const indicators = new Set(state.indicators);
  state.columns.forEach((name, j) => {
    const c = requireColumn("impute", work, name, IMPUTABLE);
    if (indicators.has(name)) {
      const flag = new Float64Array(frame.rows);
      for (let i = 0; i < frame.rows; i++) flag[i] = isMissing(c, i) ? 1 : 0;
      frame = frame.withColumn({ kind: "numeric", name: `${name}:missing`, values: flag });
    }
    frame = frame.withColumn(fillColumn(c, state.fills[j]!));
  });
  return { ...work, frame };
}

/** Fills missing values with values learned on the training rows (median, mean, mode or a constant). */
export const imputeKind: StepKind<ImputeStep, StepState<"impute">> = {
  fit(spec, work) {
    const cols = resolveColumns("impute", spec.columns, work, IMPUTABLE);
    const fills: (number | string)[] = [];
    const indicators: string[] = [];
    for (const name of cols) {
      const c: Column = work.frame.column(name);
      fills.push(learnFill(c, spec));
      if (spec.indicator) {
        let any = false;
        for (let i = 0; i < work.frame.rows && !any; i++) any = isMissing(c, i);
        if (any) indicators.push(name);
      }
    }
    const state = { columns: cols, fills, indicators };
    return { state, work: applyImpute(work, state) };
  },
  transform(_spec, state, work) {
    return applyImpute(work, state);
  },
};

/** The fill for one column; always a finite number or a string, so the state serialises. */
function learnFill(c: Column, spec: ImputeStep): number | string {
  const strategy = spec.strategy ?? "median";
  if (c.kind === "categorical") {
    const v = fillValue(c, strategy === "constant" ? "constant" : "mode", spec.value);
    return v === undefined || v === null ? MISSING_CATEGORY : String(v);
  }
  if (strategy === "constant") {
    const v = spec.value;
    const n =
      typeof v === "number"
        ? v
        : c.kind === "date" && typeof v === "string"
          ? (parseDateLike(v) ?? Number.NaN)
          : Number.NaN;
    if (!Number.isFinite(n)) {
      throw new ValidationError(`impute: cannot fill ${c.kind} column "${c.name}" with ${JSON.stringify(v)}`, {
        hint:
          c.kind === "date" ? "Give an ISO date such as 2024-01-01." : "Give a number for numeric and boolean columns.",
        details: { column: c.name },
      });
    }
    return n;
  }
  const v = fillValue(c, strategy);
  return typeof v === "number" ? finite(v, 0) : 0;
}

function applyScale(work: Work, state: StepState<"standardScale">): Work {
  let frame = work.frame;
  state.columns.forEach((name, j) => {
    const c = requireColumn("standardScale", work, name, ["numeric"]);
    if (c.kind !== "numeric") return;
    const m = state.means[j]!;
    const s = state.stds[j]!;
    frame = frame.withColumn({ ...c, values: c.values.map((v) => (v - m) / s) });
  });
  return { ...work, frame };
}

/** Centres numeric columns on the training mean and divides by the training standard deviation (missing stays missing). */
export const standardScaleKind: StepKind<StandardScaleStep, StepState<"standardScale">> = {
  fit(spec, work) {
    const cols = resolveColumns("standardScale", spec.columns, work, ["numeric"]);
    const means: number[] = [];
    const stds: number[] = [];
    for (const name of cols) {
      const c = work.frame.column(name);
      const { mean, std } = meanStd(c.kind === "numeric" ? c.values : new Float64Array(0));
      means.push(finite(mean, 0));
      // A constant column scales to 0 rather than dividing by zero.
      stds.push(std > 0 && Number.isFinite(std) ? std : 1);
    }
    const state = { columns: cols, means, stds };
    return { state, work: applyScale(work, state) };
  },
  transform(_spec, state, work) {
    return applyScale(work, state);
  },
};
