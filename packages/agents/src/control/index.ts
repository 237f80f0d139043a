/** Loop control: composable budgets with stated stop reasons, loop detection, self-correction of failed tool calls. */
export {
  anyOf,
  Budget,
  type BudgetLimits,
  BudgetLimitsSchema,
  type BudgetState,
  conditionsOf,
  maxCostUsd,
  maxSteps,
  maxTokens,
  maxWallMs,
  type StopCondition,
  type StopInfo,
  type StopReason,
} from "./budget.js";
export { FailureTracker } from "./correction.js";
export { LoopDetector, type LoopPolicy, type LoopVerdict, stableJson } from "./loop-detector.js";
