export * from "./model-tool.js";
