import { ConfigError } from "../errors/errors.js";
import { Store } from "../store/store.js";
import { createBullMqRunner } from "./bullmq.js";
import { createInProcessRunner } from "./in-process.js";
import type { JobsLogger } from "./logger.js";
import type { JobRunner } from "./types.js";

/** The parts of the resolved {@link QuintetConfig} the job runner reads. */
export interface JobRunnerConfig {
  redis: { url: string | undefined };
  jobs?: { concurrency?: number };
  /** Needed only when no store is passed and jobs run in-process. */
  db?: { url: string };
  cwd?: string;
}

export interface CreateJobRunnerOptions {
  /** The store for in-process jobs; when omitted one is opened from `config.db.url` and closed by `stop()`. */
  store?: Store;
  /** BullMQ key prefix. Default "quintet". */
  prefix?: string;
  logger?: JobsLogger;
}

/**
 * The job runner the configuration asks for: BullMQ when `redis.url` is set
 * (QUINTET_REDIS_URL), otherwise the in-process runner on the store.
 *
 * @example
 * const config = loadConfig();
 * const runner = await createJobRunner(config, { store });
 */
export async function createJobRunner(
  config: JobRunnerConfig,
  options: CreateJobRunnerOptions = {},
): Promise<JobRunner> {
  const concurrency = config.jobs?.concurrency;
  if (config.redis.url) {
    return createBullMqRunner({
      redisUrl: config.redis.url,
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }
  let store = options.store;
  const ownsStore = !store;
  if (!store) {
    if (!config.db?.url) {
      throw new ConfigError("the in-process job runner needs a store, and the config names no db.url", {
        hint: "Pass { store } to createJobRunner, or load the config with loadConfig() so db.url is set.",
      });
    }
    store = await Store.open({ url: config.db.url, ...(config.cwd ? { cwd: config.cwd } : {}) });
  }
  try {
    return await createInProcessRunner({
      store,
      ownsStore,
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  } catch (err) {
    if (ownsStore) await store.close();
    throw err;
  }
}
