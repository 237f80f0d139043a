/**
 * @quintet/platform: experiment tracking and the model registry (deploy, serve, monitor,
 * gateway, evals and workflows come next).
 */
export * from "./registry/index.js";
export * from "./tracking/index.js";
