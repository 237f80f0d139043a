/**
 * @quintet/ml: tree models, metrics, model interop; data, features, evaluation, tuning
 * and explanations.
 */

export * from "./bundle/index.js";
export * from "./data/index.js";
export * from "./datasets/index.js";
export * from "./eval/index.js";
export * from "./explain/index.js";
export * from "./features/index.js";
export * from "./interop/index.js";
export * from "./metrics/index.js";
export * from "./models/ensemble/index.js";
export * from "./models/forest/index.js";
export * from "./models/gbdt/index.js";
export * from "./models/linear/index.js";
export * from "./models/predict/index.js";
export * from "./tune/index.js";
