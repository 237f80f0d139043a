import { ValidationError } from "@quintet/core";
import type { Agent } from "../../agent/agent.js";
import { critique, type Verdict } from "../roles.js";
import type { PatternOutcome, TeamContext, TeamPattern } from "../team.js";

export interface ReviewLoopOptions {
  worker: Agent;
  critic: Agent;
  /** What the result must satisfy. */
  criteria: string[];
  /** Drafts at most (default 3). */
  maxRounds?: number;
}

/**
 * Review loop: the worker drafts, the critic checks the draft against the criteria and sends
 * it back with reasons, until it passes or the rounds run out — then the run stops with the
 * last draft and the unmet criteria as its stated reason.
 */
export function reviewLoop(options: ReviewLoopOptions): TeamPattern {
  const maxRounds = options.maxRounds ?? 3;
  if (!Number.isInteger(maxRounds) || maxRounds < 1) {
    throw new ValidationError(`review loop: maxRounds must be a positive integer, got ${options.maxRounds}`, {
      hint: "The default is 3.",
    });
  }
  if (!options.criteria.length) {
    throw new ValidationError("a review loop needs acceptance criteria", {
      hint: "List what the result must satisfy, e.g. criteria: ['cites a source for every figure'].",
    });
  }
  const { worker, critic, criteria } = options;
  return {
    kind: "review-loop",
    members: [worker, critic],
    async run(goal: string, ctx: TeamContext): Promise<PatternOutcome> {
      let draft = "";
      let verdict: Verdict | undefined;
      for (let round = 1; round <= maxRounds; round++) {
        const p = `round${round}/`;
        const exhausted = ctx.budget.check();
        if (exhausted) return { stop: exhausted, output: draft };
        if (ctx.run.signal.aborted)
          return { stop: { reason: "aborted", detail: "the run was cancelled" }, output: draft };
        let prompt = `${goal}\n\nThe result must satisfy:\n${criteria.map((c) => `- ${c}`).join("\n")}`;
        if (verdict) {
          prompt += `\n\nYour previous draft:\n${draft}\n\nThe reviewer rejected it:\n${verdict.reasons.map((r) => `- ${r}`).join("\n")}\nRevise it to fix these points.`;
        }
        await ctx.bus.publish(`${p}msg/task`, {
          from: critic.name,
          to: worker.name,
          topic: verdict ? "feedback" : "task",
          content: prompt,
        });
        const r = await ctx.delegate(worker, prompt, p);
        if (r.status !== "done")
          return { stop: r.stop, output: r.output || draft, ...(r.error ? { error: r.error } : {}) };
        draft = r.output;
        await ctx.bus.publish(`${p}msg/result`, {
          from: worker.name,
          to: critic.name,
          topic: "result",
          content: draft,
        });
        try {
          verdict = await critique(ctx, critic, `${p}critique`, {
            taskId: "draft",
            attempt: round,
            task: goal,
            criteria,
            result: draft,
          });
        } catch {
          return { stop: { reason: "aborted", detail: "the run was cancelled during a review" }, output: draft };
        }
        await ctx.bus.publish(`${p}msg/verdict`, {
          from: critic.name,
          to: worker.name,
          topic: "verdict",
          content: verdict.reasons.join("\n"),
          data: verdict,
        });
        if (verdict.verdict === "pass")
          return { stop: { reason: "done", detail: `accepted in round ${round}` }, output: draft };
      }
      return {
        stop: {
          reason: "criteria-unmet",
          detail: `not accepted after ${maxRounds} rounds: ${verdict?.unmetCriteria.join("; ") || verdict?.reasons.join("; ")}`,
        },
        output: draft,
      };
    },
  };
}
