/** Teams: roles (planner, executor, researcher, critic), patterns, a typed message bus and a shared blackboard, team.yaml. */
export { Blackboard } from "./blackboard.js";
export { MessageBus, type MessageHandler, type MessageTopic, type TeamMessage } from "./bus.js";
export {
  type BuildTeamOptions,
  type BuiltTeam,
  buildTeam,
  loadTeam,
  loadTeamConfig,
  parseTeamConfig,
  type TeamConfig,
  TeamConfigSchema,
} from "./config.js";
export { type PlanAndExecuteOptions, planAndExecute } from "./patterns/plan-and-execute.js";
export { type ReviewLoopOptions, reviewLoop } from "./patterns/review-loop.js";
export { type SupervisorOptions, supervisorPattern } from "./patterns/supervisor.js";
export {
  critique,
  DEFAULT_INSTRUCTIONS,
  planTasks,
  type Role,
  researcher,
  type Verdict,
  VerdictSchema,
} from "./roles.js";
export { findCycle, type Plan, PlanSchema, TaskGraph, TaskSchema } from "./task-graph.js";
export {
  type PatternOutcome,
  type TaskOutcome,
  Team,
  type TeamContext,
  type TeamOptions,
  type TeamPattern,
  type TeamResult,
  type TeamRunOptions,
} from "./team.js";
