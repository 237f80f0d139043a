export * from "./covers.js";
export * from "./explain-rows.js";
export * from "./lineage.js";
export * from "./permutation.js";
export * from "./reasons.js";
export * from "./summary.js";
export * from "./tree-shap.js";
