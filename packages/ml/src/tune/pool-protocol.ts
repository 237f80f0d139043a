import type { Params } from "./space.js";

/** workerData of a trial worker. */
export interface WorkerStart {
  name: string;
  init: unknown;
}

export type ToWorker =
  | { type: "run"; id: number; params: Params }
  | { type: "decision"; seq: number; prune: boolean }
  | { type: "abort" };

export interface WorkerError {
  name: string;
  message: string;
  code?: string;
  hint?: string;
}

export type FromWorker =
  | { type: "ready" }
  | { type: "fatal"; error: WorkerError }
  | { type: "report"; id: number; seq: number; step: number; value: number }
  | { type: "done"; id: number; value: number; attrs: Record<string, unknown> }
  | { type: "pruned"; id: number }
  | { type: "error"; id: number; error: WorkerError };
