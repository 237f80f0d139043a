import { ValidationError } from "@quintet/core";
import type { InputGroup } from "./lineage.js";

/** One reason a prediction is what it is: an input and how far it moved the score. */
export interface ReasonCode {
  /** The input column (or derived feature) the reason is about. */
  name: string;
  /** Its raw value in the row: one value, or one per input for a feature mixing several. */
  value: unknown;
  /** Model features summed into this reason (e.g. every one-hot column of the input). */
  features: string[];
  /** Signed contribution in margin space (log-odds for classifiers). */
  contribution: number;
  /** In words, e.g. `contract is "month-to-month": raises the log-odds of churned = yes by 0.82`. */
  text: string;
}

/** The top reasons pushing the score up and pulling it down, strongest first. */
export interface Reasons {
  up: ReasonCode[];
  down: ReasonCode[];
}

export interface ReasonCodeOptions {
  /** Feature names, one per contribution. */
  featureNames: string[];
  /** How features map to inputs; default each feature alone. */
  groups?: InputGroup[];
  /** The row's raw input values by column name, to quote in the reasons. */
  raw?: Record<string, unknown>;
  /** Row values of the model features, used when an input has no raw value. */
  featureValues?: ArrayLike<number>;
  /** Reasons each way. Default 3. */
  top?: number;
  /** What the score is, for the words: default "the score". */
  outcome?: string;
}

/** A raw value as a person reads it: strings quoted, numbers trimmed, missing said so. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) return "missing";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === "string") return v.trim() === "" ? "missing" : JSON.stringify(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "missing" : v.toISOString();
  return JSON.stringify(v);
}

const amount = (x: number) => (Math.abs(x) >= 0.01 ? Math.abs(x).toFixed(2) : Math.abs(x).toPrecision(2));

/**
 * Reason codes for one prediction from its contributions (SHAP values, bias excluded):
 * contributions of features that come from the same input are summed (all of `plan`'s
 * one-hot columns are one reason, so are `signup_date`'s parts), then the `top` inputs
 * pushing the score up and the `top` pulling it down are put in words with the row's
 * raw input values.
 *
 * @example
 * const r = reasonCodes(shapRow(shap, 0).subarray(0, F), {
 *   featureNames, groups: inputGroups(featureOrigins(pipeline.toJSON())), raw: rows[0], outcome: "the log-odds of churn",
 * });
 * r.up[0].text; // 'contract is "month-to-month": raises the log-odds of churn by 0.82'
 */
export function reasonCodes(contributions: ArrayLike<number>, options: ReasonCodeOptions): Reasons {
  const F = options.featureNames.length;
  if (contributions.length !== F && contributions.length !== F + 1) {
    throw new ValidationError(`${contributions.length} contributions for ${F} features`, {
      hint: "Pass one contribution per feature (the bias may follow as the last value).",
    });
  }
  const top = options.top ?? 3;
  if (!(Number.isInteger(top) && top >= 0)) throw new ValidationError(`top must be a whole number, got ${top}`);
  const groups = options.groups ?? options.featureNames.map((name, j) => ({ name, inputs: [name], features: [j] }));
  const outcome = options.outcome ?? "the score";
  const raw = options.raw;
  const reasons: ReasonCode[] = groups.map((g) => {
    let contribution = 0;
    for (const j of g.features) {
      if (!(j >= 0 && j < F)) throw new ValidationError(`input group "${g.name}" lists feature ${j} of ${F}`);
      contribution += contributions[j]!;
    }
    const features = g.features.map((j) => options.featureNames[j]!);
    let value: unknown;
    let subject: string;
    if (g.inputs.length === 1 && raw && g.inputs[0]! in raw) {
      value = raw[g.inputs[0]!];
      subject = `${g.name} is ${describeValue(value)}`;
    } else if (g.inputs.length > 1 && raw) {
      const values = Object.fromEntries(g.inputs.map((c) => [c, raw[c] ?? null]));
      value = values;
      subject = `${g.name} (from ${g.inputs.map((c) => `${c} ${describeValue(values[c])}`).join(", ")})`;
    } else {
      // No raw input to quote: say the model feature's value.
      const v = g.features.length === 1 && options.featureValues ? options.featureValues[g.features[0]!] : undefined;
      value = v === undefined || Number.isNaN(v) ? null : v;
      subject = v === undefined ? g.name : `${g.name} is ${describeValue(value)}`;
    }
    const verb = contribution >= 0 ? "raises" : "lowers";
    return {
      name: g.name,
      value,
      features,
      contribution,
      text: `${subject}: ${verb} ${outcome} by ${amount(contribution)}`,
    };
  });
  const up = reasons
    .filter((r) => r.contribution > 0)
    .sort((a, b) => b.contribution - a.contribution)
    .slice(0, top);
  const down = reasons
    .filter((r) => r.contribution < 0)
    .sort((a, b) => a.contribution - b.contribution)
    .slice(0, top);
  return { up, down };
}
