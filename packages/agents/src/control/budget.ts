import { ValidationError } from "@quintet/core";
import type { Usage } from "@quintet/llm";
import { z } from "zod";

/** Why a run or an agent stopped. Everything but `done` leaves partial results. */
export type StopReason =
  | "done"
  | "max-steps"
  | "max-tokens"
  | "max-cost"
  | "max-wall-time"
  | "aborted"
  | "loop-detected"
  | "criteria-unmet"
  | "error";

/** A stop with its stated reason, e.g. `{ reason: "max-cost", detail: "spent $0.0123 of $0.0100" }`. */
export interface StopInfo {
  reason: StopReason;
  detail: string;
}

export const BudgetLimitsSchema = z
  .object({
    /** Model calls. */
    maxSteps: z.number().int().min(1).optional(),
    /** Input + output tokens over all model calls. */
    maxTokens: z.number().int().min(1).optional(),
    /** US dollars from the price table (calls to models without a price count as 0). */
    maxCostUsd: z.number().positive().optional(),
    /** Active wall-clock milliseconds (time a killed process was down does not count). */
    maxWallMs: z.number().int().min(1).optional(),
  })
  .strict();

export type BudgetLimits = z.infer<typeof BudgetLimitsSchema>;

/** What a budget has used so far. */
export interface BudgetState {
  steps: number;
  tokens: number;
  costUsd: number;
  elapsedMs: number;
}

/** A stop condition: a small value, composed with {@link anyOf} (AutoGen-style, not flags in a loop). */
export type StopCondition = (state: BudgetState) => StopInfo | undefined;

export const maxSteps =
  (n: number): StopCondition =>
  (s) =>
    s.steps >= n ? { reason: "max-steps", detail: `used ${s.steps} of ${n} model calls` } : undefined;

export const maxTokens =
  (n: number): StopCondition =>
  (s) =>
    s.tokens >= n ? { reason: "max-tokens", detail: `used ${s.tokens} of ${n} tokens` } : undefined;

export const maxCostUsd =
  (usd: number): StopCondition =>
  (s) =>
    s.costUsd >= usd
      ? { reason: "max-cost", detail: `spent $${s.costUsd.toFixed(4)} of $${usd.toFixed(4)}` }
      : undefined;

export const maxWallMs =
  (ms: number): StopCondition =>
  (s) =>
    s.elapsedMs >= ms ? { reason: "max-wall-time", detail: `ran ${Math.round(s.elapsedMs)} of ${ms} ms` } : undefined;

/** The first condition that fires. */
export function anyOf(...conditions: StopCondition[]): StopCondition {
  return (s) => {
    for (const c of conditions) {
      const hit = c(s);
      if (hit) return hit;
    }
    return undefined;
  };
}

/** The stop conditions of a set of limits. */
export function conditionsOf(limits: BudgetLimits): StopCondition {
  const cs: StopCondition[] = [];
  if (limits.maxSteps !== undefined) cs.push(maxSteps(limits.maxSteps));
  if (limits.maxTokens !== undefined) cs.push(maxTokens(limits.maxTokens));
  if (limits.maxCostUsd !== undefined) cs.push(maxCostUsd(limits.maxCostUsd));
  if (limits.maxWallMs !== undefined) cs.push(maxWallMs(limits.maxWallMs));
  return anyOf(...cs);
}

/**
 * Usage of one agent (or one team) against its limits. A child budget (an agent in a
 * team) also charges its parent, and stops when either is exhausted, naming which.
 */
export class Budget {
  steps = 0;
  tokens = 0;
  costUsd = 0;
  /** Calls whose model had no price (their cost is unknown, counted as 0). */
  unpricedCalls = 0;
  private readonly condition: StopCondition;

  constructor(
    readonly limits: BudgetLimits,
    private readonly clock: () => number,
    readonly label = "agent",
    readonly parent?: Budget,
  ) {
    const parsed = BudgetLimitsSchema.safeParse(limits);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid budget for ${label}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
        { hint: "Limits are positive numbers: maxSteps, maxTokens, maxCostUsd, maxWallMs." },
      );
    }
    this.condition = conditionsOf(parsed.data);
  }

  state(): BudgetState {
    return { steps: this.steps, tokens: this.tokens, costUsd: this.costUsd, elapsedMs: this.clock() };
  }

  /** Counts one model call with its usage and cost (here and in the parent). */
  charge(usage: Usage, costUsd: number | undefined): void {
    this.steps++;
    this.tokens += usage.totalTokens;
    if (costUsd === undefined) this.unpricedCalls++;
    else this.costUsd += costUsd;
    this.parent?.charge(usage, costUsd);
  }

  /** The first exhausted limit, this budget's before its parent's. */
  check(): StopInfo | undefined {
    const own = this.condition(this.state());
    if (own) return { reason: own.reason, detail: `${this.label}: ${own.detail}` };
    return this.parent?.check();
  }

  /** Milliseconds left before a wall-time limit (the tighter of this and the parent's). */
  remainingWallMs(): number | undefined {
    const own = this.limits.maxWallMs !== undefined ? this.limits.maxWallMs - this.clock() : undefined;
    const up = this.parent?.remainingWallMs();
    if (own === undefined) return up;
    if (up === undefined) return own;
    return Math.min(own, up);
  }
}
