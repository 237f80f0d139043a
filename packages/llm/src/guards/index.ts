export * from "./citations.js";
export * from "./injection.js";
export * from "./pii.js";
export * from "./risk.js";
export * from "./self-consistency.js";
export * from "./verdict.js";
