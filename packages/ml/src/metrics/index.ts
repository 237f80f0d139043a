export * from "./business.js";
export * from "./calibration.js";
export * from "./classification.js";
export * from "./registry.js";
export * from "./regression.js";
export type { Weights } from "./validate.js";
