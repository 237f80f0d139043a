import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { ConflictError, NotFoundError, QuintetError, ValidationError } from "../errors/errors.js";
import { kyselyModule } from "../store/kysely.js";
import type { Store } from "../store/store.js";
import type { CoreTables } from "../store/types.js";
import { type AttemptOutcome, backoffDelay, cancelledReason, normalizeProgress, runAttempt } from "./attempt.js";
import { JobEmitter, waitForJob } from "./events.js";
import { GroupCommit } from "./group-commit.js";
import { defaultJobsLogger, type JobsLogger } from "./logger.js";
import { type JobRow, type JobsTable, jobsMigrations } from "./migrations.js";
import {
  parseEnqueueOptions,
  parseListOptions,
  parseRegistration,
  type Registration,
  requireRegistration,
  validateData,
} from "./options.js";
import type {
  EnqueueOptions,
  JobError,
  JobEventName,
  JobEvents,
  JobHandler,
  JobInfo,
  JobProgress,
  JobRunner,
  JobState,
  ListOptions,
  ProgressInput,
  RegisterOptions,
  StopOptions,
  WaitOptions,
} from "./types.js";

export interface InProcessRunnerOptions {
  store: Store;
  /** Jobs this runner runs at once, across all names. Default 4. */
  concurrency?: number;
  /** How often to look for jobs enqueued by other processes and for dead runners' jobs. Local enqueues wake the runner at once. Default 1000. */
  pollIntervalMs?: number;
  /** How long a claimed job stays reserved without a heartbeat before another runner may take it. Default 30000. */
  leaseMs?: number;
  /** How often leases are renewed and cancellations by other processes noticed. Default min(1000, leaseMs / 3). */
  heartbeatMs?: number;
  /** Times a job may be taken back from a dead runner before it fails (BullMQ's maxStalledCount). Default 1. */
  maxStalls?: number;
  /** Close the store when the runner stops (used by {@link createJobRunner} for a store it opened). */
  ownsStore?: boolean;
  logger?: JobsLogger;
}

interface ActiveJob {
  id: string;
  name: string;
  token: string;
  controller: AbortController;
  failures: number;
  maxAttempts: number;
  attempt: number;
  /** Latest progress not yet written, and whether a write is running. */
  pendingProgress: JobProgress | undefined;
  lastProgress: JobProgress | undefined;
  writingProgress: boolean;
}

/** A write about one attempt; it applies only while the claim's lease token is still on the row. */
interface GuardedUpdate {
  id: string;
  token: string;
  set: Partial<Omit<JobRow, "id" | "lease_token">> & { lease_token?: null };
}

type ClaimedRow = Pick<JobRow, "id" | "name" | "data" | "attempts" | "failures" | "max_attempts"> & {
  token: string;
};

const STATES = new Set<JobState>(["queued", "active", "completed", "failed", "cancelled"]);

/**
 * Creates the embedded job runner: jobs live in the store's `jobs` table (SQLite or
 * PostgreSQL), so they survive restarts and several processes can share them.
 *
 * A runner claims due jobs in a transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
 * `BEGIN IMMEDIATE` on SQLite) and holds each under a lease it renews while the handler
 * runs. When a process dies its leases expire and any runner puts those jobs back in the
 * queue. Every write about an attempt is guarded by the claim's lease token, so an owner
 * that lost its lease cannot overwrite the outcome: a job completes exactly once.
 *
 * @example
 * const runner = await createInProcessRunner({ store, concurrency: 4 });
 * runner.register("resize", async (data: { url: string }, ctx) => { ctx.progress(1); return { ok: true } });
 * await runner.start();
 * const id = await runner.enqueue("resize", { url: "https://…" });
 * const info = await runner.wait(id);
 */
export async function createInProcessRunner(options: InProcessRunnerOptions): Promise<JobRunner> {
  await options.store.migrate("jobs", jobsMigrations);
  return new InProcessRunner(options);
}

class InProcessRunner implements JobRunner {
  readonly kind = "in-process" as const;
  private readonly store: Store;
  private readonly db: Kysely<JobsTable & CoreTables>;
  private readonly registry = new Map<string, Registration>();
  private readonly active = new Map<string, ActiveJob>();
  private readonly activeByName = new Map<string, number>();
  private readonly finishing = new Set<Promise<void>>();
  private readonly emitter: JobEmitter;
  private readonly owner = randomUUID();
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly maxStalls: number;
  private readonly logger: JobsLogger;
  private phase: "idle" | "running" | "stopping" | "stopped" = "idle";
  private loopDone: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private heartbeatRunning = false;
  private wakeup: (() => void) | undefined;
  private woken = false;
  private draining: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private seqCounter = 0;
  /** The last claim found nothing: check with a read before claiming again. */
  private idle = true;
  /** The earliest future due time this runner itself wrote. */
  private nextLocalDue: number | undefined;
  private readonly inserts = new GroupCommit<JobRow, boolean>((rows) => this.insertRows(rows));
  private readonly updates = new GroupCommit<GuardedUpdate, boolean>((items) => this.applyUpdates(items));

  constructor(private readonly options: InProcessRunnerOptions) {
    this.store = options.store;
    this.db = options.store.db.withTables<JobsTable>();
    this.concurrency = positiveInt("concurrency", options.concurrency ?? 4);
    this.pollIntervalMs = positiveInt("pollIntervalMs", options.pollIntervalMs ?? 1000);
    this.leaseMs = positiveInt("leaseMs", options.leaseMs ?? 30_000);
    this.heartbeatMs = positiveInt("heartbeatMs", options.heartbeatMs ?? Math.min(1000, Math.floor(this.leaseMs / 3)));
    if (this.heartbeatMs >= this.leaseMs) {
      throw new ValidationError(`heartbeatMs (${this.heartbeatMs}) must be shorter than leaseMs (${this.leaseMs})`, {
        hint: "Renew leases several times per lease, e.g. heartbeatMs = leaseMs / 3.",
      });
    }
    this.maxStalls = nonNegativeInt("maxStalls", options.maxStalls ?? 1);
    this.logger = options.logger ?? defaultJobsLogger();
    this.emitter = new JobEmitter((err, event) =>
      this.logger.error({ err, event }, "a job event listener threw; the runner carries on"),
    );
  }

  register(name: string, handler: JobHandler<any, unknown>, options?: RegisterOptions): void {
    this.assertOpen();
    if (this.registry.has(name)) {
      throw new ConflictError(`job type "${name}" is already registered`, {
        hint: "Register each job name once per runner.",
      });
    }
    this.registry.set(name, parseRegistration(name, handler, options));
    this.wake();
  }

  async enqueue(name: string, data: unknown, options?: EnqueueOptions): Promise<string> {
    this.assertOpen();
    const reg = requireRegistration(this.registry, name);
    const opts = parseEnqueueOptions(name, options);
    const { json } = validateData(reg, data);
    const id = opts.jobId ?? randomUUID();
    const now = Date.now();
    // Milliseconds alone tie often; the counter keeps this process's enqueue order within one.
    const seq = now * 1000 + (this.seqCounter++ % 1000);
    const inserted = await this.inserts.add({
      id,
      name,
      data: json,
      state: "queued",
      priority: opts.priority ?? 0,
      run_at: now + (opts.delayMs ?? 0),
      seq,
      attempts: 0,
      failures: 0,
      stalls: 0,
      max_attempts: reg.attempts,
      progress: null,
      result: null,
      error: null,
      lease_owner: null,
      lease_token: null,
      lease_expires_at: null,
      created_at: now,
      started_at: null,
      finished_at: null,
    });
    if (!inserted) {
      const existing = await this.db.selectFrom("jobs").select("name").where("id", "=", id).executeTakeFirst();
      if (existing && existing.name !== name) {
        throw new ConflictError(`job id "${id}" is already used by a "${existing.name}" job`, {
          hint: "Use job ids that are unique across job names (e.g. prefix them with the name).",
        });
      }
      return id;
    }
    if (opts.delayMs) this.dueAt(now + opts.delayMs);
    else this.wake();
    return id;
  }

  /** Inserts a batch of new jobs in one statement; answers whether each row was new. */
  private async insertRows(rows: JobRow[]): Promise<boolean[]> {
    const fresh = new Set<string>();
    for (let i = 0; i < rows.length; i += 400) {
      const chunk = rows.slice(i, i + 400);
      const inserted = await this.db
        .insertInto("jobs")
        .values(chunk)
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .execute();
      for (const r of inserted) fresh.add(r.id);
    }
    // A second row with the same id in one batch was not inserted, whatever RETURNING says.
    return rows.map((r) => fresh.delete(r.id));
  }

  /**
   * Applies a batch of lease-guarded updates in one transaction; answers whether each still
   * held its lease. Updates of the same columns under the same claim (the jobs of one claim
   * finishing together) become one statement: a column that differs between them is set
   * with `CASE id WHEN … END`, and RETURNING says which rows were still held.
   */
  private async applyUpdates(items: GuardedUpdate[]): Promise<boolean[]> {
    const groups = new Map<string, { token: string; members: number[] }>();
    const singles: number[] = [];
    items.forEach((u, i) => {
      const key = `${u.token}\u0000${Object.keys(u.set).sort().join(",")}`;
      const g = groups.get(key);
      if (!g) groups.set(key, { token: u.token, members: [i] });
      // The same job twice in one batch: the later write must land later, so it goes alone.
      else if (g.members.some((m) => items[m]!.id === u.id)) singles.push(i);
      else g.members.push(i);
    });
    // Worked out before the transaction: store.tx may run its callback again after SQLITE_BUSY.
    const batched = [...groups.values()].filter((g) => g.members.length > 1);
    for (const g of groups.values()) if (g.members.length === 1) singles.push(g.members[0]!);
    singles.sort((a, b) => a - b);
    const { sql } = await kyselyModule();
    const apply = async (db: Kysely<JobsTable & CoreTables>) => {
      const out: boolean[] = new Array(items.length).fill(false);
      for (const { token, members } of batched) {
        const group = members.map((m) => items[m]!);
        const set: Record<string, unknown> = {};
        for (const column of Object.keys(group[0]!.set)) {
          const values = group.map((u) => (u.set as Record<string, unknown>)[column] ?? null);
          set[column] = values.every((v) => v === values[0])
            ? values[0]
            : sql`case id ${sql.join(
                group.map((u, k) => sql`when ${u.id} then ${values[k]}`),
                sql` `,
              )} else ${sql.ref(column)} end`;
        }
        const held = await db
          .updateTable("jobs")
          .set(set as GuardedUpdate["set"])
          .where("lease_token", "=", token)
          .where(
            "id",
            "in",
            group.map((u) => u.id),
          )
          .returning("id")
          .execute();
        const won = new Set(held.map((r) => r.id));
        for (const m of members) out[m] = won.has(items[m]!.id);
      }
      for (const i of singles) {
        const u = items[i]!;
        const r = await db
          .updateTable("jobs")
          .set(u.set)
          .where("id", "=", u.id)
          .where("lease_token", "=", u.token)
          .executeTakeFirst();
        out[i] = Number(r.numUpdatedRows) === 1;
      }
      return out;
    };
    if (items.length === 1) return apply(this.db);
    return this.store.tx((trx) => apply(trx.withTables<JobsTable>()));
  }

  async get(id: string): Promise<JobInfo | undefined> {
    this.assertOpen();
    const row = await this.db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toInfo(row) : undefined;
  }

  wait(id: string, options?: WaitOptions): Promise<JobInfo> {
    this.assertOpen();
    return waitForJob(id, options, (x) => this.get(x), this.emitter, this.pollIntervalMs);
  }

  async cancel(id: string): Promise<boolean> {
    this.assertOpen();
    const now = Date.now();
    // One statement: it either wins against the owner's completion write or finds the job finished.
    const row = await this.db
      .updateTable("jobs")
      .set({ state: "cancelled", finished_at: now, lease_owner: null, lease_token: null, lease_expires_at: null })
      .where("id", "=", id)
      .where("state", "in", ["queued", "active"])
      .returning(["name"])
      .executeTakeFirst();
    if (!row) {
      const exists = await this.db.selectFrom("jobs").select("id").where("id", "=", id).executeTakeFirst();
      if (!exists) throw new NotFoundError(`job ${id} does not exist`, { hint: "Check the id returned by enqueue()." });
      return false;
    }
    this.active.get(id)?.controller.abort(cancelledReason(id));
    this.emitter.emit("cancelled", { id, name: row.name });
    return true;
  }

  on<E extends JobEventName>(event: E, listener: (event: JobEvents[E]) => void): () => void {
    return this.emitter.on(event, listener);
  }

  async list(options?: ListOptions): Promise<JobInfo[]> {
    this.assertOpen();
    const o = parseListOptions(options);
    let q = this.db.selectFrom("jobs").selectAll();
    if (o.name) q = q.where("name", "=", o.name);
    if (o.state) q = q.where("state", "=", o.state);
    const rows = await q.orderBy("created_at", "desc").orderBy("seq", "desc").limit(o.limit).execute();
    return rows.map(toInfo);
  }

  async start(): Promise<void> {
    this.assertOpen();
    if (this.phase === "running") return;
    this.phase = "running";
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    this.loopDone = this.loop();
  }

  stop(options?: StopOptions): Promise<void> {
    this.stopping ??= this.shutdown(options?.drain === true);
    return this.stopping;
  }

  private async shutdown(drain: boolean): Promise<void> {
    if (this.phase === "running" && drain) {
      await new Promise<void>((resolve) => {
        this.draining = resolve;
        this.wake();
      });
    }
    this.phase = "stopping";
    this.wake();
    await this.loopDone;
    while (this.finishing.size > 0) await Promise.all([...this.finishing]);
    await this.updates.idle();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.phase = "stopped";
    if (this.options.ownsStore) await this.store.close();
  }

  // ---- the loop ---------------------------------------------------------------------

  private async loop(): Promise<void> {
    let lastRecovery = 0;
    while (this.phase === "running") {
      this.woken = false;
      let sleepMs = this.pollIntervalMs;
      try {
        if (Date.now() - lastRecovery >= this.pollIntervalMs) {
          lastRecovery = Date.now();
          await this.recoverStalled();
        }
        const free = this.concurrency - this.active.size;
        const quotas = this.quotas(free);
        if (free > 0 && quotas.size > 0) {
          // While busy, claim straight away; once a claim comes back empty, a plain read
          // decides whether a (write-locking) claim is worth it and how long to sleep.
          const now = Date.now();
          if (this.nextLocalDue !== undefined && this.nextLocalDue <= now) {
            this.nextLocalDue = undefined;
            this.idle = false;
          }
          const due = !this.idle || (await this.anyDue([...quotas.keys()]));
          // Jobs other processes delay are found by the next poll; our own, on time.
          if (this.nextLocalDue !== undefined) sleepMs = Math.max(1, Math.min(sleepMs, this.nextLocalDue - now));
          if (due) {
            const { jobs } = await this.claim(free, quotas);
            for (const job of jobs) this.startJob(job);
            this.idle = jobs.length === 0;
            continue;
          }
          if (this.active.size === 0) this.drained();
        } else if (this.active.size === 0) {
          this.drained();
        }
      } catch (err) {
        if (this.phase !== "running") break;
        this.logger.warn({ err }, "job runner could not poll the store; retrying");
      }
      await this.sleep(sleepMs);
    }
  }

  private drained(): void {
    const resolve = this.draining;
    if (!resolve) return;
    this.draining = undefined;
    resolve();
  }

  /** Free slots per registered name, within the runner's free slots. */
  private quotas(free: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const reg of this.registry.values()) {
      const used = this.activeByName.get(reg.name) ?? 0;
      const slots = Math.min(free, (reg.concurrency ?? Number.POSITIVE_INFINITY) - used);
      if (slots > 0) out.set(reg.name, slots);
    }
    return out;
  }

  /** Takes up to `limit` due jobs within the per-name quotas. */
  private async claim(limit: number, quotas: Map<string, number>): Promise<{ jobs: ClaimedRow[] }> {
    const names = [...quotas.keys()];
    const now = Date.now();
    const token = randomUUID();
    const { sql } = await kyselyModule();
    return this.store.tx(async (trx) => {
      const tx = trx.withTables<JobsTable>();
      let q = tx
        .selectFrom("jobs")
        .select(["id", "name", "data", "attempts", "failures", "max_attempts"])
        .where("state", "=", "queued")
        .where("run_at", "<=", now)
        .where("name", "in", names)
        .orderBy("priority")
        .orderBy("run_at")
        .orderBy("seq")
        .limit(limit);
      if (this.store.dialect === "postgres") q = q.forUpdate().skipLocked();
      const rows = await q.execute();
      const left = new Map(quotas);
      const chosen: typeof rows = [];
      for (const row of rows) {
        const slots = left.get(row.name) ?? 0;
        if (slots <= 0) continue;
        left.set(row.name, slots - 1);
        chosen.push(row);
      }
      if (chosen.length > 0) {
        await tx
          .updateTable("jobs")
          .set({
            state: "active",
            lease_owner: this.owner,
            lease_token: token,
            lease_expires_at: now + this.leaseMs,
            attempts: sql<number>`attempts + 1`,
            started_at: now,
          })
          // No state condition: the rows are ours for this transaction (write lock on SQLite,
          // row locks on PostgreSQL), and with one SQLite would walk the state index instead of the key.
          .where(
            "id",
            "in",
            chosen.map((r) => r.id),
          )
          .execute();
      }
      return { jobs: chosen.map((r) => ({ ...r, attempts: r.attempts + 1, token })) };
    });
  }

  /** Puts jobs of runners whose lease expired back in the queue, or fails them after too many stalls. */
  private async recoverStalled(): Promise<void> {
    const now = Date.now();
    // A plain read first: almost always nobody died, and then no write lock is needed.
    const any = await this.db
      .selectFrom("jobs")
      .select("id")
      .where("state", "=", "active")
      .where("lease_expires_at", "<", now)
      .limit(1)
      .executeTakeFirst();
    if (!any) return;
    const failed = await this.store.tx(async (trx) => {
      const tx = trx.withTables<JobsTable>();
      let q = tx
        .selectFrom("jobs")
        .select(["id", "name", "stalls", "attempts", "lease_token"])
        .where("state", "=", "active")
        .where("lease_expires_at", "<", now)
        .limit(100);
      if (this.store.dialect === "postgres") q = q.forUpdate().skipLocked();
      const rows = await q.execute();
      const out: { id: string; name: string; error: JobError; attempts: number }[] = [];
      for (const row of rows) {
        const guard = tx
          .updateTable("jobs")
          .where("id", "=", row.id)
          .where("state", "=", "active")
          .where("lease_token", "=", row.lease_token);
        if (row.stalls + 1 > this.maxStalls) {
          const error: JobError = {
            code: "JOB_FAILED",
            message: `job ${row.id} was interrupted ${row.stalls + 1} times (its runner stopped renewing the lease)`,
            hint: "Check why the process running it died (memory, crash), or raise maxStalls.",
          };
          await guard
            .set({
              state: "failed",
              stalls: row.stalls + 1,
              error: JSON.stringify(error),
              finished_at: now,
              lease_owner: null,
              lease_token: null,
              lease_expires_at: null,
            })
            .execute();
          out.push({ id: row.id, name: row.name, error, attempts: row.attempts });
        } else {
          await guard
            .set({
              state: "queued",
              run_at: now,
              stalls: row.stalls + 1,
              lease_owner: null,
              lease_token: null,
              lease_expires_at: null,
            })
            .execute();
        }
      }
      return out;
    });
    for (const f of failed) this.emitter.emit("failed", f);
  }

  /** Whether a job of these names is due: the claim's own query, without its write lock. */
  private async anyDue(names: string[]): Promise<boolean> {
    const row = await this.db
      .selectFrom("jobs")
      .select("id")
      .where("state", "=", "queued")
      .where("run_at", "<=", Date.now())
      .where("name", "in", names)
      .orderBy("priority")
      .orderBy("run_at")
      .orderBy("seq")
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Remembers a future due time this runner wrote (a delay, a retry), to wake for it on time. */
  private dueAt(at: number): void {
    if (this.nextLocalDue === undefined || at < this.nextLocalDue) this.nextLocalDue = at;
    this.wake();
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.phase !== "running") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeup = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeup = done;
    });
  }

  private wake(): void {
    this.woken = true;
    this.idle = false;
    this.wakeup?.();
  }

  // ---- running one job ----------------------------------------------------------------

  private startJob(row: ClaimedRow): void {
    const reg = this.registry.get(row.name)!;
    const job: ActiveJob = {
      id: row.id,
      name: row.name,
      token: row.token,
      controller: new AbortController(),
      failures: row.failures,
      maxAttempts: row.max_attempts,
      attempt: row.attempts,
      pendingProgress: undefined,
      lastProgress: undefined,
      writingProgress: false,
    };
    this.active.set(job.id, job);
    this.activeByName.set(job.name, (this.activeByName.get(job.name) ?? 0) + 1);
    const progress = (input: ProgressInput) => {
      const p = normalizeProgress(input);
      if (job.controller.signal.aborted) return;
      job.lastProgress = p;
      this.emitter.emit("progress", { id: job.id, name: job.name, progress: p });
      job.pendingProgress = p;
      void this.flushProgress(job);
    };
    let data: unknown;
    try {
      data = JSON.parse(row.data);
    } catch {
      data = row.data;
    }
    const finished = runAttempt(reg, data, { jobId: job.id, attempt: job.attempt, progress }, job.controller)
      .then((outcome) => this.finish(job, reg, outcome))
      .catch((err) =>
        this.logger.error(
          { err, jobId: job.id },
          "could not record a job's outcome; its lease will expire and it will run again",
        ),
      )
      .finally(() => {
        this.active.delete(job.id);
        this.activeByName.set(job.name, (this.activeByName.get(job.name) ?? 1) - 1);
        this.finishing.delete(finished);
        this.wake();
      });
    this.finishing.add(finished);
  }

  private async flushProgress(job: ActiveJob): Promise<void> {
    if (job.writingProgress) return;
    job.writingProgress = true;
    try {
      while (job.pendingProgress) {
        const p = job.pendingProgress;
        job.pendingProgress = undefined;
        await this.updates.add({ id: job.id, token: job.token, set: { progress: JSON.stringify(p) } });
      }
    } catch (err) {
      this.logger.warn({ err, jobId: job.id }, "could not store a job's progress");
    } finally {
      job.writingProgress = false;
    }
  }

  private async finish(job: ActiveJob, reg: Registration, outcome: AttemptOutcome): Promise<void> {
    if (outcome.kind === "aborted") return; // cancelled or taken over: someone else wrote the state
    const now = Date.now();
    const release = { lease_owner: null, lease_token: null, lease_expires_at: null };
    const progress = job.lastProgress ? { progress: JSON.stringify(job.lastProgress) } : {};
    const write = (set: GuardedUpdate["set"]) => this.updates.add({ id: job.id, token: job.token, set });
    if (outcome.kind === "completed") {
      const won = await write({
        state: "completed",
        result: outcome.json ?? null,
        finished_at: now,
        ...progress,
        ...release,
      });
      if (won) this.emitter.emit("completed", { id: job.id, name: job.name, result: outcome.result });
      return;
    }
    const failures = job.failures + 1;
    const error = JSON.stringify(outcome.error);
    if (failures < job.maxAttempts) {
      const runAt = now + backoffDelay(reg.backoff, failures);
      if (
        await write({
          state: "queued",
          run_at: runAt,
          failures,
          error,
          ...progress,
          ...release,
        })
      ) {
        this.dueAt(runAt);
      }
      return;
    }
    const won = await write({ state: "failed", failures, error, finished_at: now, ...progress, ...release });
    if (won) {
      this.emitter.emit("failed", { id: job.id, name: job.name, error: outcome.error, attempts: job.attempt });
    }
  }

  /** Renews this runner's leases and aborts jobs it no longer holds (cancelled elsewhere, or taken over). */
  private async beat(): Promise<void> {
    if (this.heartbeatRunning || this.active.size === 0) return;
    this.heartbeatRunning = true;
    try {
      // Only jobs claimed before the renewal can be judged by its answer.
      const snapshot = [...this.active.values()];
      const held = await this.db
        .updateTable("jobs")
        .set({ lease_expires_at: Date.now() + this.leaseMs })
        .where("lease_owner", "=", this.owner)
        .where("state", "=", "active")
        // Only jobs still running here: one whose outcome could not be written must expire.
        .where(
          "id",
          "in",
          snapshot.map((j) => j.id),
        )
        .returning(["id", "lease_token"])
        .execute();
      const tokens = new Map(held.map((r) => [r.id, r.lease_token]));
      const lost = snapshot.filter((j) => tokens.get(j.id) !== j.token && this.active.get(j.id) === j);
      if (lost.length === 0) return;
      const states = await this.db
        .selectFrom("jobs")
        .select(["id", "state"])
        .where(
          "id",
          "in",
          lost.map((j) => j.id),
        )
        .execute();
      const stateOf = new Map(states.map((r) => [r.id, r.state]));
      for (const j of lost) {
        const reason =
          stateOf.get(j.id) === "cancelled"
            ? cancelledReason(j.id)
            : new QuintetError("CONFLICT", `job ${j.id} was taken over by another runner after its lease expired`);
        j.controller.abort(reason);
      }
    } catch (err) {
      this.logger.warn({ err }, "could not renew job leases; retrying");
    } finally {
      this.heartbeatRunning = false;
    }
  }

  private assertOpen(): void {
    if (this.phase === "stopping" || this.phase === "stopped") {
      throw new ConflictError("the job runner is stopped", { hint: "Create a new runner." });
    }
  }
}

function toInfo(row: JobRow): JobInfo {
  const state = STATES.has(row.state as JobState) ? (row.state as JobState) : "failed";
  return {
    id: row.id,
    name: row.name,
    data: parseJson(row.data),
    state,
    attempts: Number(row.attempts),
    priority: Number(row.priority),
    progress: row.progress ? (parseJson(row.progress) as JobProgress) : undefined,
    result: row.result === null ? undefined : parseJson(row.result),
    error: row.error ? (parseJson(row.error) as JobError) : undefined,
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? undefined : Number(row.started_at),
    finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new ValidationError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}
