import { ValidationError } from "@quintet/core";
import type { ModelBundle } from "../bundle/bundle.js";
import { Frame } from "../data/frame.js";
import { frameFromRecords } from "../data/records.js";
import { conformFrame, type Schema } from "../data/schema.js";
import type { TransformOptions } from "../features/pipeline.js";
import { applyLink } from "../models/ensemble/reference.js";
import { type FeatureOrigin, featureOrigins, type InputGroup, inputGroups } from "./lineage.js";
import { type Reasons, reasonCodes } from "./reasons.js";
import { type ShapValues, treeShap } from "./tree-shap.js";

/** One input's share of a prediction: its model features' contributions summed. */
export interface InputContribution {
  name: string;
  /** The row's raw value (one per input for a feature mixing several). */
  value: unknown;
  contribution: number;
}

/** Why one row got its prediction. */
export interface RowExplanation {
  /** 0-based index of the row in the input. */
  row: number;
  /** The output group explained: 0 for binary and regression, the class index for multiclass. */
  group: number;
  /** Multiclass and binary: the class the score is for (the positive class for binary). */
  class?: string;
  /** The predicted label (classification). */
  label?: string;
  /** The prediction after the link: P(class) for classifiers, the value for regression. */
  prediction: number;
  /** Raw margin of the explained group = base + sum of contributions. */
  margin: number;
  /** The model's expected margin (SHAP bias) for the group. */
  base: number;
  /** Per model feature (in `featureNames` order), margin space. */
  contributions: Float64Array;
  /** Per raw input (one-hot columns, date parts… summed), largest |contribution| first; zeros left out. */
  inputs: InputContribution[];
  /** What the score means in words, e.g. "the log-odds of churned = yes". */
  outcome: string;
  reasons: Reasons;
}

export interface ExplainRowsResult {
  featureNames: string[];
  /** Where each model feature comes from. */
  origins: FeatureOrigin[];
  /** Features grouped by input. */
  groups: InputGroup[];
  /** Every group's SHAP values for every row. */
  shap: ShapValues;
  rows: RowExplanation[];
}

export interface ExplainRowsOptions extends TransformOptions {
  /** Reasons each way. Default 3. */
  top?: number;
  /**
   * Which output to explain for multiclass models: "predicted" (default, each row's
   * predicted class), a class name, or a class index. Binary models explain their
   * positive class, regression models their value.
   */
  class?: "predicted" | string | number;
}

/**
 * The row values reasons quote: numbers as the schema reads them (`" 1,234.5 "` in a
 * numeric column is 1234.5); everything else (yes/no, dates, categories) as written.
 */
function quotedValues(frame: Frame, schema: Schema, options: TransformOptions): Record<string, unknown>[] {
  const { onWarning: _, ...conform } = options;
  const original = frame.toRecords();
  const conformed = conformFrame(frame, schema, { extraColumns: "drop", ...conform }).frame.toRecords();
  const typed = new Set(schema.columns.filter((c) => c.kind === "numeric").map((c) => c.name));
  return original.map((row, i) => {
    const out: Record<string, unknown> = { ...row };
    for (const name of typed) if (name in (conformed[i] ?? {})) out[name] = conformed[i]![name];
    return out;
  });
}

function outcomeOf(bundle: ModelBundle, group: number): { outcome: string; className?: string } {
  const t = bundle.target;
  const link = bundle.model.link;
  if (t.task === "binary") {
    const positive = t.classes?.[1] ?? "1";
    return { outcome: `the log-odds of ${t.name} = ${positive}`, className: positive };
  }
  if (t.task === "multiclass") {
    const c = t.classes?.[group] ?? String(group);
    return { outcome: `the score of ${t.name} = ${c}`, className: c };
  }
  return { outcome: link === "exp" ? `log ${t.name}` : t.name };
}

/**
 * Explains a bundle's predictions for raw rows: the rows go through the bundle's
 * pipeline (schema-checked, as in `predict`), TreeSHAP splits each row's raw margin into
 * per-feature contributions (probability-free: log-odds for classifiers), the
 * contributions are summed per raw input column, and the strongest inputs each way are
 * put in words with the row's own values.
 *
 * @example
 * const { rows } = await explainRows(bundle, [{ tenure_months: 2, contract: "month-to-month", … }]);
 * console.log(rows[0].prediction, rows[0].base, rows[0].reasons.up.map((r) => r.text));
 */
export async function explainRows(
  bundle: ModelBundle,
  input: Frame | readonly Record<string, unknown>[],
  options: ExplainRowsOptions = {},
): Promise<ExplainRowsResult> {
  const { top, class: which, ...transform } = options;
  const frame = input instanceof Frame ? input : frameFromRecords(input);
  const X = await bundle.pipeline.transform(frame, transform);
  const records = quotedValues(frame, bundle.schema, transform);
  const shap = treeShap(bundle.model, X);
  const featureNames = bundle.featureNames;
  const origins = featureOrigins(bundle.pipeline.toJSON());
  const groups = inputGroups(origins);
  const G = shap.groups;
  const F = shap.features;
  const classes = bundle.target.classes;

  let fixedGroup: number | undefined;
  if (G === 1 && which !== undefined && which !== "predicted" && which !== 0 && which !== classes?.[1]) {
    throw new ValidationError(`"${which}" cannot be explained on its own: this model has one output`, {
      hint:
        bundle.target.task === "binary"
          ? `A binary model's contributions are for its positive class "${classes?.[1] ?? "1"}" (negate them for the other).`
          : "Leave the class out for a regression model.",
    });
  }
  if (G > 1 && which !== undefined && which !== "predicted") {
    fixedGroup = typeof which === "number" ? which : (classes?.indexOf(which) ?? -1);
    if (!(Number.isInteger(fixedGroup) && fixedGroup >= 0 && fixedGroup < G)) {
      throw new ValidationError(`"${which}" is not a class of this model`, {
        hint: `Classes: ${(classes ?? []).join(", ")}.`,
      });
    }
  }

  const rows: RowExplanation[] = [];
  for (let r = 0; r < X.rows; r++) {
    const margins = new Float64Array(G);
    for (let g = 0; g < G; g++) {
      const block = shap.values.subarray((r * G + g) * (F + 1), (r * G + g + 1) * (F + 1));
      let m = 0;
      for (const v of block) m += v;
      margins[g] = m;
    }
    const probs = applyLink(bundle.model.link, new Float64Array(margins));
    let predicted = 0;
    for (let g = 1; g < G; g++) if (probs[g]! > probs[predicted]!) predicted = g;
    const group = fixedGroup ?? (G > 1 ? predicted : 0);
    const start = (r * G + group) * (F + 1);
    const contributions = shap.values.slice(start, start + F);
    const raw = records[r] as Record<string, unknown> | undefined;
    const featureValues = X.data.subarray(r * F, (r + 1) * F);
    const { outcome, className } = outcomeOf(bundle, group);
    const reasons = reasonCodes(contributions, {
      featureNames,
      groups,
      featureValues,
      outcome,
      ...(raw ? { raw } : {}),
      ...(top !== undefined ? { top } : {}),
    });
    const all = reasonCodes(contributions, {
      featureNames,
      groups,
      featureValues,
      top: groups.length,
      ...(raw ? { raw } : {}),
    });
    const inputs = [...all.up, ...all.down]
      .map((c) => ({ name: c.name, value: c.value, contribution: c.contribution }))
      .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
    const e: RowExplanation = {
      row: r,
      group,
      prediction: probs[group]!,
      margin: margins[group]!,
      base: shap.expectedValue[group]!,
      contributions,
      inputs,
      outcome,
      reasons,
    };
    if (className !== undefined) e.class = className;
    if (bundle.target.task === "binary" && classes) e.label = classes[probs[0]! >= bundle.threshold ? 1 : 0]!;
    else if (bundle.target.task === "multiclass" && classes) e.label = classes[predicted]!;
    rows.push(e);
  }
  return { featureNames, origins, groups, shap, rows };
}
