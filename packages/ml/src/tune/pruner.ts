import { ValidationError } from "@quintet/core";
import { z } from "zod";
import { better, type Direction } from "./types.js";

/** How a study stops unpromising trials early (stored with the study as plain JSON). */
export type PrunerSpec =
  | { type: "none" }
  | {
      type: "successiveHalving";
      /** Step of the first rung (e.g. boosting rounds). Default 1. */
      minResource?: number;
      /** Rung k sits at minResource × reductionFactor^k; the top 1/reductionFactor of a rung go on. Default 3. */
      reductionFactor?: number;
      /** Trials a rung needs before it prunes anything (the first ones always go on). Default 1. */
      minTrials?: number;
    };

const prunerSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("none") }).strict(),
  z
    .object({
      type: z.literal("successiveHalving"),
      minResource: z.number().gt(0).optional(),
      reductionFactor: z.number().int().min(2).max(100).optional(),
      minTrials: z.number().int().min(1).optional(),
    })
    .strict(),
]);

export function parsePrunerSpec(spec: unknown): PrunerSpec {
  const r = prunerSchema.safeParse(spec);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ValidationError(`pruner option "${issue.path.join(".") || "type"}": ${issue.message}`, {
      hint: 'Use { type: "successiveHalving", minResource, reductionFactor } or { type: "none" }.',
    });
  }
  return r.data as PrunerSpec;
}

/** Intermediate values of one trial, [step, value] in step order. */
export type Curve = readonly (readonly [number, number])[];

/** Decides, after a trial reports, whether it should stop. */
export interface Pruner {
  /**
   * `curve` is the trial's reports so far (the last one just made); `others` the curves of
   * every other trial of the study that reported (running or finished).
   */
  shouldPrune(curve: Curve, others: readonly Curve[], direction: Direction): boolean;
}

export class NoPruner implements Pruner {
  shouldPrune(): boolean {
    return false;
  }
}

/**
 * Asynchronous successive halving. Rungs sit at steps r, rη, rη², …; a trial is judged at
 * the first report that reaches a rung, against the values every trial had there (its first
 * report at or past the rung's step). It goes on only if it ranks within the best
 * ⌊n/η⌋ (at least 1) of the n trials seen at that rung — below the rung's 1/η quantile it is
 * pruned. No waiting for a full bracket, so it works with parallel and resumed trials.
 */
export class SuccessiveHalvingPruner implements Pruner {
  private readonly minResource: number;
  private readonly eta: number;
  private readonly minTrials: number;

  constructor(options: Omit<Extract<PrunerSpec, { type: "successiveHalving" }>, "type"> = {}) {
    this.minResource = options.minResource ?? 1;
    this.eta = options.reductionFactor ?? 3;
    this.minTrials = options.minTrials ?? 1;
  }

  /** Step of rung k. */
  rungStep(k: number): number {
    return this.minResource * this.eta ** k;
  }

  /** The trial's value at a rung: its first report at or past the rung's step. */
  private valueAt(curve: Curve, step: number): number | undefined {
    for (const [s, v] of curve) if (s >= step) return v;
    return undefined;
  }

  shouldPrune(curve: Curve, others: readonly Curve[], direction: Direction): boolean {
    const last = curve[curve.length - 1];
    if (!last) return false;
    const [step, value] = last;
    if (!Number.isFinite(value)) return true;
    const prevStep = curve.length > 1 ? curve[curve.length - 2]![0] : Number.NEGATIVE_INFINITY;
    // Only the rungs this report is the first to reach are judged (each rung once).
    for (let k = 0; this.rungStep(k) <= step; k++) {
      const rung = this.rungStep(k);
      if (prevStep >= rung) continue;
      const competitors: number[] = [];
      for (const o of others) {
        const v = this.valueAt(o, rung);
        if (v !== undefined && Number.isFinite(v)) competitors.push(v);
      }
      const n = competitors.length + 1;
      if (n < this.minTrials) continue;
      const keep = Math.max(1, Math.floor(n / this.eta));
      let ahead = 0;
      for (const v of competitors) if (better(direction, v, value)) ahead++;
      if (ahead >= keep) return true;
    }
    return false;
  }
}

export function createPruner(spec: PrunerSpec): Pruner {
  return spec.type === "none" ? new NoPruner() : new SuccessiveHalvingPruner(spec);
}
