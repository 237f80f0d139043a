/**
 * @quintet/platform: experiment tracking, the model registry and the tabular training
 * workflow (deploy, serve, monitor, gateway, evals and workflows come next).
 */
export * from "./registry/index.js";
export * from "./tools/index.js";
export * from "./tracking/index.js";
export * from "./training/index.js";
