import { ValidationError } from "@quintet/core";
import { z } from "zod";
import type { Rng } from "../datasets/rng.js";

/** A whole number in [low, high]; `log` samples its logarithm uniformly (e.g. leaves 8..256). */
export interface IntParam {
  type: "int";
  low: number;
  high: number;
  log?: boolean;
}

/** A real number in [low, high]; `log` samples its logarithm uniformly (e.g. learning rates). */
export interface FloatParam {
  type: "float";
  low: number;
  high: number;
  log?: boolean;
}

/** One of a fixed list of choices. */
export interface CategoricalParam {
  type: "categorical";
  choices: readonly ParamValue[];
}

export type ParamSpec = IntParam | FloatParam | CategoricalParam;
export type ParamValue = number | string | boolean;
/** Parameter name → how it is searched. */
export type SearchSpace = Record<string, ParamSpec>;
/** One point of a search space. */
export type Params = Record<string, ParamValue>;

/** A whole-number parameter in [low, high]. */
export function intParam(low: number, high: number, options: { log?: boolean } = {}): IntParam {
  return { type: "int", low, high, ...(options.log ? { log: true } : {}) };
}

/** A real parameter in [low, high], log-uniform with `{ log: true }`. */
export function floatParam(low: number, high: number, options: { log?: boolean } = {}): FloatParam {
  return { type: "float", low, high, ...(options.log ? { log: true } : {}) };
}

/** A parameter taking one of `choices`. */
export function categoricalParam(choices: readonly ParamValue[]): CategoricalParam {
  return { type: "categorical", choices: [...choices] };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

const specSchema = z.discriminatedUnion("type", [
  z
    .object({ type: z.literal("int"), low: z.number().int(), high: z.number().int(), log: z.boolean().optional() })
    .strict(),
  z
    .object({
      type: z.literal("float"),
      low: z.number().finite(),
      high: z.number().finite(),
      log: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal("categorical"),
      choices: z.array(z.union([z.number().finite(), z.string(), z.boolean()])).min(1),
    })
    .strict(),
]);

/**
 * Validates a search space: names, bounds (low ≤ high, positive for log scales), at least
 * one choice per categorical with no duplicates. Returns a plain copy with sorted names, so
 * two equal spaces serialise identically.
 */
export function parseSearchSpace(space: unknown): SearchSpace {
  if (typeof space !== "object" || space === null || Array.isArray(space))
    throw new ValidationError("a search space must be an object of parameter name → spec", {
      hint: "Write e.g. { learningRate: floatParam(0.01, 0.3, { log: true }), maxDepth: intParam(2, 10) }.",
    });
  const names = Object.keys(space).sort();
  if (names.length === 0)
    throw new ValidationError("the search space is empty", { hint: "Add at least one parameter to search." });
  const out: SearchSpace = {};
  for (const name of names) {
    if (!NAME.test(name))
      throw new ValidationError(`search space parameter "${name}" is not a valid name`, {
        hint: "Use letters, digits, _ . - (starting with a letter or _), at most 64 characters.",
      });
    const r = specSchema.safeParse((space as Record<string, unknown>)[name]);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new ValidationError(`search space parameter "${name}": ${issue.message}`, {
        hint: "Use intParam(low, high), floatParam(low, high, { log }) or categoricalParam([...]).",
      });
    }
    const spec = r.data;
    if (spec.type === "categorical") {
      const seen = new Set(spec.choices.map((c) => `${typeof c}:${String(c)}`));
      if (seen.size !== spec.choices.length)
        throw new ValidationError(`search space parameter "${name}" lists a choice twice`, {
          hint: "List each choice once.",
        });
      out[name] = { type: "categorical", choices: [...spec.choices] };
      continue;
    }
    if (spec.low > spec.high)
      throw new ValidationError(`search space parameter "${name}": low ${spec.low} is above high ${spec.high}`, {
        hint: "Swap the bounds.",
      });
    if (spec.log && spec.low <= 0)
      throw new ValidationError(`search space parameter "${name}": a log scale needs low > 0, got ${spec.low}`, {
        hint: "Use a positive lower bound or drop log.",
      });
    out[name] = { type: spec.type, low: spec.low, high: spec.high, ...(spec.log ? { log: true } : {}) };
  }
  return out;
}

/** True when two parsed spaces search the same parameters over the same ranges. */
export function sameSpace(a: SearchSpace, b: SearchSpace): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Numeric parameters are searched in an internal coordinate: the value itself, or its
 * logarithm; whole numbers cover [low − 0.5, high + 0.5] so each integer gets an equal
 * share of the interval before rounding.
 */
export interface NumericRange {
  lo: number;
  hi: number;
}

export function internalRange(spec: IntParam | FloatParam): NumericRange {
  const pad = spec.type === "int" ? 0.5 : 0;
  if (spec.log) {
    // A log-int starts at low ≥ 1, so low − 0.5 stays positive.
    return { lo: Math.log(spec.low - pad), hi: Math.log(spec.high + pad) };
  }
  return { lo: spec.low - pad, hi: spec.high + pad };
}

export function toInternal(spec: IntParam | FloatParam, value: number): number {
  return spec.log ? Math.log(value) : value;
}

/** Maps an internal coordinate back to a legal value (rounded and clamped). */
export function fromInternal(spec: IntParam | FloatParam, x: number): number {
  let v = spec.log ? Math.exp(x) : x;
  if (spec.type === "int") v = Math.round(v);
  return Math.min(spec.high, Math.max(spec.low, v));
}

/** Draws one value of a parameter uniformly (log-uniformly for log scales). */
export function sampleUniform(spec: ParamSpec, rng: Rng): ParamValue {
  if (spec.type === "categorical") return spec.choices[Math.floor(rng.next() * spec.choices.length)]!;
  if (spec.low === spec.high) return spec.low;
  const { lo, hi } = internalRange(spec);
  return fromInternal(spec, lo + rng.next() * (hi - lo));
}

/** Checks that stored or enqueued params belong to the space, naming the first that does not. */
export function checkParams(space: SearchSpace, params: Params): void {
  for (const [name, spec] of Object.entries(space)) {
    const v = params[name];
    if (v === undefined)
      throw new ValidationError(`params are missing "${name}"`, {
        hint: `Give a value for every parameter of the space.`,
      });
    if (spec.type === "categorical") {
      if (!spec.choices.some((c) => c === v))
        throw new ValidationError(`params "${name}" = ${JSON.stringify(v)} is not one of the choices`, {
          hint: `Use one of: ${spec.choices.map((c) => JSON.stringify(c)).join(", ")}.`,
        });
    } else if (
      typeof v !== "number" ||
      !(v >= spec.low && v <= spec.high) ||
      (spec.type === "int" && !Number.isInteger(v))
    ) {
      throw new ValidationError(`params "${name}" = ${JSON.stringify(v)} is outside [${spec.low}, ${spec.high}]`, {
        hint: spec.type === "int" ? "Use a whole number within the bounds." : "Use a number within the bounds.",
      });
    }
  }
  for (const name of Object.keys(params))
    if (!(name in space))
      throw new ValidationError(`params name "${name}", which the search space does not have`, {
        hint: `The space has: ${Object.keys(space).join(", ")}.`,
      });
}
