/** Durable runs: every step checkpointed in the store, resume after a crash, replay step by step. */
export { EventChannel } from "./channel.js";
export {
  type RunContext,
  type RunHandle,
  type RunOptions,
  type RunSpec,
  type RunSummary,
  startRun,
} from "./driver.js";
export type {
  EventMeta,
  PlannedTask,
  RecordedError,
  RunEvent,
  RunEventBody,
  RunEventType,
  ToolStatus,
} from "./events.js";
export { usageOf } from "./events.js";
export { type Journal, type JournalEntry, type RecordedEvent, RunJournal } from "./journal.js";
export { loadRun, type ReplayStep, replayRun } from "./replay.js";
export {
  type CreateRunInput,
  type FinishRunInput,
  type RunKind,
  type RunRecord,
  type RunStatus,
  RunStore,
  type StepRecord,
} from "./run-store.js";
export { type RunTables, runMigrations } from "./tables.js";
