/** Function calling: tools declared with zod, validated arguments, and a bounded tool loop. */
export { defineTool, type Tool, type ToolContext, type ToolDefinition } from "./define-tool.js";
export {
  type RunToolLoopOptions,
  runToolLoop,
  type StopReason,
  type ToolLoopResult,
  type ToolLoopStep,
  type ToolOutcome,
} from "./run-tool-loop.js";
