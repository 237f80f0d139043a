export * from "./reference.js";
export * from "./types.js";
