import { createHash } from "node:crypto";
import { type JobRunner, NotFoundError, type Store } from "@quintet/core";
import type { Embedder } from "@quintet/llm";
import { z } from "zod";
import type { Chunker } from "../chunking/types.js";
import type { Collection } from "../index/collection.js";
import type { Source } from "../sources/types.js";
import { sourceFromSpec } from "./specs.js";
import { type RegisteredSource, SyncState } from "./state.js";
import { type SyncReport, syncSource } from "./sync.js";

/** Where a collection's documents go: the collection, and the embedder and chunker it was built with. */
export interface SyncTarget {
  collection: Collection;
  embedder: Embedder;
  chunker: Chunker;
}

export interface SyncDeps {
  store: Store;
  /** Opens a collection with its embedder and chunker (how depends on how it was created). */
  resolveTarget(collection: string): Promise<SyncTarget>;
  /** Builds a registered source from its spec (default {@link sourceFromSpec} with the store). */
  createSource?(registered: RegisteredSource): Source | Promise<Source>;
  now?: () => number;
}

/** Syncs one registered source now and schedules its next run. */
export async function syncRegistered(
  deps: SyncDeps,
  collection: string,
  name: string,
  options: { signal?: AbortSignal; onEvent?: Parameters<typeof syncSource>[0]["onEvent"] } = {},
): Promise<SyncReport> {
  const now = deps.now ?? Date.now;
  const state = new SyncState(deps.store);
  const reg = (await state.sources(collection)).find((s) => s.name === name);
  if (!reg) {
    throw new NotFoundError(`no source "${name}" is registered for collection "${collection}"`, {
      hint: "Register it first (registerSource, or quintet rag sync <path|url> --name <name>).",
    });
  }
  const source = deps.createSource ? await deps.createSource(reg) : sourceFromSpec(reg.spec, { store: deps.store });
  const target = await deps.resolveTarget(collection);
  try {
    return await syncSource({
      store: deps.store,
      ...target,
      source,
      ...(reg.ttlMs ? { ttlMs: reg.ttlMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      now,
    });
  } finally {
    // Success or failure, the next attempt waits for the next slot (a failing source is not hammered).
    if (reg.intervalMs) await state.setNextRun(collection, name, now() + reg.intervalMs);
  }
}

/** Runs every registered source whose next run is due; failures are returned, not thrown. */
export async function runDueSyncs(
  deps: SyncDeps,
  options: { signal?: AbortSignal } = {},
): Promise<Array<{ collection: string; source: string; report?: SyncReport; error?: Error }>> {
  const now = (deps.now ?? Date.now)();
  const due = (await new SyncState(deps.store).sources()).filter(
    (s) => s.intervalMs !== null && s.nextRunAt !== null && s.nextRunAt <= now,
  );
  const out: Array<{ collection: string; source: string; report?: SyncReport; error?: Error }> = [];
  for (const s of due) {
    options.signal?.throwIfAborted();
    try {
      out.push({
        collection: s.collection,
        source: s.name,
        report: await syncRegistered(deps, s.collection, s.name, options),
      });
    } catch (err) {
      out.push({ collection: s.collection, source: s.name, error: err as Error });
    }
  }
  return out;
}

/**
 * Re-syncs registered sources on their intervals from a timer in this process (checked every
 * `tickMs`, default 30 s; runs never overlap). For a fleet, use {@link registerSyncJobs} instead.
 */
export class SyncScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly controller = new AbortController();

  constructor(
    private readonly deps: SyncDeps,
    private readonly options: {
      tickMs?: number;
      onResult?: (r: Awaited<ReturnType<typeof runDueSyncs>>[number]) => void;
    } = {},
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.options.tickMs ?? 30_000);
    this.timer.unref();
    void this.tick();
  }

  /** Runs the due syncs once now (also what each tick does). */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = runDueSyncs(this.deps, { signal: this.controller.signal })
      .then((results) => {
        for (const r of results) this.options.onResult?.(r);
      })
      .catch(() => {})
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.controller.abort();
    await this.running;
  }
}

/** The job name scheduled syncs run under. */
export const SYNC_JOB = "rag.sync";

const SyncJobData = z.object({ collection: z.string().min(1), source: z.string().min(1) });

function slotId(collection: string, source: string, slot: number): string {
  const safe = `${collection}.${source}`.replace(/[^\w.-]/g, "_").slice(0, 80);
  const h = createHash("sha256").update(`${collection}\n${source}`).digest("hex").slice(0, 8);
  return `rag-sync.${safe}.${h}.${slot}`;
}

/**
 * Runs scheduled syncs as core jobs (in-process on the store, or BullMQ): registers the
 * `rag.sync` handler, which syncs the registered source and enqueues its next run `intervalMs`
 * later. Job ids are derived from the source and the time slot, so scheduling the same source
 * twice (two processes, a restart) enqueues it once.
 */
export function registerSyncJobs(
  runner: JobRunner,
  deps: SyncDeps,
): { schedule(collection: string, source: string, options?: { delayMs?: number }): Promise<string> } {
  const now = deps.now ?? Date.now;
  const schedule = async (collection: string, source: string, options: { delayMs?: number } = {}) => {
    const reg = (await new SyncState(deps.store).sources(collection)).find((s) => s.name === source);
    if (!reg)
      throw new NotFoundError(`no source "${source}" is registered for collection "${collection}"`, {
        hint: "Register it first.",
      });
    const delayMs = options.delayMs ?? 0;
    const slot = reg.intervalMs ? Math.floor((now() + delayMs) / reg.intervalMs) : now() + delayMs;
    return runner.enqueue(SYNC_JOB, { collection, source }, { jobId: slotId(collection, source, slot), delayMs });
  };
  runner.register(
    SYNC_JOB,
    async (data, ctx) => {
      let events = 0;
      const report = await syncRegistered(deps, data.collection, data.source, {
        signal: ctx.signal,
        onEvent: () => {
          events++;
          if (events % 20 === 0) ctx.progress(Math.min(0.99, events / (events + 100)));
        },
      });
      const reg = (await new SyncState(deps.store).sources(data.collection)).find((s) => s.name === data.source);
      if (reg?.intervalMs) await schedule(data.collection, data.source, { delayMs: reg.intervalMs });
      const { warningList: _w, ...summary } = report;
      return summary;
    },
    { schema: SyncJobData, concurrency: 1, attempts: 2 },
  );
  return { schedule };
}
