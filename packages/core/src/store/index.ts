export * from "./store.js";
export * from "./types.js";
