export type { BinLayout, BinnedMatrix, FeatureBins } from "./binning.js";
export { GbdtClassifier, GbdtRegressor } from "./estimators.js";
export { featureImportance, type ImportanceType } from "./importance.js";
export { OBJECTIVE_NAMES, type ObjectiveName } from "./objectives.js";
export {
  type GbdtOptions,
  type GbdtParams,
  type GbdtProgress,
  gbdtParamsSchema,
  type ResolvedGbdtParams,
} from "./options.js";
export { type GbdtModel, trainGbdt } from "./train.js";
