import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import {
  ConflictError,
  type CoreTables,
  NotFoundError,
  ownerProcessGone,
  type Store,
  ValidationError,
} from "@quintet/core";
import type { Kysely } from "kysely";
import { type RunTables, runMigrations } from "./tables.js";

export type RunStatus = "running" | "done" | "stopped" | "failed";
export type RunKind = "agent" | "team";

/** One agent or team run as stored. */
export interface RunRecord {
  id: string;
  kind: RunKind;
  name: string;
  input: unknown;
  config: unknown;
  status: RunStatus;
  stop: { reason: string; detail: string } | undefined;
  output: unknown;
  error: { code: string; message: string; hint?: string; details?: Record<string, unknown> } | undefined;
  totalTokens: number;
  costUsd: number | undefined;
  steps: number;
  owner: string | undefined;
  leaseUntil: number | undefined;
  createdAt: number;
  updatedAt: number;
  endedAt: number | undefined;
}

/** One checkpointed step: the event as it was recorded. */
export interface StepRecord {
  runId: string;
  key: string;
  seq: number;
  type: string;
  agent: string | undefined;
  event: Record<string, unknown>;
  at: number;
  elapsedMs: number;
}

export interface CreateRunInput {
  id?: string;
  kind: RunKind;
  name: string;
  input: unknown;
  config?: unknown;
}

export interface FinishRunInput {
  status: Exclude<RunStatus, "running">;
  stop?: { reason: string; detail: string };
  output?: unknown;
  error?: RunRecord["error"];
  totalTokens: number;
  costUsd: number | undefined;
  steps: number;
}

const ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

/** This process, as written into `owner`: host, pid and a token unique to the claim. */
export function newOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** True when `owner` names a process on this host that no longer exists. */
export function ownerIsDead(owner: string): boolean {
  return ownerProcessGone(owner);
}

function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

function parse(text: string | null): unknown {
  return text === null ? undefined : JSON.parse(text);
}

function toRecord(r: RunTables["agent_runs"]): RunRecord {
  return {
    id: r.id,
    kind: r.kind as RunKind,
    name: r.name,
    input: parse(r.input),
    config: parse(r.config) ?? undefined,
    status: r.status as RunStatus,
    stop: r.stop_reason ? { reason: r.stop_reason, detail: r.stop_detail ?? "" } : undefined,
    output: parse(r.output) ?? undefined,
    error: (parse(r.error) ?? undefined) as RunRecord["error"],
    totalTokens: Number(r.total_tokens),
    costUsd: r.cost_usd === null ? undefined : Number(r.cost_usd),
    steps: Number(r.steps),
    owner: r.owner ?? undefined,
    leaseUntil: r.lease_until === null ? undefined : Number(r.lease_until),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    endedAt: r.ended_at === null ? undefined : Number(r.ended_at),
  };
}

/**
 * Agent and team runs and their checkpointed steps in the store (namespace `agents`,
 * tables `agent_runs` and `agent_steps`). A running run is held by one process through a
 * lease (`owner`, `lease_until`) so two processes never drive the same run at once; a lease
 * whose process died on this host is free at once, any other when it expires.
 */
export class RunStore {
  private constructor(
    readonly store: Store,
    private readonly db: Kysely<CoreTables & RunTables>,
  ) {}

  private static readonly byStore = new WeakMap<Store, RunStore>();

  /** The run tables of `store` (migrated on first use); one instance per store, so concurrent runs share group commits. */
  static async open(store: Store): Promise<RunStore> {
    await store.migrate("agents", runMigrations);
    let runs = RunStore.byStore.get(store);
    if (!runs) {
      runs = new RunStore(store, store.db.withTables<RunTables>());
      RunStore.byStore.set(store, runs);
    }
    return runs;
  }

  /** Creates a run held by `owner`. */
  async create(input: CreateRunInput, owner: string, leaseMs: number): Promise<RunRecord> {
    const id = input.id ?? randomUUID();
    if (!ID_RE.test(id)) {
      throw new ValidationError(`invalid run id "${id}"`, {
        hint: "Run ids are 1-128 letters, digits, and . _ : - characters; leave it out to get a UUID.",
      });
    }
    const now = Date.now();
    const row: RunTables["agent_runs"] = {
      id,
      kind: input.kind,
      name: input.name,
      input: json(input.input),
      config: input.config === undefined ? null : json(input.config),
      status: "running",
      stop_reason: null,
      stop_detail: null,
      output: null,
      error: null,
      total_tokens: 0,
      cost_usd: null,
      steps: 0,
      owner,
      lease_until: now + leaseMs,
      created_at: now,
      updated_at: now,
      ended_at: null,
    };
    try {
      await this.db.insertInto("agent_runs").values(row).execute();
    } catch (err) {
      if (await this.find(id)) {
        throw new ConflictError(`a run with id "${id}" already exists`, {
          hint: "Resume it instead, or choose another id.",
          details: { runId: id },
        });
      }
      throw err;
    }
    return toRecord(row);
  }

  /**
   * Takes over a run to resume it: allowed when it is `running` with no live holder (its
   * process died, or its lease expired), or was stopped by a cancellation.
   *
   * @throws NotFoundError, ConflictError (finished, or held by a live process)
   */
  async claim(id: string, owner: string, leaseMs: number): Promise<RunRecord> {
    const run = await this.get(id);
    const resumable = run.status === "running" || (run.status === "stopped" && run.stop?.reason === "aborted");
    if (!resumable) {
      throw new ConflictError(
        `run ${id} is ${run.status}${run.stop ? ` (${run.stop.reason})` : ""}; only an interrupted run can be resumed`,
        {
          hint: "Start a new run; `quintet agent runs show <id>` shows how this one ended.",
          details: { runId: id, status: run.status },
        },
      );
    }
    const now = Date.now();
    if (run.status === "running" && run.owner && (run.leaseUntil ?? 0) > now && !ownerIsDead(run.owner)) {
      throw new ConflictError(
        `run ${id} is being driven by ${run.owner} (lease until ${new Date(run.leaseUntil!).toISOString()})`,
        {
          hint: "Wait for that process to finish or for its lease to expire, then resume.",
          details: { runId: id, owner: run.owner, leaseUntil: run.leaseUntil },
        },
      );
    }
    // Compare-and-set on the previous holder, so two resumers cannot both win.
    const result = await this.db
      .updateTable("agent_runs")
      .set({ owner, lease_until: now + leaseMs, status: "running", updated_at: now, ended_at: null })
      .where("id", "=", id)
      .where("updated_at", "=", run.updatedAt)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) {
      throw new ConflictError(`run ${id} was taken over by another process while resuming`, {
        hint: "Only one process can resume a run; see `quintet agent runs show <id>`.",
        details: { runId: id },
      });
    }
    return { ...run, owner, leaseUntil: now + leaseMs, status: "running", updatedAt: now, endedAt: undefined };
  }

  /** Extends the lease of a run this owner holds. */
  async renew(id: string, owner: string, leaseMs: number): Promise<void> {
    const now = Date.now();
    await this.db
      .updateTable("agent_runs")
      .set({ lease_until: now + leaseMs })
      .where("id", "=", id)
      .where("owner", "=", owner)
      .execute();
  }

  /** Records how a run ended and releases its lease. */
  async finish(id: string, owner: string, f: FinishRunInput): Promise<void> {
    const now = Date.now();
    await this.db
      .updateTable("agent_runs")
      .set({
        status: f.status,
        stop_reason: f.stop?.reason ?? null,
        stop_detail: f.stop?.detail ?? null,
        output: f.output === undefined ? null : json(f.output),
        error: f.error === undefined ? null : json(f.error),
        total_tokens: f.totalTokens,
        cost_usd: f.costUsd ?? null,
        steps: f.steps,
        owner: null,
        lease_until: null,
        updated_at: now,
        ended_at: now,
      })
      .where("id", "=", id)
      .where("owner", "=", owner)
      .execute();
  }

  async find(id: string): Promise<RunRecord | undefined> {
    const row = await this.db.selectFrom("agent_runs").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  /** @throws NotFoundError naming the id */
  async get(id: string): Promise<RunRecord> {
    const run = await this.find(id);
    if (!run) {
      throw new NotFoundError(`no run with id "${id}"`, {
        hint: "List runs with `quintet agent runs ls`.",
        details: { runId: id },
      });
    }
    return run;
  }

  /** Runs, newest first. */
  async list(options: { limit?: number; status?: RunStatus; name?: string } = {}): Promise<RunRecord[]> {
    let q = this.db.selectFrom("agent_runs").selectAll();
    if (options.status) q = q.where("status", "=", options.status);
    if (options.name) q = q.where("name", "=", options.name);
    const rows = await q
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(options.limit ?? 50)
      .execute();
    return rows.map(toRecord);
  }

  /** The steps of a run in the order they were recorded. */
  async steps(runId: string): Promise<StepRecord[]> {
    const rows = await this.db
      .selectFrom("agent_steps")
      .selectAll()
      .where("run_id", "=", runId)
      .orderBy("seq")
      .execute();
    return rows.map((r) => ({
      runId: r.run_id,
      key: r.key,
      seq: Number(r.seq),
      type: r.type,
      agent: r.agent ?? undefined,
      event: JSON.parse(r.data) as Record<string, unknown>,
      at: Number(r.at),
      elapsedMs: Number(r.elapsed_ms),
    }));
  }

  private active = 0;
  private pending: { rows: StepRecord[]; done: () => void; fail: (err: unknown) => void }[] = [];
  private flushScheduled = false;

  /**
   * Writes steps; a step already recorded under the same key is kept as it was. Writes that
   * arrive in the same turn of the event loop (concurrent runs, parallel tool calls) are
   * committed together in one statement — group commit — and each caller resumes only once
   * its rows are committed.
   */
  appendSteps(steps: readonly StepRecord[]): Promise<void> {
    if (steps.length === 0) return Promise.resolve();
    // A lone run writes at once: waiting a loop turn for company would only add latency.
    if (this.active <= 1 && this.pending.length === 0) return this.insertChunks(steps);
    return new Promise<void>((done, fail) => {
      this.pending.push({ rows: [...steps], done, fail });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flushPending());
      }
    });
  }

  private async flushPending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.flushScheduled = false;
    try {
      await this.insertChunks(batch.flatMap((b) => b.rows));
      for (const b of batch) b.done();
    } catch (err) {
      for (const b of batch) b.fail(err);
    }
  }

  private async insertChunks(rows: readonly StepRecord[]): Promise<void> {
    // 8 columns per row: stay far below SQLite's bound-parameter limit.
    for (let i = 0; i < rows.length; i += 500) await this.insertSteps(rows.slice(i, i + 500));
  }

  /** Counts a run being driven in this process (group commit only pays off with company); returns the release. */
  track(): () => void {
    this.active++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.active--;
      }
    };
  }

  private async insertSteps(steps: readonly StepRecord[]): Promise<void> {
    await this.db
      .insertInto("agent_steps")
      .values(
        steps.map((step) => ({
          run_id: step.runId,
          key: step.key,
          seq: step.seq,
          type: step.type,
          agent: step.agent ?? null,
          data: JSON.stringify(step.event),
          at: step.at,
          elapsed_ms: step.elapsedMs,
        })),
      )
      .onConflict((oc) => oc.columns(["run_id", "key"]).doNothing())
      .execute();
  }
}
