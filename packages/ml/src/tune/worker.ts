/**
 * A trial worker: builds one built-in objective over the shared data it was started with,
 * then runs the trials the study sends, one at a time, forwarding intermediate reports and
 * waiting for the prune decision. Loaded with `new Worker` by pool.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { QuintetError } from "@quintet/core";
import { createBuiltinRunner } from "./builtins.js";
import { TrialPruned } from "./objective.js";
import type { FromWorker, ToWorker, WorkerStart } from "./pool-protocol.js";

const port = parentPort!;
const start = workerData as WorkerStart;
const post = (m: FromWorker) => port.postMessage(m);

function describe(err: unknown): Extract<FromWorker, { type: "error" }>["error"] {
  if (err instanceof QuintetError)
    return { name: err.name, message: err.message, code: err.code, ...(err.hint ? { hint: err.hint } : {}) };
  const e = err as Error;
  return { name: e?.name ?? "Error", message: e?.message ?? String(err) };
}

try {
  const runner = createBuiltinRunner(start.name, start.init, { inWorker: true });
  const decisions = new Map<number, (prune: boolean) => void>();
  let seq = 0;
  let controller: AbortController | undefined;
  port.on("message", (m: ToWorker) => {
    if (m.type === "decision") {
      decisions.get(m.seq)?.(m.prune);
      decisions.delete(m.seq);
    } else if (m.type === "abort") {
      controller?.abort();
    } else if (m.type === "run") {
      controller = new AbortController();
      const report = (step: number, value: number) =>
        new Promise<boolean>((resolve) => {
          const s = ++seq;
          decisions.set(s, resolve);
          post({ type: "report", id: m.id, seq: s, step, value });
        });
      runner(m.params, report, controller.signal).then(
        (outcome) => post({ type: "done", id: m.id, value: outcome.value, attrs: outcome.attrs ?? {} }),
        (err) =>
          post(
            err instanceof TrialPruned
              ? { type: "pruned", id: m.id }
              : { type: "error", id: m.id, error: describe(err) },
          ),
      );
    }
  });
  post({ type: "ready" });
} catch (err) {
  post({ type: "fatal", error: describe(err) });
}
