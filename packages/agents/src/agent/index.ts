/** The agent: a role, a model, tools, memory and policies; runs stream typed, checkpointed events. */
export { Agent, type AgentOptions, type AgentRunOptions } from "./agent.js";
export type {
  AgentToolContext,
  ApprovalGate,
  ApprovalRequest,
  ToolOutcome,
} from "./execute-tool.js";
export { type AgentMemory, type AgentResult, type AgentSpec, type LoopContext, runAgentLoop } from "./loop.js";
export {
  type AgentPolicies,
  AgentPoliciesSchema,
  parsePolicies,
  type ToolPolicy,
  ToolPolicySchema,
} from "./policies.js";
