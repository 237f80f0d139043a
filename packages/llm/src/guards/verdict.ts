import { ValidationError } from "@quintet/core";
import { defaultSpanRunner, type SpanHandle, type SpanRunner } from "../providers/traced.js";

/** A guard's decision in the one shape every guard reports: passed or not, a score, and why. */
export interface GuardVerdict {
  /** Which guard decided: `citations`, `self-consistency`, `abstention`, `risk`, `injection`, `pii`, or your own. */
  guard: string;
  /** True when the answer (or input) got through this guard. */
  passed: boolean;
  /** The guard's headline number in 0..1 (citation validity, agreement, risk, injection score). */
  score: number;
  /** One line per problem found, worst or first first; empty when there is nothing to report. */
  reasons: string[];
}

/** Guard-specific numbers recorded next to the verdict, e.g. `{ unsupported: 2, support: 0.71 }`. */
export type GuardMetrics = Record<string, string | number | boolean>;

const NAME = /^[a-z][a-z0-9_.-]{0,63}$/;

/**
 * The verdict as trace span attributes under `guard.*`: `guard.name`, `guard.passed`,
 * `guard.score`, `guard.reasons` (a JSON array of strings) and each metric as `guard.<key>`.
 */
export function guardAttributes(verdict: GuardVerdict, metrics: GuardMetrics = {}): GuardMetrics {
  const attrs: GuardMetrics = {};
  for (const [k, v] of Object.entries(metrics)) attrs[`guard.${k}`] = v;
  attrs["guard.name"] = verdict.guard;
  attrs["guard.passed"] = verdict.passed;
  attrs["guard.score"] = verdict.score;
  attrs["guard.reasons"] = JSON.stringify(verdict.reasons);
  return attrs;
}

/**
 * Runs a guard inside a `guard` span (kind `guard`, name `guard <name>`) and writes its
 * verdict there, so LLM calls the guard makes (a judge, samples) become child spans.
 */
export function runGuard<T>(
  tracer: SpanRunner | undefined,
  name: string,
  fn: (span: SpanHandle) => Promise<T>,
  verdictOf: (result: T) => { verdict: GuardVerdict; metrics?: GuardMetrics },
): Promise<T> {
  return (tracer ?? defaultSpanRunner)("guard", `guard ${name}`, { "guard.name": name }, async (span) => {
    const result = await fn(span);
    const { verdict, metrics } = verdictOf(result);
    span.setAttributes(guardAttributes(verdict, metrics));
    return result;
  });
}

/**
 * Records a verdict you computed yourself (from {@link shouldAbstain}, {@link assessAnswer},
 * {@link detectInjection}, or your own check) as a `guard` span, and returns it.
 *
 * @example
 * const { abstain, reasons } = shouldAbstain(signals);
 * await recordGuardVerdict(tracer, { guard: "abstention", passed: !abstain, score: abstain ? 0 : 1, reasons });
 */
export async function recordGuardVerdict(
  tracer: SpanRunner | undefined,
  verdict: GuardVerdict,
  metrics: GuardMetrics = {},
): Promise<GuardVerdict> {
  if (!NAME.test(verdict.guard)) {
    throw new ValidationError(`invalid guard name "${verdict.guard}"`, {
      hint: "Use a short lower-case name such as citations, risk or my-policy (letters, digits, _ . -).",
    });
  }
  if (!(verdict.score >= 0 && verdict.score <= 1)) {
    throw new ValidationError(`guard ${verdict.guard}: score must be in 0..1, got ${verdict.score}`, {
      hint: "Normalise the guard's score to 0..1.",
    });
  }
  return runGuard(
    tracer,
    verdict.guard,
    async () => verdict,
    (v) => ({ verdict: v, metrics }),
  );
}
