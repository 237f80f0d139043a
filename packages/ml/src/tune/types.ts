import type { Params } from "./space.js";

/** Whether the objective is to be made large (AUC) or small (log loss, RMSE). */
export type Direction = "maximize" | "minimize";

/**
 * A trial's life: `waiting` (enqueued, or taken back from a process that died), `running`,
 * then `complete` (has a value), `pruned` (stopped early for poor intermediate values) or
 * `failed` (the objective threw).
 */
export type TrialState = "waiting" | "running" | "complete" | "pruned" | "failed";

/** A trial as stored. */
export interface TrialRecord {
  /** 0-based, in the order trials were created within the study. */
  number: number;
  state: TrialState;
  params: Params;
  /** The objective's value (complete trials). */
  value: number | null;
  /** Values reported while running, as [step, value] in step order. */
  intermediate: [number, number][];
  /** What the objective attached (e.g. the best boosting round). */
  attrs: Record<string, unknown>;
  /** Times the trial was started: more than 1 when a killed process's trial was run again. */
  attempts: number;
  error: string | null;
  startedAt: number | null;
  endedAt: number | null;
}

/** Is `a` better than `b` in this direction? */
export function better(direction: Direction, a: number, b: number): boolean {
  return direction === "maximize" ? a > b : a < b;
}
