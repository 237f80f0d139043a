/**
 * @quintet/agents: agents with roles, tools, memory and policies; teams that plan, delegate,
 * check each other and recover; tool orchestration (typed, OpenAPI, MCP); loop control;
 * durable runs.
 */
export * from "./agent/index.js";
export * from "./control/index.js";
export * from "./memory/index.js";
export * from "./runs/index.js";
export * from "./teams/index.js";
export * from "./tools/index.js";
