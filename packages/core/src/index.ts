/**
 * @quintet/core: configuration, the state store and its migrations, typed errors,
 * tracing, content-addressed artifacts and the job runner.
 */
export * from "./artifacts/index.js";
export * from "./config/index.js";
export * from "./errors/index.js";
export * from "./jobs/index.js";
export * from "./logging/index.js";
export * from "./process/index.js";
export * from "./report/index.js";
export * from "./store/index.js";
export * from "./tracing/index.js";
