export { type ForestFitOptions, RandomForestClassifier, RandomForestRegressor } from "./estimators.js";
export {
  type ForestModel,
  type ForestOptions,
  type ForestParams,
  type ForestProgress,
  forestParamsSchema,
  type ResolvedForestParams,
  trainForest,
} from "./train.js";
