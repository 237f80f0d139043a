import { toQuintetError, ValidationError } from "@quintet/core";
import { defineTool, type Tool } from "@quintet/llm";
import { z } from "zod";
import type { Agent } from "../../agent/agent.js";
import type { AgentToolContext } from "../../agent/execute-tool.js";
import type { PatternOutcome, TeamContext, TeamPattern } from "../team.js";

export interface SupervisorOptions {
  supervisor: Agent;
  workers: Agent[];
}

/** The `handoff` tool the supervisor gets: runs a worker on a task and returns its result. */
function handoffTool(supervisor: Agent, workers: Map<string, Agent>, ctx: TeamContext): Tool {
  const roster = [...workers.values()]
    .map((w) => `${w.name}${w.spec.tools.length ? ` (tools: ${w.spec.tools.map((t) => t.name).join(", ")})` : ""}`)
    .join("; ");
  return defineTool({
    name: "handoff",
    description: `Hand a task to a team member and get their result back. Members: ${roster}.`,
    parameters: z.object({
      to: z.string().min(1).describe("the member's name"),
      task: z.string().min(1).describe("what they should do, self-contained"),
    }),
    timeoutMs: 24 * 3_600_000,
    execute: async ({ to, task }, toolCtx) => {
      const { key } = toolCtx as AgentToolContext;
      const worker = workers.get(to);
      if (!worker) {
        const error = new ValidationError(`handoff to "${to}" failed: there is no team member by that name`, {
          hint: `Hand off to one of: ${[...workers.keys()].join(", ")}.`,
          details: { to, available: [...workers.keys()] },
        });
        await ctx.run.emit(`${key}/handoff`, {
          type: "handoff",
          agent: supervisor.name,
          to,
          task,
          error: error.toJSON(),
        });
        throw error;
      }
      return ctx.run.tracer("agent.handoff", `${supervisor.name} → ${to}`, { from: supervisor.name, to }, async () => {
        await ctx.run.emit(`${key}/handoff`, { type: "handoff", agent: supervisor.name, to, task });
        await ctx.bus.publish(`${key}/msg/task`, { from: supervisor.name, to, topic: "handoff", content: task });
        const r = await ctx.delegate(worker, task, `${key}/${to}/`);
        await ctx.bus.publish(`${key}/msg/result`, {
          from: to,
          to: supervisor.name,
          topic: "result",
          content: r.output,
          data: { status: r.status },
        });
        if (r.status === "done") return { from: to, result: r.output };
        return { from: to, status: r.stop.reason, detail: r.stop.detail, partialResult: r.output };
      });
    },
  });
}

/**
 * Supervisor with handoffs: one agent leads, handing tasks to workers through a `handoff`
 * tool and reading their results, until it answers. A handoff to someone who is not on
 * the team is recorded as a failed handoff (with the names it could have used) and the
 * supervisor is told, so it can correct itself.
 */
export function supervisorPattern(options: SupervisorOptions): TeamPattern {
  if (options.workers.length === 0) {
    throw new ValidationError("the supervisor pattern needs at least one worker", {
      hint: "Add agents with role executor or researcher.",
    });
  }
  const workers = new Map(options.workers.map((w) => [w.name, w]));
  return {
    kind: "supervisor",
    members: [options.supervisor, ...options.workers],
    async run(goal: string, ctx: TeamContext): Promise<PatternOutcome> {
      const lead = options.supervisor;
      try {
        const r = await lead.execute(goal, {
          run: ctx.run,
          prefix: "",
          parentBudget: ctx.budget,
          approve: ctx.approve,
          extraTools: [handoffTool(lead, workers, ctx)],
        });
        ctx.account(r.usage, r.costUsd);
        return { stop: r.stop, output: r.output, ...(r.error ? { error: r.error } : {}) };
      } catch (err) {
        const e = toQuintetError(err);
        return { stop: { reason: "error", detail: e.message }, output: "", error: e.toJSON() };
      }
    },
  };
}
