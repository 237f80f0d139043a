import { createLogger } from "../logging/logger.js";

/** The part of a pino logger the runners use for trouble they cannot hand to a caller. */
export interface JobsLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

let fallback: JobsLogger | undefined;

/** Background failures (a poll that could not reach the store, a throwing listener) go to stderr by default. */
export function defaultJobsLogger(): JobsLogger {
  fallback ??= createLogger({ name: "jobs", level: "warn", destination: 2 });
  return fallback;
}
