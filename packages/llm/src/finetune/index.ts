export * from "./adapters.js";
export * from "./dataset.js";
export * from "./jobs.js";
export * from "./lora-config.js";
export * from "./prepare.js";
export * from "./validate.js";
