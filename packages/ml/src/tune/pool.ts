import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { CancelledError, type ErrorCode, QuintetError } from "@quintet/core";
import { type ObjectiveOutcome, type ReportFn, TrialPruned, type WorkerObjective } from "./objective.js";
import type { FromWorker, ToWorker, WorkerError, WorkerStart } from "./pool-protocol.js";
import type { Params } from "./space.js";

/**
 * How to start a worker. Built code runs `worker.js`; from source (tests,
 * `--conditions=source`) the worker is `worker.ts`, and since a worker does not inherit
 * the tsx loader, a small bootstrap registers tsx's ESM hooks inside it first.
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith(".ts")) return { entry: new URL("./worker.js", import.meta.url), eval: false };
  const req = createRequire(import.meta.url);
  const pkgPath = req.resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as {
    exports: Record<string, { import?: { default?: string } } | string>;
  };
  const api = pkg.exports["./esm/api"];
  const rel = typeof api === "object" ? api.import?.default : undefined;
  if (!rel) throw new QuintetError("INTERNAL", "cannot find tsx's ESM API to run the trial worker from source");
  const apiUrl = pathToFileURL(join(dirname(pkgPath), rel)).href;
  const workerUrl = new URL("./worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(apiUrl)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl)}); });`;
  return { entry: code, eval: true };
}

function toError(e: WorkerError): Error {
  if (e.code === "CANCELLED") return new CancelledError(e.message);
  if (e.code) return new QuintetError(e.code as ErrorCode, e.message, e.hint ? { hint: e.hint } : {});
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

interface Slot {
  worker: Worker;
  busy: boolean;
  /** The running trial's handlers. */
  current?: {
    id: number;
    report: ReportFn;
    resolve: (o: ObjectiveOutcome) => void;
    reject: (e: unknown) => void;
  };
  dead: boolean;
}

/**
 * Worker threads that each run one trial at a time of a built-in objective. The data is
 * sent once at start (SharedArrayBuffers are shared, not copied); every trial then costs
 * one message plus one round trip per intermediate report (the prune decision is made on
 * the study's thread).
 */
export class TrialWorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private closed = false;

  private constructor(private readonly objective: WorkerObjective) {}

  static async start(objective: WorkerObjective, size: number): Promise<TrialWorkerPool> {
    const pool = new TrialWorkerPool(objective);
    try {
      await Promise.all(Array.from({ length: size }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  private spawn(): Promise<Slot> {
    const { entry, eval: isEval } = workerEntry();
    const data: WorkerStart = { name: this.objective.name, init: this.objective.init };
    const worker = new Worker(entry, { workerData: data, eval: isEval });
    const slot: Slot = { worker, busy: false, dead: false };
    this.slots.push(slot);
    return new Promise<Slot>((resolve, reject) => {
      let ready = false;
      worker.on("message", (m: FromWorker) => {
        if (m.type === "ready") {
          ready = true;
          resolve(slot);
          return;
        }
        if (m.type === "fatal") {
          slot.dead = true;
          reject(toError(m.error));
          return;
        }
        const cur = slot.current;
        if (!cur || m.id !== cur.id) return;
        if (m.type === "report") {
          cur.report(m.step, m.value).then(
            (prune) => this.send(slot, { type: "decision", seq: m.seq, prune }),
            () => this.send(slot, { type: "decision", seq: m.seq, prune: true }),
          );
          return;
        }
        slot.current = undefined;
        slot.busy = false;
        if (m.type === "done") cur.resolve({ value: m.value, attrs: m.attrs });
        else if (m.type === "pruned") cur.reject(new TrialPruned());
        else cur.reject(toError(m.error));
      });
      const fail = (err: Error) => {
        slot.dead = true;
        slot.busy = false;
        const cur = slot.current;
        slot.current = undefined;
        if (cur) cur.reject(err);
        if (!ready) reject(err);
      };
      worker.on("error", (err) =>
        fail(new QuintetError("INTERNAL", `a tuning worker failed: ${err.message}`, { cause: err })),
      );
      worker.on("exit", (code) => {
        if (!this.closed && !slot.dead)
          fail(new QuintetError("INTERNAL", `a tuning worker exited unexpectedly (code ${code})`));
      });
    });
  }

  private send(slot: Slot, m: ToWorker): void {
    if (!slot.dead) slot.worker.postMessage(m);
  }

  /** Runs one trial on an idle worker (a dead one is replaced first). */
  async run(params: Params, report: ReportFn, signal: AbortSignal): Promise<ObjectiveOutcome> {
    if (this.closed) throw new CancelledError("the tuning worker pool is closed");
    let slot = this.slots.find((s) => !s.busy && !s.dead);
    if (!slot) {
      for (const s of this.slots.filter((x) => x.dead)) void s.worker.terminate();
      this.slots.splice(0, this.slots.length, ...this.slots.filter((x) => !x.dead));
      slot = await this.spawn();
    }
    const s = slot;
    s.busy = true;
    const id = ++this.nextId;
    return new Promise<ObjectiveOutcome>((resolve, reject) => {
      s.current = { id, report, resolve, reject };
      const onAbort = () => this.send(s, { type: "abort" });
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
      this.send(s, { type: "run", id, params });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate().catch(() => 0)));
  }
}
