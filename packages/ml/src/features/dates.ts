import { requireColumn, resolveColumns } from "./columns.js";
import type { DatePart, DatePartsStep, StepState } from "./specs.js";
import type { StepKind, Work } from "./types.js";

const DAY = 86_400_000;

function part(ms: number, p: DatePart): number {
  if (Number.isNaN(ms)) return Number.NaN;
  const d = new Date(ms);
  switch (p) {
    case "year":
      return d.getUTCFullYear();
    case "quarter":
      return Math.floor(d.getUTCMonth() / 3) + 1;
    case "month":
      return d.getUTCMonth() + 1;
    case "day":
      return d.getUTCDate();
    case "dayOfWeek":
      // Monday 0 ... Sunday 6 (ISO order).
      return (d.getUTCDay() + 6) % 7;
    case "dayOfYear":
      return Math.floor((ms - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY) + 1;
    case "hour":
      return d.getUTCHours();
    case "minute":
      return d.getUTCMinutes();
    case "isWeekend":
      return d.getUTCDay() === 0 || d.getUTCDay() === 6 ? 1 : 0;
    case "epochDays":
      return Math.floor(ms / DAY);
  }
}

function apply(work: Work, state: StepState<"dateParts">): Work {
  let frame = work.frame;
  for (const name of state.columns) {
    const c = requireColumn("dateParts", work, name, ["date"]);
    if (c.kind !== "date") continue;
    for (const p of state.parts) {
      frame = frame.withColumn({ kind: "numeric", name: `${name}:${p}`, values: c.values.map((v) => part(v, p)) });
    }
  }
  const consumed = new Set(work.consumed);
  for (const n of state.columns) consumed.add(n);
  return { ...work, frame, consumed };
}

/**
 * Splits dates into numeric parts (`signup_date:year`, `:month`, `:dayOfWeek`, ... in
 * UTC) added to the frame, so later steps can impute or scale them; the date column
 * itself is not passed to the model.
 */
export const datePartsKind: StepKind<DatePartsStep, StepState<"dateParts">> = {
  fit(spec, work) {
    const cols = resolveColumns("dateParts", spec.columns, work, ["date"]);
    let parts = spec.parts;
    if (!parts) {
      let timeOfDay = false;
      for (const name of cols) {
        const c = work.frame.column(name);
        if (c.kind === "date") for (const v of c.values) if (!Number.isNaN(v) && v % DAY !== 0) timeOfDay = true;
      }
      parts = ["year", "month", "day", "dayOfWeek", ...(timeOfDay ? (["hour"] as const) : [])];
    }
    const state = { columns: cols, parts: [...parts] };
    return { state, work: apply(work, state) };
  },
  transform: (_spec, state, work) => apply(work, state),
};
