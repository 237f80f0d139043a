export { backoffDelay } from "./attempt.js";
export { type BullMqRunnerOptions, createBullMqRunner } from "./bullmq.js";
export { type CreateJobRunnerOptions, createJobRunner, type JobRunnerConfig } from "./create.js";
export { createInProcessRunner, type InProcessRunnerOptions } from "./in-process.js";
export type { JobsLogger } from "./logger.js";
export { MAX_PRIORITY } from "./options.js";
export type {
  BackoffOptions,
  EnqueueOptions,
  JobContext,
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
export { TERMINAL_STATES } from "./types.js";
