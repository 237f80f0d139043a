import { randomUUID } from "node:crypto";
import { type Job, Queue, QueueEvents, UnrecoverableError, Worker } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import { ConflictError, NotFoundError, QuintetError, UnavailableError, ValidationError } from "../errors/errors.js";
import { redact } from "../store/store.js";
import { backoffDelay, cancelledReason, normalizeProgress, runAttempt } from "./attempt.js";
import type { BullMqRunnerOptions } from "./bullmq.js";
import { JobEmitter, waitForJob } from "./events.js";
import { defaultJobsLogger, type JobsLogger } from "./logger.js";
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

const QUEUED_TYPES = ["waiting", "prioritized", "delayed", "paused", "waiting-children"] as const;
const FIX_REDIS =
  "Start Redis (redis-server) or fix QUINTET_REDIS_URL (redis://host:6379); unset it to use the in-process job runner.";

/** {@link createBullMqRunner}, loaded with BullMQ and ioredis on first use. */
export async function startBullMqRunner(options: BullMqRunnerOptions): Promise<JobRunner> {
  const connectTimeout = options.connectTimeoutMs ?? 2000;
  const probe = new Redis({
    ...redisOptionsFromUrl(options.redisUrl),
    lazyConnect: true,
    connectTimeout,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  probe.on("error", () => {
    // Reported through connect()/ping() below.
  });
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    probe.disconnect();
    throw new UnavailableError(
      "REDIS_UNAVAILABLE",
      `cannot reach Redis at ${redact(options.redisUrl)}: ${(err as Error).message || String(err)}`,
      { hint: FIX_REDIS, cause: err },
    );
  }
  probe.disconnect();
  return new BullMqRunner(options, connectTimeout);
}

interface Flag {
  at: number;
  /** Kept for jobs removed from their queue when cancelled, so `get` still answers. */
  snapshot?: JobInfo;
}

class BullMqRunner implements JobRunner {
  readonly kind = "bullmq" as const;
  private readonly registry = new Map<string, Registration>();
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Map<string, Worker>();
  private readonly events = new Map<string, Promise<QueueEvents>>();
  private readonly local = new Map<string, AbortController>();
  private readonly emitter: JobEmitter;
  private readonly logger: JobsLogger;
  private readonly prefix: string;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  /** Our own commands (id index, cancellation flags): fail fast rather than queue while Redis is away. */
  private readonly client: Redis;
  /**
   * BullMQ pins its own ioredis release, so it gets connection options, not our client, and
   * opens (and closes) its connections itself.
   */
  private readonly connection: RedisOptions;
  private subscriber: Promise<Redis> | undefined;
  private flagCheck: NodeJS.Timeout | undefined;
  private eventsWanted = false;
  private phase: "idle" | "running" | "stopped" = "idle";
  private stopping: Promise<void> | undefined;
  private readonly keys: { ids: string; flags: string; channel: string };

  constructor(
    private readonly options: BullMqRunnerOptions,
    private readonly connectTimeout: number,
  ) {
    this.prefix = options.prefix ?? "quintet";
    if (!/^[A-Za-z0-9_.-]+$/.test(this.prefix)) {
      throw new ValidationError(`invalid BullMQ prefix "${this.prefix}"`, {
        hint: "Use letters, digits, '_', '-' or '.'.",
      });
    }
    this.concurrency = options.concurrency ?? 4;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.logger = options.logger ?? defaultJobsLogger();
    this.emitter = new JobEmitter((err, event) =>
      this.logger.error({ err, event }, "a job event listener threw; the runner carries on"),
    );
    // "~" cannot occur in a job name, so these never collide with a queue's own keys.
    this.keys = {
      ids: `${this.prefix}:~jobs:ids`,
      flags: `${this.prefix}:~jobs:cancelled`,
      channel: `${this.prefix}:~jobs:cancel`,
    };
    this.client = this.redis({ maxRetriesPerRequest: 1 });
    this.connection = {
      ...redisOptionsFromUrl(options.redisUrl),
      connectTimeout,
      retryStrategy: (times: number) => Math.min(times * 200, 2000),
    };
  }

  private redis(extra: RedisOptions): Redis {
    const client = new Redis({
      ...redisOptionsFromUrl(this.options.redisUrl),
      connectTimeout: this.connectTimeout,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      ...extra,
    });
    client.on("error", (err) => this.logger.warn({ err: String(err) }, "Redis connection error"));
    return client;
  }

  register(name: string, handler: JobHandler<any, unknown>, options?: RegisterOptions): void {
    this.assertOpen();
    if (this.registry.has(name)) {
      throw new ConflictError(`job type "${name}" is already registered`, {
        hint: "Register each job name once per runner.",
      });
    }
    this.registry.set(name, parseRegistration(name, handler, options));
    if (this.eventsWanted) void this.queueEvents(name).catch(() => {});
    if (this.phase === "running") this.startWorker(name);
  }

  async enqueue(name: string, data: unknown, options?: EnqueueOptions): Promise<string> {
    this.assertOpen();
    const reg = requireRegistration(this.registry, name);
    const opts = parseEnqueueOptions(name, options);
    const { value } = validateData(reg, data);
    const id = opts.jobId ?? randomUUID();
    return this.redisCall(async () => {
      // Listeners registered before this call must hear about this job.
      if (this.eventsWanted) await this.queueEvents(name);
      // The id index makes ids unique across names (each name is its own BullMQ queue).
      const fresh = await this.client.hsetnx(this.keys.ids, id, name);
      if (!fresh) {
        const owner = await this.client.hget(this.keys.ids, id);
        if (owner !== name) {
          throw new ConflictError(`job id "${id}" is already used by a "${owner}" job`, {
            hint: "Use job ids that are unique across job names (e.g. prefix them with the name).",
          });
        }
        // A cancelled job that was removed from its queue must not come back.
        if (await this.client.hexists(this.keys.flags, id)) return id;
      }
      // BullMQ ignores an id it already holds, so a retried enqueue after a crash is safe.
      await this.queue(name).add(name, value, {
        jobId: id,
        ...(opts.delayMs ? { delay: opts.delayMs } : {}),
        ...(opts.priority ? { priority: opts.priority } : {}),
        attempts: reg.attempts,
        backoff: { type: "quintet" },
      });
      return id;
    });
  }

  async get(id: string): Promise<JobInfo | undefined> {
    this.assertOpen();
    return this.redisCall(async () => {
      const name = await this.client.hget(this.keys.ids, id);
      if (!name) return undefined;
      // State before contents: BullMQ finishes a job atomically, so a job read after its state
      // is at least that far along (a "completed" read always finds the return value).
      const state = await this.queue(name).getJobState(id);
      const [job, flagText] = await Promise.all([this.queue(name).getJob(id), this.client.hget(this.keys.flags, id)]);
      const flag = flagText ? (JSON.parse(flagText) as Flag) : undefined;
      if (!job) return flag?.snapshot;
      return toInfo(job, state, flag);
    });
  }

  async wait(id: string, options?: WaitOptions): Promise<JobInfo> {
    this.assertOpen();
    await this.wantEvents();
    return waitForJob(id, options, (x) => this.get(x), this.emitter, this.pollIntervalMs);
  }

  async cancel(id: string): Promise<boolean> {
    this.assertOpen();
    return this.redisCall(async () => {
      const name = await this.client.hget(this.keys.ids, id);
      if (!name) throw new NotFoundError(`job ${id} does not exist`, { hint: "Check the id returned by enqueue()." });
      const job = await this.queue(name).getJob(id);
      if (!job) return false; // already cancelled and removed
      const state = await job.getState();
      if (state === "completed" || state === "failed") return false;
      const at = Date.now();
      // The flag goes first: a worker that picks the job up from now on sees it before running.
      if (!(await this.client.hsetnx(this.keys.flags, id, JSON.stringify({ at } satisfies Flag)))) return false;
      if (state !== "active") {
        const snapshot = toInfo(job, state, { at });
        try {
          await job.remove();
          await this.client.hset(this.keys.flags, id, JSON.stringify({ at, snapshot } satisfies Flag));
        } catch {
          // It became active meanwhile (BullMQ refuses to remove a locked job): its worker aborts it.
        }
      } else if ((await job.getState()) === "completed") {
        // It completed between our read and the flag; a completed job stays completed.
        await this.client.hdel(this.keys.flags, id);
        return false;
      }
      await this.client.publish(this.keys.channel, JSON.stringify({ id, name }));
      return true;
    });
  }

  on<E extends JobEventName>(event: E, listener: (event: JobEvents[E]) => void): () => void {
    this.assertOpen();
    const off = this.emitter.on(event, listener);
    void this.wantEvents().catch((err) => this.logger.warn({ err }, "could not subscribe to job events"));
    return off;
  }

  async list(options?: ListOptions): Promise<JobInfo[]> {
    this.assertOpen();
    const o = parseListOptions(options);
    const names = o.name ? [o.name] : [...this.registry.keys()];
    return this.redisCall(async () => {
      const types: { type: (typeof QUEUED_TYPES)[number] | "active" | "completed" | "failed"; state: JobState }[] = [
        ...QUEUED_TYPES.map((type) => ({ type, state: "queued" as JobState })),
        { type: "active", state: "active" },
        { type: "completed", state: "completed" },
        { type: "failed", state: "failed" },
      ];
      const wanted = types.filter(({ state }) =>
        o.state === undefined
          ? true
          : o.state === "cancelled"
            ? state === "active" || state === "failed"
            : state === o.state,
      );
      const out: JobInfo[] = [];
      for (const name of names) {
        for (const { type } of wanted) {
          const jobs = (await this.queue(name).getJobs([type], 0, o.limit - 1, false)) as Job[];
          if (jobs.length === 0) continue;
          const flags = await this.client.hmget(this.keys.flags, ...jobs.map((j) => j.id!));
          jobs.forEach((job, i) => {
            const flagText = flags[i];
            out.push(toInfo(job, type, flagText ? (JSON.parse(flagText) as Flag) : undefined));
          });
        }
      }
      if (o.state === undefined || o.state === "cancelled") {
        const all = await this.client.hvals(this.keys.flags);
        for (const text of all) {
          const snap = (JSON.parse(text) as Flag).snapshot;
          if (snap && names.includes(snap.name)) out.push(snap);
        }
      }
      return out
        .filter((j) => o.state === undefined || j.state === o.state)
        .sort((a, b) => b.createdAt - a.createdAt)
        .slice(0, o.limit);
    });
  }

  async start(): Promise<void> {
    this.assertOpen();
    if (this.phase === "running") return;
    this.phase = "running";
    await this.redisCall(() => this.subscribe());
    for (const name of this.registry.keys()) this.startWorker(name);
    // Pub/sub is fire-and-forget; this catches a cancellation whose message was missed.
    this.flagCheck = setInterval(() => void this.checkFlags(), this.pollIntervalMs);
  }

  stop(options?: StopOptions): Promise<void> {
    this.stopping ??= this.shutdown(options?.drain === true);
    return this.stopping;
  }

  private async shutdown(drain: boolean): Promise<void> {
    if (this.phase === "running" && drain) {
      for (;;) {
        const counts = await Promise.all(
          [...this.workers.keys()].map((n) => this.queue(n).getJobCounts("wait", "prioritized", "paused")),
        );
        const due = counts.reduce((s, c) => s + (c.wait ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0), 0);
        if (due === 0 && this.local.size === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.phase = "stopped";
    if (this.flagCheck) clearInterval(this.flagCheck);
    const workers = [...this.workers.values()];
    const queues = [...this.queues.values()];
    const events = (await Promise.all([...this.events.values()].map((p) => p.catch(() => undefined)))).filter(
      (e): e is QueueEvents => e !== undefined,
    );
    // A graceful close sends QUIT and waits for the answer, forever if Redis is gone: then
    // the connections are cut instead (active jobs are left for BullMQ's stalled-job check).
    const redisLost = () => this.client.status !== "ready";
    const bounded = (p: Promise<unknown> | undefined) => Promise.race([p?.catch(() => {}), sleep(1000)]);
    const force = () =>
      Promise.all([
        ...workers.map((w) => bounded(w.close(true))),
        ...workers.map((w) => bounded(blockingOf(w)?.disconnect(false))),
        ...workers.map((w) => bounded(w.disconnect())),
        ...events.map((e) => bounded(e.disconnect())),
        ...queues.map((q) => bounded(q.disconnect())),
      ]);
    if (redisLost()) {
      await force();
    } else {
      const graceful = (async () => {
        // Worker.close waits for the jobs it is running.
        await Promise.all(workers.map((w) => w.close()));
        await Promise.all(events.map((e) => e.close()));
        await Promise.all(queues.map((q) => q.close()));
      })();
      let watch: NodeJS.Timeout | undefined;
      const lost = new Promise<void>((resolve) => {
        watch = setInterval(() => {
          if (redisLost()) resolve();
        }, 200);
      });
      const forced = await Promise.race([graceful.then(() => false), lost.then(() => true)]);
      clearInterval(watch);
      if (forced) {
        await force();
        await bounded(graceful);
      }
    }
    const sub = await this.subscriber?.catch(() => undefined);
    for (const c of [this.client, ...(sub ? [sub] : [])]) c.disconnect();
  }

  // ---- plumbing ---------------------------------------------------------------------

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: { ...this.connection, maxRetriesPerRequest: 1 }, prefix: this.prefix });
      q.on("error", (err) => this.logger.warn({ err: String(err), queue: name }, "BullMQ queue error"));
      this.queues.set(name, q);
    }
    return q;
  }

  private startWorker(name: string): void {
    if (this.workers.has(name)) return;
    const reg = this.registry.get(name)!;
    const worker = new Worker(name, (job: Job) => this.process(job), {
      connection: this.connection,
      prefix: this.prefix,
      concurrency: reg.concurrency ?? this.concurrency,
      lockDuration: this.options.lockMs ?? 30_000,
      maxStalledCount: this.options.maxStalls ?? 1,
      settings: {
        // The worker's registration decides the delay, like the in-process runner.
        backoffStrategy: (attemptsMade: number, _type?: string, _err?: Error, job?: { name: string }) =>
          backoffDelay((this.registry.get(job?.name ?? name) ?? reg).backoff, attemptsMade),
      },
    });
    worker.on("error", (err) => this.logger.warn({ err: String(err), queue: name }, "BullMQ worker error"));
    this.workers.set(name, worker);
  }

  private async process(job: Job): Promise<unknown> {
    const id = job.id!;
    const reg = this.registry.get(job.name);
    if (!reg) throw new UnrecoverableError(encodeError({ code: "NOT_FOUND", message: `no handler for "${job.name}"` }));
    const controller = new AbortController();
    // Registered before the flag check, so a cancel message arriving meanwhile finds it.
    this.local.set(id, controller);
    try {
      if (await this.client.hexists(this.keys.flags, id)) throw cancelledError(id);
      const progress = (input: ProgressInput) => {
        const p = normalizeProgress(input);
        if (controller.signal.aborted) return;
        job.updateProgress(p as unknown as object).catch((err) => {
          this.logger.warn({ err: String(err), jobId: id }, "could not store a job's progress");
        });
      };
      const outcome = await runAttempt(
        reg,
        job.data,
        { jobId: id, attempt: job.attemptsStarted || 1, progress },
        controller,
      );
      if (outcome.kind === "completed") {
        if (await this.client.hexists(this.keys.flags, id)) throw cancelledError(id);
        return outcome.result;
      }
      if (outcome.kind === "failed") throw new Error(encodeError(outcome.error));
      throw cancelledError(id);
    } finally {
      this.local.delete(id);
    }
  }

  private subscribe(): Promise<Redis> {
    this.subscriber ??= (async () => {
      const sub = this.redis({ maxRetriesPerRequest: null });
      sub.on("message", (_channel: string, message: string) => {
        let msg: { id: string; name: string };
        try {
          msg = JSON.parse(message);
        } catch {
          return;
        }
        this.local.get(msg.id)?.abort(cancelledReason(msg.id));
        this.emitter.emit("cancelled", { id: msg.id, name: msg.name });
      });
      await sub.subscribe(this.keys.channel);
      return sub;
    })();
    return this.subscriber;
  }

  private async wantEvents(): Promise<void> {
    this.eventsWanted = true;
    await this.subscribe();
    await Promise.all([...this.registry.keys()].map((n) => this.queueEvents(n)));
  }

  private queueEvents(name: string): Promise<QueueEvents> {
    let p = this.events.get(name);
    if (!p) {
      p = (async () => {
        // Start right after the newest event, so nothing between now and the first read is lost.
        const last = await this.client.xrevrange(`${this.prefix}:${name}:events`, "+", "-", "COUNT", 1);
        const qe = new QueueEvents(name, {
          connection: this.connection,
          prefix: this.prefix,
          lastEventId: last[0]?.[0] ?? "0-0",
        });
        qe.on("error", (err) => this.logger.warn({ err: String(err), queue: name }, "BullMQ events error"));
        qe.on("progress", ({ jobId, data }) => {
          if (isProgress(data)) this.emitter.emit("progress", { id: jobId, name, progress: data });
        });
        qe.on("completed", ({ jobId, returnvalue }) => {
          this.emitter.emit("completed", { id: jobId, name, result: returnvalue });
        });
        qe.on("failed", ({ jobId, failedReason }) => {
          void (async () => {
            // A cancelled active job ends as failed in BullMQ; its `cancelled` event was already sent.
            if (await this.client.hexists(this.keys.flags, jobId)) return;
            const job = await this.queue(name).getJob(jobId);
            this.emitter.emit("failed", {
              id: jobId,
              name,
              error: decodeError(failedReason),
              attempts: job?.attemptsStarted ?? 0,
            });
          })().catch((err) => this.logger.warn({ err: String(err) }, "could not report a failed job"));
        });
        await qe.waitUntilReady();
        return qe;
      })();
      this.events.set(name, p);
      p.catch(() => this.events.delete(name));
    }
    return p;
  }

  private async checkFlags(): Promise<void> {
    if (this.local.size === 0) return;
    const ids = [...this.local.keys()];
    try {
      const flags = await this.client.hmget(this.keys.flags, ...ids);
      ids.forEach((id, i) => {
        if (flags[i]) this.local.get(id)?.abort(cancelledReason(id));
      });
    } catch (err) {
      this.logger.warn({ err: String(err) }, "could not check cancellation flags");
    }
  }

  /** Runs a Redis round trip, turning a lost connection into REDIS_UNAVAILABLE. */
  private async redisCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof QuintetError) throw err;
      const message = (err as Error)?.message ?? String(err);
      if (
        /ECONNREFUSED|ETIMEDOUT|ENOTFOUND|Connection is closed|Stream isn't writeable|max retries|connect/i.test(
          message,
        )
      ) {
        throw new UnavailableError(
          "REDIS_UNAVAILABLE",
          `Redis at ${redact(this.options.redisUrl)} is not answering: ${message}`,
          {
            hint: FIX_REDIS,
            cause: err,
          },
        );
      }
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.phase === "stopped" || this.stopping) {
      throw new ConflictError("the job runner is stopped", { hint: "Create a new runner." });
    }
  }
}

function cancelledError(id: string): UnrecoverableError {
  const reason = cancelledReason(id);
  return new UnrecoverableError(encodeError({ code: reason.code, message: reason.message }));
}

/** BullMQ keeps only a failure's message; ours carries the code and hint as JSON. */
function encodeError(error: JobError): string {
  return JSON.stringify(error);
}

function decodeError(text: string): JobError {
  try {
    const e = JSON.parse(text) as JobError;
    if (e && typeof e.code === "string" && typeof e.message === "string") return e;
  } catch {
    // BullMQ's own reasons (e.g. a stalled job) are plain text.
  }
  return { code: "JOB_FAILED", message: text };
}

function isProgress(p: unknown): p is JobProgress {
  return typeof p === "object" && p !== null && typeof (p as JobProgress).fraction === "number";
}

function toInfo(job: Job, bullState: string, flag: Flag | undefined): JobInfo {
  let state: JobState =
    bullState === "active"
      ? "active"
      : bullState === "completed"
        ? "completed"
        : bullState === "failed"
          ? "failed"
          : "queued";
  // A completed job stays completed even if a cancel raced with its last instant.
  if (flag && state !== "completed") state = "cancelled";
  const finishedAt = job.finishedOn ?? (state === "cancelled" ? flag?.at : undefined);
  return {
    id: job.id!,
    name: job.name,
    data: job.data,
    state,
    attempts: job.attemptsStarted ?? 0,
    priority: job.priority ?? 0,
    progress: isProgress(job.progress) ? job.progress : undefined,
    result: state === "completed" ? (job.returnvalue ?? undefined) : undefined,
    // The CANCELLED "failure" is how BullMQ ends a cancelled active job; the state already says so.
    error: job.failedReason && state !== "cancelled" ? decodeError(job.failedReason) : undefined,
    createdAt: job.timestamp,
    startedAt: job.processedOn ?? undefined,
    finishedAt: finishedAt ?? undefined,
  };
}

/** ioredis options for a `redis://` / `rediss://` URL (user, password, host, port, db number). */
export function redisOptionsFromUrl(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ValidationError(`invalid Redis URL "${redact(url)}"`, { hint: FIX_REDIS });
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new ValidationError(`invalid Redis URL "${redact(url)}": expected redis:// or rediss://`, {
      hint: FIX_REDIS,
    });
  }
  const db = u.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d+$/.test(db)) {
    throw new ValidationError(`invalid Redis URL "${redact(url)}": the path must be a database number`, {
      hint: "Write the database as redis://host:6379/15.",
    });
  }
  return {
    host: u.hostname || "127.0.0.1",
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** BullMQ keeps a Worker's blocking connection private; a forced stop must cut it too. */
function blockingOf(worker: Worker): { disconnect(wait: boolean): Promise<void> } | undefined {
  return (worker as unknown as { blockingConnection?: { disconnect(wait: boolean): Promise<void> } })
    .blockingConnection;
}
