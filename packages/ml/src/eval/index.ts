export * from "./cross-validate.js";
export * from "./splits.js";
