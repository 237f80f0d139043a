export * from "./providers/local/index.js";
export * from "./testing/gguf/index.js";
