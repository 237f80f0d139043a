export type { Evaluation } from "./evaluate.js";
export { evaluateModel } from "./evaluate.js";
export { writeTrainingReport } from "./report.js";
export * from "./train-table.js";
export type { TrainTuneOptions, TrialEvent, TuningSummary } from "./tune-step.js";
