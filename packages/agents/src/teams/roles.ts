import { QuintetError, toQuintetError } from "@quintet/core";
import { type ChatMessage, generateObject, type LlmClient, type Tool, type Usage } from "@quintet/llm";
import { z } from "zod";
import { Agent, type AgentOptions } from "../agent/agent.js";
import type { PlannedTask, RecordedError } from "../runs/events.js";
import { type RetrieveFn, type RetrieverToolOptions, retrieverTool } from "../tools/retriever.js";
import { PlanSchema, TaskGraph } from "./task-graph.js";
import type { TeamContext } from "./team.js";

export type Role = "planner" | "executor" | "researcher" | "critic" | "supervisor" | "synthesizer";

/** The instructions a role gets when its definition gives none. */
export const DEFAULT_INSTRUCTIONS: Record<Role, string> = {
  planner:
    "You are the planner of a team. Break the goal into a small number of concrete tasks (usually 2-6). Give each an id, a self-contained description, the ids of the tasks whose results it needs, and acceptance criteria that a reviewer can check. Assign each task to the team member best suited to it.",
  executor:
    "You carry out one task of a larger plan. Use your tools when they help, and answer with the result itself, complete and concrete, meeting every acceptance criterion.",
  researcher:
    "You research questions. Search the documents before answering, base every statement on what you found, and cite the source of each fact in brackets, e.g. [handbook.md#billing]. Say plainly when the documents do not answer the question.",
  critic:
    "You review the work of a teammate against acceptance criteria. Be strict and specific: pass only when every criterion is met, otherwise say exactly what is missing or wrong so it can be fixed.",
  supervisor:
    "You lead a team. Hand tasks to the member best suited to each with the handoff tool, read their results, and decide what is next. When the goal is reached, give the final answer yourself.",
  synthesizer:
    "You combine the results of a team's tasks into one final answer to the goal: complete, consistent, and without repeating yourself.",
};

/** A researcher: an agent that answers from a retriever (a RAG collection, a search API) and cites sources. */
export function researcher(
  options: Omit<AgentOptions, "instructions" | "tools"> & {
    retriever: RetrieveFn;
    instructions?: string;
    tools?: readonly Tool[];
    search?: RetrieverToolOptions;
  },
): Agent {
  const { retriever, search, tools, instructions, ...rest } = options;
  return new Agent({
    ...rest,
    instructions: instructions ?? DEFAULT_INSTRUCTIONS.researcher,
    tools: [retrieverTool(retriever, search), ...(tools ?? [])],
  });
}

type PlanEvent = { tasks: PlannedTask[]; usage: Usage; costUsd?: number | undefined; error?: RecordedError };

function usageOfError(err: unknown): { usage: Usage; costUsd: number | undefined } {
  const d = (err as QuintetError).details as { usage?: Usage; costUsd?: number } | undefined;
  return { usage: d?.usage ?? { inputTokens: 0, outputTokens: 0, totalTokens: 0 }, costUsd: d?.costUsd };
}

/**
 * Asks the planner for a task graph (zod-validated through generateObject), checks it
 * (dependencies, assignees, cycles) and, when it is invalid, asks again with the error.
 * Each attempt is a `plan` event. Throws the last error when no attempt gave a valid plan.
 */
export async function planTasks(
  ctx: TeamContext,
  planner: Agent,
  goal: string,
  members: { name: string; role: string; tools: string[] }[],
  maxAttempts: number,
): Promise<TaskGraph> {
  const roster = members
    .map((m) => `- ${m.name} (${m.role})${m.tools.length ? `: tools ${m.tools.join(", ")}` : ""}`)
    .join("\n");
  const messages: ChatMessage[] = [
    { role: "system", content: planner.spec.instructions },
    { role: "user", content: `Goal: ${goal}\n\nTeam members you can assign tasks to:\n${roster}` },
  ];
  let last: QuintetError | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (ctx.run.signal.aborted) break;
    const exhausted = ctx.budget.check();
    if (exhausted) throw new QuintetError("BUDGET_EXCEEDED", `planning stopped: ${exhausted.detail}`);
    const key = `plan/a${attempt}`;
    let rec = ctx.run.journal.get(key)?.event as PlanEvent | undefined;
    if (!rec) {
      try {
        const r = await generateObject({
          llm: planner.spec.model,
          schema: PlanSchema,
          messages,
          name: "plan",
          signal: ctx.run.signal,
          metadata: { agent: planner.name, runId: ctx.run.runId, purpose: "plan" },
        });
        rec = { tasks: r.object.tasks, usage: r.usage, ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}) };
        try {
          TaskGraph.from(
            rec.tasks,
            members.map((m) => m.name),
          );
        } catch (err) {
          rec.error = toQuintetError(err).toJSON();
        }
      } catch (err) {
        if (ctx.run.signal.aborted) break;
        const u = usageOfError(err);
        rec = { tasks: [], ...u, error: toQuintetError(err).toJSON() };
      }
    }
    await ctx.run.emit(key, { type: "plan", agent: planner.name, attempt, ...rec });
    ctx.budget.charge(rec.usage, rec.costUsd);
    ctx.account(rec.usage, rec.costUsd);
    if (!rec.error)
      return TaskGraph.from(
        rec.tasks,
        members.map((m) => m.name),
      );
    last = new QuintetError(rec.error.code as never, rec.error.message, {
      ...(rec.error.hint ? { hint: rec.error.hint } : {}),
      ...(rec.error.details ? { details: rec.error.details } : {}),
    });
    messages.push(
      { role: "assistant", content: JSON.stringify({ tasks: rec.tasks }) },
      { role: "user", content: `That plan cannot be used: ${rec.error.message}\nGive a corrected plan.` },
    );
  }
  throw last ?? new QuintetError("CANCELLED", "planning was cancelled");
}

export const VerdictSchema = z.object({
  verdict: z.enum(["pass", "fail"]),
  reasons: z.array(z.string().min(1)).min(1).describe("why, one point per entry"),
  unmetCriteria: z.array(z.string()).describe("the acceptance criteria that are not met (empty on pass)"),
});

export type Verdict = z.infer<typeof VerdictSchema>;

/**
 * The critic's check of a result against acceptance criteria (journaled under `key`, charged
 * to the team). A critic model that cannot produce a valid verdict counts as a failed
 * check with that reason, so the work is not accepted unchecked.
 */
export async function critique(
  ctx: TeamContext,
  critic: Agent,
  key: string,
  o: { taskId: string; attempt: number; task: string; criteria: readonly string[]; result: string },
): Promise<Verdict> {
  type CritiqueEvent = Verdict & { usage: Usage; costUsd?: number | undefined };
  let rec = ctx.run.journal.get(key)?.event as CritiqueEvent | undefined;
  if (!rec) {
    const llm: LlmClient = critic.spec.model;
    try {
      const r = await generateObject({
        llm,
        schema: VerdictSchema,
        system: critic.spec.instructions,
        prompt: `Task: ${o.task}\n\nAcceptance criteria:\n${o.criteria.map((c, i) => `${i + 1}. ${c}`).join("\n")}\n\nResult to review:\n${o.result}`,
        name: "verdict",
        signal: ctx.run.signal,
        metadata: { agent: critic.name, runId: ctx.run.runId, purpose: "critique" },
      });
      rec = { ...r.object, usage: r.usage, ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}) };
    } catch (err) {
      if (ctx.run.signal.aborted) throw err;
      rec = {
        verdict: "fail",
        reasons: [`the critic gave no valid verdict: ${toQuintetError(err).message}`],
        unmetCriteria: [...o.criteria],
        ...usageOfError(err),
      };
    }
  }
  await ctx.run.emit(key, {
    type: "critique",
    agent: critic.name,
    taskId: o.taskId,
    attempt: o.attempt,
    verdict: rec.verdict,
    reasons: rec.reasons,
    unmetCriteria: rec.unmetCriteria,
    usage: rec.usage,
    ...(rec.costUsd !== undefined ? { costUsd: rec.costUsd } : {}),
  });
  ctx.budget.charge(rec.usage, rec.costUsd);
  ctx.account(rec.usage, rec.costUsd);
  return { verdict: rec.verdict, reasons: rec.reasons, unmetCriteria: rec.unmetCriteria };
}
