export * from "./injection.js";
export * from "./pii.js";
