export * from "./matrix.js";
export * from "./reference.js";
export * from "./types.js";
