export * from "./embeddings/index.js";
export * from "./finetune/index.js";
export * from "./guards/index.js";
export * from "./prompts/index.js";
export * from "./providers/local/index.js";
export * from "./testing/fake-openai/index.js";
export * from "./testing/gguf/index.js";
export * from "./text/index.js";
