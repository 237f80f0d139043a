import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { type Store, toQuintetError, withSpan } from "@quintet/core";
import type { SpanRunner, Usage } from "@quintet/llm";
import type { StopInfo } from "../control/budget.js";
import { EventChannel } from "./channel.js";
import type { RecordedError, RunEvent, RunEventBody } from "./events.js";
import { type Journal, RunJournal } from "./journal.js";
import { newOwner, type RunKind, type RunRecord, RunStore } from "./run-store.js";

/** How a run ended: the common part of agent and team results. */
export interface RunSummary {
  runId: string;
  /** `done`: finished its goal; `stopped`: a limit, a loop, a cancellation or unmet criteria; `failed`: an error. */
  status: "done" | "stopped" | "failed";
  stop: StopInfo;
  /** The answer, or for a stopped run what was produced before the stop. */
  output: string;
  usage: Usage;
  costUsd: number | undefined;
  /** Model calls made (recorded ones included after a resume). */
  steps: number;
  error?: RecordedError | undefined;
}

/**
 * A run in progress: iterate it for its events as they happen, await `result` for how it
 * ended. `result` rejects only when the run could not be started or recorded at all (store
 * unavailable, run held by another process); every other failure is a `failed` result with
 * the error in the run record.
 */
export interface RunHandle<R extends RunSummary> extends AsyncIterable<RunEvent> {
  readonly runId: string;
  readonly result: Promise<R>;
}

/** Options every durable run takes. */
export interface RunOptions {
  /** Checkpoint every step in this store (`agent_runs`, `agent_steps`); without it the run lives in memory. */
  store?: Store | undefined;
  /** Id for a new run (default a UUID). */
  runId?: string | undefined;
  signal?: AbortSignal | undefined;
  /** How long a crashed process holds the run before another may resume it (default 30 s; a dead process on this host releases it at once). */
  leaseMs?: number | undefined;
  /** Called for every event, before it is queued for the iterator. */
  onEvent?: ((event: RunEvent) => void) | undefined;
  /** Runs the run and its steps inside trace spans (default: core's `withSpan`, recording once tracing is started). */
  tracer?: SpanRunner | undefined;
}

/** What orchestration code gets while a run is driven. */
export interface RunContext {
  readonly runId: string;
  readonly journal: Journal;
  readonly signal: AbortSignal;
  readonly tracer: SpanRunner;
  /**
   * Records the event under `key` (once) and streams it; a recorded key is streamed as
   * replayed. `defer` batches the row with the next write (see {@link Journal.write}).
   */
  emit(key: string, body: RunEventBody, options?: { defer?: boolean }): Promise<RunEvent>;
}

export interface RunSpec<R extends RunSummary> {
  kind: RunKind;
  name: string;
  input: unknown;
  /** Stored with the run so it can be rebuilt on resume (e.g. a team config). */
  config?: unknown;
  /** What of the result goes into the run record's `output` (default the whole result). */
  persist?: (result: R) => unknown;
  /** Checks a stored run before it is claimed for resuming (throw to refuse). */
  check?: (record: RunRecord) => void;
}

function toEvent(runId: string, e: { key: string; seq: number; at: number; replayed: boolean; event: unknown }) {
  return { ...(e.event as RunEventBody), runId, seq: e.seq, key: e.key, at: e.at, replayed: e.replayed } as RunEvent;
}

/**
 * Drives `body` as a run: creates (or, with `resume`, claims) the run record, keeps its lease
 * alive, gives the body a journal that checkpoints every event, streams the events, and
 * records how the run ended.
 */
export function startRun<R extends RunSummary>(
  spec: RunSpec<R>,
  options: RunOptions & { resume?: boolean },
  body: (ctx: RunContext, record: RunRecord | undefined) => Promise<R>,
): RunHandle<R> {
  const runId = options.runId ?? randomUUID();
  const channel = new EventChannel<RunEvent>();
  const tracer: SpanRunner = options.tracer ?? withSpan;
  const leaseMs = options.leaseMs ?? 30_000;
  const result = (async (): Promise<R> => {
    let runs: RunStore | undefined;
    let owner = "";
    let record: RunRecord | undefined;
    let journal: RunJournal;
    let renewTimer: NodeJS.Timeout | undefined;
    let untrack = () => {};
    try {
      if (options.store) {
        runs = await RunStore.open(options.store);
        owner = newOwner();
        if (options.resume) {
          spec.check?.(await runs.get(runId));
          record = await runs.claim(runId, owner, leaseMs);
          journal = new RunJournal(runId, runs, await runs.steps(runId));
        } else {
          record = await runs.create(
            { id: runId, kind: spec.kind, name: spec.name, input: spec.input, config: spec.config },
            owner,
            leaseMs,
          );
          journal = new RunJournal(runId, runs);
        }
        untrack = runs.track();
        const held = runs;
        renewTimer = setInterval(
          () => void held.renew(runId, owner, leaseMs).catch(() => {}),
          Math.max(50, leaseMs / 3),
        );
        renewTimer.unref();
      } else {
        journal = new RunJournal(runId);
      }
    } catch (err) {
      untrack();
      channel.close();
      throw err;
    }
    // One listener on the caller's signal; every step and tool of the run listens to ours
    // (many at once in concurrent runs and parallel tasks, hence no listener limit).
    const abort = new AbortController();
    setMaxListeners(0, abort.signal);
    const outer = options.signal;
    const onAbort = () => abort.abort(outer?.reason);
    if (outer?.aborted) onAbort();
    else outer?.addEventListener("abort", onAbort, { once: true });
    const ctx: RunContext = {
      runId,
      journal,
      signal: abort.signal,
      tracer,
      emit: async (key, eventBody, emitOptions) => {
        const entry = await journal.write(key, eventBody as RunEventBody & { type: string }, emitOptions);
        const event = toEvent(runId, entry);
        options.onEvent?.(event);
        channel.push(event);
        return event;
      },
    };
    try {
      const r = await tracer(
        `${spec.kind}.run`,
        spec.name,
        { runId, resumed: Boolean(options.resume) },
        async (span) => {
          const out = await body(ctx, record);
          await journal.flush();
          span.setAttributes({ status: out.status, stopReason: out.stop.reason, steps: out.steps });
          span.setUsage({
            inputTokens: out.usage.inputTokens,
            outputTokens: out.usage.outputTokens,
            ...(out.costUsd !== undefined ? { costUsd: out.costUsd } : {}),
          });
          if (out.error) span.recordError(new Error(out.error.message));
          return out;
        },
      );
      if (runs) {
        await runs.finish(runId, owner, {
          status: r.status,
          stop: r.stop,
          output: spec.persist ? spec.persist(r) : r,
          ...(r.error ? { error: r.error } : {}),
          totalTokens: r.usage.totalTokens,
          costUsd: r.costUsd,
          steps: r.steps,
        });
      }
      return r;
    } catch (err) {
      if (runs) {
        const e = toQuintetError(err).toJSON();
        await runs
          .finish(runId, owner, {
            status: "failed",
            stop: { reason: "error", detail: e.message },
            error: e,
            totalTokens: 0,
            costUsd: undefined,
            steps: 0,
          })
          .catch(() => {});
      }
      throw err;
    } finally {
      outer?.removeEventListener("abort", onAbort);
      untrack();
      clearInterval(renewTimer);
      channel.close();
    }
  })();
  // The caller may only iterate; an unobserved rejection must not crash the process.
  result.catch(() => {});
  return {
    runId,
    result,
    [Symbol.asyncIterator]: () => channel[Symbol.asyncIterator](),
  };
}
