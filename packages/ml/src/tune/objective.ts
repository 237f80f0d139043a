import type { Params } from "./space.js";
import type { Direction } from "./types.js";

/**
 * Thrown by an objective to stop a trial the pruner gave up on (after `trial.report(...)`
 * answered true). The trial is recorded as pruned with the values it reported.
 */
export class TrialPruned extends Error {
  constructor(message = "the trial was pruned") {
    super(message);
    this.name = "TrialPruned";
  }
}

/** Records an intermediate value; resolves to true when the trial should stop. */
export type ReportFn = (step: number, value: number) => Promise<boolean>;

/** A finished objective: its value and anything worth keeping with the trial. */
export interface ObjectiveOutcome {
  value: number;
  attrs?: Record<string, unknown>;
}

/** A built-in objective bound to its data: evaluates one point of the space. */
export type ObjectiveRunner = (params: Params, report: ReportFn, signal: AbortSignal) => Promise<ObjectiveOutcome>;

/**
 * An objective that can run on worker threads: a built-in objective's name and its data
 * (structured-cloneable; matrices in SharedArrayBuffers so workers read them without
 * copying). Made by e.g. {@link gbdtObjective}.
 */
export interface WorkerObjective {
  readonly kind: "worker";
  readonly name: string;
  readonly init: unknown;
  /** Which way the objective's value improves. */
  readonly direction: Direction;
}

export function isWorkerObjective(x: unknown): x is WorkerObjective {
  return typeof x === "object" && x !== null && (x as { kind?: unknown }).kind === "worker";
}
