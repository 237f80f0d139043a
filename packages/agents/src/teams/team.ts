import { ValidationError } from "@quintet/core";
import type { Usage } from "@quintet/llm";
import type { Agent } from "../agent/agent.js";
import type { ApprovalGate } from "../agent/execute-tool.js";
import type { AgentResult } from "../agent/loop.js";
import { Budget, type BudgetLimits, type StopInfo } from "../control/budget.js";
import type { RunContext, RunHandle, RunOptions, RunSummary } from "../runs/driver.js";
import { startRun } from "../runs/driver.js";
import type { RecordedError } from "../runs/events.js";
import { Blackboard } from "./blackboard.js";
import { MessageBus } from "./bus.js";

/** How one task of a plan ended. */
export interface TaskOutcome {
  id: string;
  title: string;
  status: "done" | "failed" | "skipped";
  assignee: string;
  attempts: number;
  output: string;
  detail?: string | undefined;
}

/** How a team run ended. */
export interface TeamResult extends RunSummary {
  team: string;
  pattern: string;
  /** Plan-and-execute: every task and how it ended. */
  tasks: TaskOutcome[];
  /** The shared blackboard at the end. */
  blackboard: Record<string, unknown>;
}

/** What a pattern gets to run the team with. */
export interface TeamContext {
  run: RunContext;
  team: string;
  /** The team's budget: every member's usage counts against it. */
  budget: Budget;
  bus: MessageBus;
  blackboard: Blackboard;
  approve: ApprovalGate | undefined;
  /** Adds a member's usage to the team totals (agents report theirs through their results). */
  account(usage: Usage, costUsd: number | undefined): void;
  /** Runs a member inside this run under `prefix`. */
  delegate(agent: Agent, input: string, prefix: string, o?: { context?: string }): Promise<AgentResult>;
}

/** What a pattern returns; the team adds usage and blackboard. */
export interface PatternOutcome {
  stop: StopInfo;
  output: string;
  tasks?: TaskOutcome[];
  error?: RecordedError | undefined;
}

/** A way of organising a team: plan-and-execute, supervisor with handoffs, review loop. */
export interface TeamPattern {
  readonly kind: string;
  /** Every member, for validation and listings. */
  readonly members: readonly Agent[];
  run(goal: string, ctx: TeamContext): Promise<PatternOutcome>;
}

export interface TeamOptions {
  name: string;
  pattern: TeamPattern;
  /** The team budget (all members together). */
  policies?: BudgetLimits;
  /** Approval gate for every member's side-effecting tools. */
  approve?: ApprovalGate;
  /** Stored with each run so it can be rebuilt for resuming (e.g. the parsed team.yaml). */
  config?: unknown;
}

export interface TeamRunOptions extends RunOptions {
  approve?: ApprovalGate | undefined;
}

const ZERO: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };

/**
 * A team of agents working on one goal in a pattern. Its runs are checkpointed like an
 * agent's: every plan, task, message, handoff, critique, model and tool call is an event
 * in the run record, and an interrupted run resumes where it stopped.
 *
 * @example
 * const team = new Team({ name: "research", pattern: planAndExecute({ planner, executors: [writer], critic }) });
 * const { output, tasks } = await team.run("Compare our refund policy with the law").result;
 */
export class Team {
  readonly name: string;
  readonly pattern: TeamPattern;
  private readonly limits: BudgetLimits;
  private readonly approve: ApprovalGate | undefined;
  private readonly config: unknown;

  constructor(options: TeamOptions) {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(options.name ?? "")) {
      throw new ValidationError(`invalid team name "${options.name}"`, {
        hint: "Team names start with a letter and have up to 64 letters, digits, _ or -.",
      });
    }
    const names = new Set<string>();
    for (const m of options.pattern.members) {
      if (names.has(m.name)) {
        throw new ValidationError(`team ${options.name} has two members named "${m.name}"`, {
          hint: "Member names must be unique within a team.",
        });
      }
      names.add(m.name);
    }
    this.name = options.name;
    this.pattern = options.pattern;
    this.limits = options.policies ?? {};
    this.approve = options.approve;
    this.config = options.config;
    // Validates the limits now rather than at the first run.
    new Budget(this.limits, () => 0, `team ${this.name}`);
  }

  get members(): readonly Agent[] {
    return this.pattern.members;
  }

  run(goal: string, options: TeamRunOptions = {}): RunHandle<TeamResult> {
    if (typeof goal !== "string" || !goal.trim()) {
      throw new ValidationError("a team run needs a goal", { hint: 'team.run("Write a summary of …")' });
    }
    return this.drive(goal, options, false);
  }

  /** Continues an interrupted team run from the store (see {@link Agent.resume}). */
  resume(runId: string, options: TeamRunOptions & { store: NonNullable<RunOptions["store"]> }): RunHandle<TeamResult> {
    return this.drive(undefined, { ...options, runId }, true);
  }

  private drive(goal: string | undefined, options: TeamRunOptions, resume: boolean): RunHandle<TeamResult> {
    return startRun<TeamResult>(
      {
        kind: "team",
        name: this.name,
        input: goal ?? null,
        config: this.config,
        persist: (r) => ({ output: r.output, tasks: r.tasks, blackboard: r.blackboard }),
        check: (record) => {
          if (record.kind !== "team" || record.name !== this.name) {
            throw new ValidationError(
              `run ${record.id} belongs to ${record.kind} ${record.name}, not team ${this.name}`,
              {
                hint: "Resume it with the agent or team that started it.",
              },
            );
          }
        },
      },
      { ...options, resume },
      async (run, record) => {
        const text = goal ?? (record?.input as string);
        let usage = ZERO;
        let cost: number | undefined;
        const budget = new Budget(this.limits, () => run.journal.elapsedMs(), `team ${this.name}`);
        const approve = options.approve ?? this.approve;
        const ctx: TeamContext = {
          run,
          team: this.name,
          budget,
          approve,
          bus: new MessageBus(async (key, m) => {
            await run.emit(key, {
              type: "message",
              agent: m.from,
              to: m.to,
              topic: m.topic,
              content: m.content,
              ...(m.data !== undefined ? { data: m.data } : {}),
            });
          }, run.tracer),
          blackboard: new Blackboard(async (key, name, value, by) => {
            await run.emit(key, { type: "blackboard", agent: by, name, value });
          }),
          account: (u, c) => {
            usage = {
              inputTokens: usage.inputTokens + u.inputTokens,
              outputTokens: usage.outputTokens + u.outputTokens,
              totalTokens: usage.totalTokens + u.totalTokens,
            };
            if (c !== undefined) cost = (cost ?? 0) + c;
          },
          delegate: async (agent, input, prefix, o = {}) => {
            const r = await agent.execute(input, {
              run,
              prefix,
              parentBudget: budget,
              approve,
              ...(o.context ? { context: o.context } : {}),
            });
            ctx.account(r.usage, r.costUsd);
            return r;
          },
        };
        const outcome = await this.pattern.run(text, ctx);
        const status = outcome.stop.reason === "done" ? "done" : outcome.stop.reason === "error" ? "failed" : "stopped";
        return {
          runId: run.runId,
          team: this.name,
          pattern: this.pattern.kind,
          status,
          stop: outcome.stop,
          output: outcome.output,
          usage,
          costUsd: cost,
          steps: budget.steps,
          ...(outcome.error ? { error: outcome.error } : {}),
          tasks: outcome.tasks ?? [],
          blackboard: ctx.blackboard.snapshot(),
        };
      },
    );
  }
}
