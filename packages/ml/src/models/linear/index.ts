export { fitLinear, LinearModel, type LinearModelState } from "./linear-model.js";
export { fitLogistic, LogisticModel, type LogisticModelState } from "./logistic-model.js";
export type { LinearFitInfo, LinearModelJSON, LinearParams, LogisticModelJSON } from "./model-json.js";
export type { LinearOptions, LogisticOptions } from "./options.js";
