import { ValidationError } from "@quintet/core";

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are the same call. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  const keys = Object.keys(value as Record<string, unknown>).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
}

export interface LoopPolicy {
  /** Identical calls with identical results before the model is warned (default 2). */
  warnAfter?: number;
  /** Identical calls with identical results before the run stops with `loop-detected` (default 3). */
  stopAfter?: number;
}

export type LoopVerdict =
  | { verdict: "ok" }
  | { verdict: "warn"; repeats: number; note: string }
  | { verdict: "stop"; repeats: number; detail: string };

/**
 * Notices an agent going round in circles: the same tool with the same arguments giving
 * the same result again. A call whose result changed (polling a job that progresses) is
 * progress and resets the count.
 */
export class LoopDetector {
  private readonly seen = new Map<string, { result: string; count: number }>();
  private readonly warnAfter: number;
  private readonly stopAfter: number;

  constructor(policy: LoopPolicy = {}) {
    this.warnAfter = policy.warnAfter ?? 2;
    this.stopAfter = policy.stopAfter ?? 3;
    if (!Number.isInteger(this.warnAfter) || !Number.isInteger(this.stopAfter) || this.warnAfter < 2) {
      throw new ValidationError("loop policy: warnAfter and stopAfter are integers, warnAfter >= 2", {
        hint: "The defaults are warnAfter 2, stopAfter 3.",
      });
    }
    if (this.stopAfter < this.warnAfter) {
      throw new ValidationError("loop policy: stopAfter must be at least warnAfter", {
        hint: "e.g. { warnAfter: 2, stopAfter: 3 }",
      });
    }
  }

  observe(name: string, args: unknown, result: string): LoopVerdict {
    const sig = `${name} ${stableJson(args)}`;
    const prev = this.seen.get(sig);
    const count = prev && prev.result === result ? prev.count + 1 : 1;
    this.seen.set(sig, { result, count });
    if (count >= this.stopAfter) {
      return {
        verdict: "stop",
        repeats: count,
        detail: `${name} was called ${count} times with the same arguments ${truncate(stableJson(args))} and returned the same result each time`,
      };
    }
    if (count >= this.warnAfter) {
      return {
        verdict: "warn",
        repeats: count,
        note: `You called ${name} with the same arguments ${count} times and got the same result. Calling it again will not help: use what you have, change the arguments, use another tool, or give your answer.`,
      };
    }
    return { verdict: "ok" };
  }
}

function truncate(s: string, n = 120): string {
  return s.length <= n ? s : `${s.slice(0, n)}…`;
}
