import type { PipelineJSON } from "../features/pipeline.js";
import type { StepState } from "../features/specs.js";

/** Where one model feature comes from in the raw input. */
export interface FeatureOrigin {
  feature: string;
  /** The raw input columns the feature is computed from (itself when the pipeline does not say). */
  inputs: string[];
  /** How: `as is`, `one-hot`, `codes`, `date part`, `target encoding`, `frequency`, `missing flag`, `text hash`, `sql`. */
  how: string;
}

/** Model features grouped by the input they explain, for reason codes and grouped importance. */
export interface InputGroup {
  /** The input column, or the derived feature's name when it mixes several inputs. */
  name: string;
  inputs: string[];
  /** Model feature indices in the group. */
  features: number[];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Whether a SQL expression names a column, bare (`tenure`) or quoted (`"signup date"`). */
function mentions(expression: string, column: string): boolean {
  if (expression.includes(`"${column.replace(/"/g, '""')}"`)) return true;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(column)) return false;
  return new RegExp(`(?<![A-Za-z0-9_."])${escapeRegExp(column)}(?![A-Za-z0-9_"])`, "i").test(expression);
}

/**
 * Traces every feature a fitted pipeline produces back to the raw input columns, by
 * replaying its steps' saved state: `plan=team` and `plan=other` come from `plan`,
 * `signup_date:month` from `signup_date`, `city:te` and `city:freq` from `city`,
 * `notes#7` from `notes`, a sql column from the columns its expression names.
 *
 * @example
 * const origins = featureOrigins(bundle.pipeline.toJSON());
 * // [{ feature: "signup_date:month", inputs: ["signup_date"], how: "date part" }, …]
 */
export function featureOrigins(pipeline: PipelineJSON): FeatureOrigin[] {
  // Frame columns as they are at the current step → the raw inputs they derive from.
  const origin = new Map<string, string[]>(pipeline.schema.columns.map((c) => [c.name, [c.name]]));
  const produced = new Map<string, FeatureOrigin>();
  const from = (column: string) => origin.get(column) ?? [column];
  const emit = (feature: string, column: string, how: string) =>
    produced.set(feature, { feature, inputs: from(column), how });

  for (const { spec, state } of pipeline.steps) {
    switch (spec.type) {
      case "impute": {
        const s = state as StepState<"impute">;
        for (const c of s.indicators) {
          origin.set(`${c}:missing`, from(c));
          emit(`${c}:missing`, c, "missing flag");
        }
        break;
      }
      case "oneHot": {
        const s = state as StepState<"oneHot">;
        s.columns.forEach((c, j) => {
          for (const cat of s.categories[j] ?? []) emit(`${c}=${cat}`, c, "one-hot");
          if (s.other[j]) emit(`${c}=other`, c, "one-hot");
        });
        break;
      }
      case "ordinal": {
        const s = state as StepState<"ordinal">;
        for (const c of s.columns) emit(c, c, "codes");
        break;
      }
      case "targetEncode": {
        const s = state as StepState<"targetEncode">;
        for (const c of s.columns) for (const suffix of s.outputs) emit(`${c}:${suffix}`, c, "target encoding");
        break;
      }
      case "frequencyEncode": {
        const s = state as StepState<"frequencyEncode">;
        for (const c of s.columns) emit(`${c}:freq`, c, "frequency");
        break;
      }
      case "dateParts": {
        const s = state as StepState<"dateParts">;
        for (const c of s.columns) {
          for (const p of s.parts) {
            origin.set(`${c}:${p}`, from(c));
            emit(`${c}:${p}`, c, "date part");
          }
        }
        break;
      }
      case "textHash": {
        const s = state as StepState<"textHash">;
        const buckets = spec.buckets ?? 32;
        for (const c of s.columns) for (let b = 0; b < buckets; b++) emit(`${c}#${b}`, c, "text hash");
        break;
      }
      case "sql": {
        const named = [...origin.keys()].filter((c) => c !== spec.name && mentions(spec.expression, c));
        const inputs = [...new Set(named.flatMap((c) => from(c)))];
        // Replacing a column keeps its lineage; a new column without known inputs is its own.
        if (mentions(spec.expression, spec.name) && origin.has(spec.name)) inputs.push(...from(spec.name));
        const resolved = inputs.length > 0 ? [...new Set(inputs)] : [spec.name];
        origin.set(spec.name, resolved);
        produced.set(spec.name, { feature: spec.name, inputs: resolved, how: "sql" });
        break;
      }
      case "standardScale":
      case "drop":
        break;
    }
  }
  return pipeline.output.featureNames.map(
    (feature) => produced.get(feature) ?? { feature, inputs: from(feature), how: "as is" },
  );
}

/**
 * Groups model features by the input they come from (one-hot columns of `plan` together,
 * `signup_date`'s parts together), keeping first-appearance order.
 */
export function inputGroups(origins: readonly FeatureOrigin[]): InputGroup[] {
  const groups = new Map<string, InputGroup>();
  origins.forEach((o, j) => {
    const name = o.inputs.length === 1 ? o.inputs[0]! : o.feature;
    const g = groups.get(name);
    if (g) g.features.push(j);
    else groups.set(name, { name, inputs: [...o.inputs], features: [j] });
  });
  return [...groups.values()];
}
