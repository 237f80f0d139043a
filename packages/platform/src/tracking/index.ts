export * from "./tracker.js";
