import type { z } from "zod";
import type { ErrorCode } from "../errors/errors.js";

/** Where a job is in its life. `queued` includes delayed jobs and jobs waiting for a retry. */
export type JobState = "queued" | "active" | "completed" | "failed" | "cancelled";

/** The states a job never leaves. */
export const TERMINAL_STATES: readonly JobState[] = ["completed", "failed", "cancelled"];

/** How far a job has got, as last reported by its handler. */
export interface JobProgress {
  /** 0..1 */
  fraction: number;
  done?: number;
  total?: number;
  message?: string;
}

/** What a handler may report: a fraction in 0..1, or counts (the fraction is `done / total`). */
export type ProgressInput = number | { done: number; total: number; message?: string };

/** The error a failed (or failing and retried) attempt left, as stored. */
export interface JobError {
  code: ErrorCode;
  message: string;
  hint?: string;
}

/** A snapshot of one job. */
export interface JobInfo<TResult = unknown> {
  id: string;
  name: string;
  data: unknown;
  state: JobState;
  /** Handler runs started so far, including a run cut short by a crash. */
  attempts: number;
  /** The most urgent is 0 (the default); larger numbers run later. */
  priority: number;
  progress: JobProgress | undefined;
  /** The handler's return value once `completed`. */
  result: TResult | undefined;
  /** The last attempt's error (kept while the job waits for a retry). */
  error: JobError | undefined;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Start of the latest attempt. */
  startedAt: number | undefined;
  /** When the job reached a terminal state. */
  finishedAt: number | undefined;
}

/** What a handler receives next to its data. */
export interface JobContext {
  jobId: string;
  /** 1 on the first run, 2 on the first retry (or the first run after a crash), … */
  attempt: number;
  /**
   * Aborted when the job is cancelled, times out, or the runner loses the job (its lease
   * expired and another runner took it). The abort reason is a CancelledError or a TimeoutError.
   * A handler should stop promptly: the runner stops waiting for it and frees the slot.
   */
  signal: AbortSignal;
  /** Reports progress; listeners of `progress` hear it and `get(id).progress` returns the latest. */
  progress(progress: ProgressInput): void;
}

export type JobHandler<TData = unknown, TResult = unknown> = (data: TData, ctx: JobContext) => Promise<TResult>;

/** Retry delays grow as `baseMs * 2^(n-1)`, capped at `maxMs`, and are drawn from its upper half when `jitter`. */
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  jitter?: boolean;
}

export interface RegisterOptions<TSchema extends z.ZodType = z.ZodType> {
  /** Jobs of this name that one runner runs at once (in-process: also capped by the runner's `concurrency`). */
  concurrency?: number;
  /** Handler runs that may fail before the job fails (1 = no retry). Default 1. */
  attempts?: number;
  backoff?: BackoffOptions;
  /** Each attempt fails with TIMEOUT (and its signal aborts) after this long. */
  timeoutMs?: number;
  /** Validates (and may transform) data at enqueue; bad data is refused with a ValidationError. */
  schema?: TSchema;
}

export interface EnqueueOptions {
  /**
   * Idempotency key: enqueueing an id that exists returns it and changes nothing, whatever
   * state the job is in. Letters, digits, `_`, `-`, `.`; not all digits. Default: a random UUID.
   */
  jobId?: string;
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** 0 (default, most urgent) … 2097152; jobs of equal priority run in enqueue order. */
  priority?: number;
}

export interface ListOptions {
  name?: string;
  state?: JobState;
  /** Most recent first; default 100. */
  limit?: number;
}

export interface WaitOptions {
  /** Give up with a TimeoutError after this long (the job keeps going). Default: wait as long as it takes. */
  timeoutMs?: number;
}

export interface StopOptions {
  /** Keep running until no due job is left, then stop. Default false: finish only the active jobs. */
  drain?: boolean;
}

export interface JobEvents {
  progress: { id: string; name: string; progress: JobProgress };
  completed: { id: string; name: string; result: unknown };
  /** The job failed for good (no retry left). */
  failed: { id: string; name: string; error: JobError; attempts: number };
  cancelled: { id: string; name: string };
}

export type JobEventName = keyof JobEvents;

/**
 * One job runner, two implementations: in-process on the store ({@link createInProcessRunner})
 * and BullMQ on Redis ({@link createBullMqRunner}). Register handlers, enqueue jobs anywhere,
 * and `start()` the processes that should run them.
 */
export interface JobRunner {
  readonly kind: "in-process" | "bullmq";
  /**
   * Declares a job type. A process must register a name to enqueue it (data is validated
   * there against `options.schema`, which also types the handler's data) and to run it.
   */
  register<TSchema extends z.ZodType, TResult = unknown>(
    name: string,
    handler: JobHandler<z.output<TSchema>, TResult>,
    options: RegisterOptions<TSchema> & { schema: TSchema },
  ): void;
  /** Declares a job type whose data is not validated (the handler's data type is the caller's word). */
  register<TData = unknown, TResult = unknown>(
    name: string,
    handler: JobHandler<TData, TResult>,
    options?: Omit<RegisterOptions, "schema"> & { schema?: undefined },
  ): void;
  /** Adds a job and returns its id. */
  enqueue(name: string, data: unknown, options?: EnqueueOptions): Promise<string>;
  /** The job's current snapshot, or undefined when no such job exists. */
  get(id: string): Promise<JobInfo | undefined>;
  /** Resolves with the job's snapshot once it is completed, failed or cancelled. */
  wait(id: string, options?: WaitOptions): Promise<JobInfo>;
  /**
   * Cancels a queued job at once, or an active one (its signal aborts and its state becomes
   * `cancelled`; whatever the handler returns afterwards is discarded). Resolves to false when
   * the job had already finished.
   */
  cancel(id: string): Promise<boolean>;
  /** Subscribes to events; returns the unsubscribe function. */
  on<E extends JobEventName>(event: E, listener: (event: JobEvents[E]) => void): () => void;
  list(options?: ListOptions): Promise<JobInfo[]>;
  /** Starts running registered jobs in this process. */
  start(): Promise<void>;
  /** Stops taking jobs, waits for the active ones (see {@link StopOptions}) and releases connections. */
  stop(options?: StopOptions): Promise<void>;
}
