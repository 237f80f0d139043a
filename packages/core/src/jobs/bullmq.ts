import type { JobsLogger } from "./logger.js";
import type { JobRunner } from "./types.js";

export interface BullMqRunnerOptions {
  /** `redis://host:6379/db` or `rediss://…`. */
  redisUrl: string;
  /** Prefix of every Redis key (BullMQ's `prefix`); runners that share it share jobs. Default "quintet". */
  prefix?: string;
  /** Default concurrency per job name in this process (each name has its own BullMQ Worker). Default 4. */
  concurrency?: number;
  /** How long to try to reach Redis before failing with REDIS_UNAVAILABLE. Default 2000. */
  connectTimeoutMs?: number;
  /** BullMQ's lock duration: a dead worker's jobs are taken back after this long. Default 30000. */
  lockMs?: number;
  /** Times a job may be taken back from a dead worker before it fails (BullMQ's maxStalledCount). Default 1. */
  maxStalls?: number;
  /** How often `wait` re-reads a job, and workers re-check cancellation flags, besides Redis events. Default 500. */
  pollIntervalMs?: number;
  logger?: JobsLogger;
}

/**
 * Creates the job runner on BullMQ: one BullMQ queue per job name under `prefix`, one
 * Worker per name in every process that calls `start()`, QueueEvents for events.
 * Cancellation sets a flag in Redis (a waiting job is removed; an active one is told over
 * pub/sub, and its worker also re-checks the flag) so any process can cancel any job.
 * Fails at once with REDIS_UNAVAILABLE when Redis does not answer.
 *
 * @example
 * const runner = await createBullMqRunner({ redisUrl: "redis://127.0.0.1:6379", prefix: "myapp" });
 */
export async function createBullMqRunner(options: BullMqRunnerOptions): Promise<JobRunner> {
  // BullMQ and ioredis load only when a Redis runner is asked for: importing
  // @quintet/core (and every package on it) stays free of them.
  const { startBullMqRunner } = await import("./bullmq-runner.js");
  return startBullMqRunner(options);
}
