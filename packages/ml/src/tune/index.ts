export {
  CV_TUNING_MAX_ROWS,
  type GbdtObjectiveOptions,
  gbdtObjective,
  gbdtSearchSpace,
  tuningFolds,
} from "./gbdt-objective.js";
export {
  type ObjectiveOutcome,
  type ObjectiveRunner,
  type ReportFn,
  TrialPruned,
  type WorkerObjective,
} from "./objective.js";
export {
  type Curve,
  NoPruner,
  type Pruner,
  type PrunerSpec,
  SuccessiveHalvingPruner,
} from "./pruner.js";
export { RandomSampler, type Sampler, type SamplerSpec, TpeSampler } from "./samplers.js";
export {
  type CategoricalParam,
  categoricalParam,
  type FloatParam,
  floatParam,
  type IntParam,
  intParam,
  type ParamSpec,
  type Params,
  type ParamValue,
  parseSearchSpace,
  type SearchSpace,
} from "./space.js";
export { tuneMigrations } from "./storage.js";
export {
  type ObjectiveFunction,
  type OpenStudyOptions,
  type OptimizeOptions,
  type OptimizeResult,
  openStudy,
  Study,
  type Trial,
} from "./study.js";
export type { Direction, TrialRecord, TrialState } from "./types.js";
