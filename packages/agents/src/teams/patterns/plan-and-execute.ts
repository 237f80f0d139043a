import { toQuintetError, ValidationError } from "@quintet/core";
import type { Agent } from "../../agent/agent.js";
import type { StopInfo } from "../../control/budget.js";
import type { PlannedTask } from "../../runs/events.js";
import { critique, planTasks, type Verdict } from "../roles.js";
import type { TaskGraph } from "../task-graph.js";
import type { PatternOutcome, TaskOutcome, TeamContext, TeamPattern } from "../team.js";

export interface PlanAndExecuteOptions {
  planner: Agent;
  /** Members tasks are assigned to (executors, researchers). The first is the default assignee. */
  executors: Agent[];
  /** Checks every result against its task's acceptance criteria; without one, results are accepted. */
  critic?: Agent | undefined;
  /** Combines the task results into the final answer; without one, the results of the last tasks are joined. */
  synthesizer?: Agent | undefined;
  /** Tries per task (first try + retries with the critic's reasons); default 2. */
  maxAttempts?: number;
  /** Planner tries when the plan is invalid (a cycle, an unknown dependency or assignee); default 2. */
  maxPlanAttempts?: number;
  /** Tasks run at once when their dependencies allow; default 2. */
  concurrency?: number;
}

function int(v: number | undefined, d: number, name: string, min = 1): number {
  const n = v ?? d;
  if (!Number.isInteger(n) || n < min) {
    throw new ValidationError(`plan-and-execute: ${name} must be an integer >= ${min}, got ${v}`, {
      hint: `The default is ${d}.`,
    });
  }
  return n;
}

function taskPrompt(task: PlannedTask, goal: string, feedback: Verdict | undefined): string {
  let text = `Overall goal: ${goal}\n\nYour task (${task.id}): ${task.title}\n${task.description}\n\nAcceptance criteria:\n${task.acceptanceCriteria.map((c) => `- ${c}`).join("\n")}`;
  if (feedback) {
    text += `\n\nYour previous result was rejected by the reviewer:\n${feedback.reasons.map((r) => `- ${r}`).join("\n")}${
      feedback.unmetCriteria.length ? `\nUnmet criteria: ${feedback.unmetCriteria.join("; ")}` : ""
    }\nFix these points; do it another way if the previous approach cannot meet them.`;
  }
  return text;
}

/**
 * Plan-and-execute: the planner turns the goal into a task graph (dependencies and
 * acceptance criteria; a cyclic or otherwise invalid plan is sent back with the error),
 * executors carry out the tasks in dependency order (independent ones concurrently), the
 * critic checks each result and sends it back with reasons until it passes or the tries
 * run out. A failed task skips the tasks that depend on it; the run then stops with the
 * results it has and the reason.
 */
export function planAndExecute(options: PlanAndExecuteOptions): TeamPattern {
  if (options.executors.length === 0) {
    throw new ValidationError("plan-and-execute needs at least one executor", {
      hint: "Add an agent with role executor or researcher.",
    });
  }
  const maxAttempts = int(options.maxAttempts, 2, "maxAttempts");
  const maxPlanAttempts = int(options.maxPlanAttempts, 2, "maxPlanAttempts");
  const concurrency = int(options.concurrency, 2, "concurrency");
  const { planner, executors, critic, synthesizer } = options;
  const members = [planner, ...executors, ...(critic ? [critic] : []), ...(synthesizer ? [synthesizer] : [])];
  return {
    kind: "plan-and-execute",
    members,
    async run(goal: string, ctx: TeamContext): Promise<PatternOutcome> {
      let graph: TaskGraph;
      try {
        graph = await planTasks(
          ctx,
          planner,
          goal,
          executors.map((e) => ({ name: e.name, role: "executor", tools: e.spec.tools.map((t) => t.name) })),
          maxPlanAttempts,
        );
      } catch (err) {
        if (ctx.run.signal.aborted)
          return { stop: { reason: "aborted", detail: "cancelled while planning" }, output: "" };
        const e = toQuintetError(err);
        if (e.code === "BUDGET_EXCEEDED")
          return { stop: ctx.budget.check() ?? { reason: "max-steps", detail: e.message }, output: "" };
        return { stop: { reason: "error", detail: `no valid plan: ${e.message}` }, output: "", error: e.toJSON() };
      }
      const byName = new Map(executors.map((e) => [e.name, e]));
      const outcomes = new Map<string, TaskOutcome>();
      let stop: StopInfo | undefined;

      const runTask = async (task: PlannedTask): Promise<TaskOutcome> => {
        const agent = byName.get(task.assignee ?? "") ?? executors[0]!;
        const context = task.dependsOn.length
          ? `Results of the tasks this one builds on:\n${task.dependsOn
              .map((d) => `## ${d}: ${graph.get(d)?.title}\n${String(ctx.blackboard.get(`task:${d}`) ?? "")}`)
              .join("\n\n")}`
          : undefined;
        let feedback: Verdict | undefined;
        let last = "";
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          const p = `task:${task.id}/a${attempt}/`;
          const exhausted = ctx.budget.check();
          if (exhausted || ctx.run.signal.aborted) {
            stop ??= exhausted ?? { reason: "aborted", detail: "the run was cancelled" };
            return {
              id: task.id,
              title: task.title,
              status: "failed",
              assignee: agent.name,
              attempts: attempt - 1,
              output: last,
              detail: stop.detail,
            };
          }
          await ctx.run.emit(`${p}started`, {
            type: "task",
            agent: agent.name,
            taskId: task.id,
            attempt,
            status: "started",
          });
          const prompt = taskPrompt(task, goal, feedback);
          await ctx.bus.publish(`${p}msg/task`, {
            from: planner.name,
            to: agent.name,
            topic: "task",
            content: prompt,
            data: { taskId: task.id, attempt },
          });
          const r = await ctx.delegate(agent, prompt, p, context ? { context } : {});
          last = r.output || last;
          await ctx.bus.publish(`${p}msg/result`, {
            from: agent.name,
            to: critic?.name ?? planner.name,
            topic: "result",
            content: r.output,
            data: { taskId: task.id, attempt, status: r.status },
          });
          if (r.status !== "done") {
            // A budget or cancellation stops the whole run; a failing agent may try again.
            if (
              ["max-steps", "max-tokens", "max-cost", "max-wall-time", "aborted"].includes(r.stop.reason) &&
              (ctx.budget.check() || ctx.run.signal.aborted)
            ) {
              stop ??= r.stop;
              return {
                id: task.id,
                title: task.title,
                status: "failed",
                assignee: agent.name,
                attempts: attempt,
                output: last,
                detail: r.stop.detail,
              };
            }
            feedback = {
              verdict: "fail",
              reasons: [`the attempt ended without a result: ${r.stop.reason} (${r.stop.detail})`],
              unmetCriteria: [],
            };
            await ctx.run.emit(`${p}failed`, {
              type: "task",
              agent: agent.name,
              taskId: task.id,
              attempt,
              status: "failed",
              detail: r.stop.detail,
            });
            continue;
          }
          if (!critic) {
            await ctx.blackboard.set(`${p}board`, `task:${task.id}`, r.output, agent.name);
            await ctx.run.emit(`${p}done`, {
              type: "task",
              agent: agent.name,
              taskId: task.id,
              attempt,
              status: "done",
              output: r.output,
            });
            return {
              id: task.id,
              title: task.title,
              status: "done",
              assignee: agent.name,
              attempts: attempt,
              output: r.output,
            };
          }
          let verdict: Verdict;
          try {
            verdict = await critique(ctx, critic, `${p}critique`, {
              taskId: task.id,
              attempt,
              task: `${task.title}: ${task.description}`,
              criteria: task.acceptanceCriteria,
              result: r.output,
            });
          } catch {
            stop ??= { reason: "aborted", detail: "the run was cancelled during a review" };
            return {
              id: task.id,
              title: task.title,
              status: "failed",
              assignee: agent.name,
              attempts: attempt,
              output: last,
              detail: stop.detail,
            };
          }
          await ctx.bus.publish(`${p}msg/verdict`, {
            from: critic.name,
            to: agent.name,
            topic: verdict.verdict === "pass" ? "verdict" : "feedback",
            content: verdict.reasons.join("\n"),
            data: verdict,
          });
          if (verdict.verdict === "pass") {
            await ctx.blackboard.set(`${p}board`, `task:${task.id}`, r.output, agent.name);
            await ctx.run.emit(`${p}done`, {
              type: "task",
              agent: agent.name,
              taskId: task.id,
              attempt,
              status: "done",
              output: r.output,
            });
            return {
              id: task.id,
              title: task.title,
              status: "done",
              assignee: agent.name,
              attempts: attempt,
              output: r.output,
            };
          }
          feedback = verdict;
          await ctx.run.emit(`${p}failed`, {
            type: "task",
            agent: agent.name,
            taskId: task.id,
            attempt,
            status: "failed",
            detail: verdict.reasons.join("; "),
          });
        }
        const reasons = feedback?.reasons.join("; ") ?? "no result";
        return {
          id: task.id,
          title: task.title,
          status: "failed",
          assignee: agent.name,
          attempts: maxAttempts,
          output: last,
          detail: `${feedback?.unmetCriteria.length ? "criteria not met" : "no accepted result"} after ${maxAttempts} attempts: ${reasons}`,
        };
      };

      // Dependency-ordered scheduling with at most `concurrency` tasks in flight.
      const running = new Map<string, Promise<void>>();
      const pending = new Set(graph.order());
      while (pending.size || running.size) {
        for (const id of [...pending]) {
          if (running.size >= concurrency) break;
          const task = graph.get(id)!;
          const failedDep = task.dependsOn.find((d) => outcomes.get(d) && outcomes.get(d)!.status !== "done");
          const ready = task.dependsOn.every((d) => outcomes.get(d)?.status === "done");
          if (ready && !stop) {
            const exhausted = ctx.budget.check();
            if (exhausted) stop = exhausted;
            else if (ctx.run.signal.aborted) stop = { reason: "aborted", detail: "the run was cancelled" };
          }
          if (failedDep || stop) {
            pending.delete(id);
            const detail = stop
              ? `not started: ${stop.detail}`
              : `skipped: it depends on task ${failedDep}, which did not succeed`;
            outcomes.set(id, {
              id,
              title: task.title,
              status: "skipped",
              assignee: task.assignee ?? executors[0]!.name,
              attempts: 0,
              output: "",
              detail,
            });
            await ctx.run.emit(`task:${id}/skipped`, {
              type: "task",
              agent: planner.name,
              taskId: id,
              attempt: 0,
              status: "skipped",
              detail,
            });
            continue;
          }
          if (!ready) continue;
          pending.delete(id);
          running.set(
            id,
            runTask(task).then((o) => {
              outcomes.set(id, o);
              running.delete(id);
            }),
          );
        }
        if (running.size) await Promise.race(running.values());
      }

      const tasks = graph.order().map((id) => outcomes.get(id)!);
      const failed = tasks.filter((t) => t.status !== "done");
      if (stop || failed.length) {
        const partial = tasks
          .filter((t) => t.status === "done")
          .map((t) => `## ${t.id}: ${t.title}\n${t.output}`)
          .join("\n\n");
        return {
          stop: stop ?? {
            reason: "criteria-unmet",
            detail: failed.map((t) => `task ${t.id} ${t.status}: ${t.detail ?? ""}`).join("; "),
          },
          output: partial,
          tasks,
        };
      }
      if (synthesizer) {
        const all = tasks.map((t) => `## ${t.id}: ${t.title}\n${t.output}`).join("\n\n");
        const r = await ctx.delegate(
          synthesizer,
          `Goal: ${goal}\n\nWrite the final answer from these task results.`,
          "synthesis/",
          { context: `Task results:\n${all}` },
        );
        if (r.status !== "done") return { stop: r.stop, output: all, tasks, ...(r.error ? { error: r.error } : {}) };
        return { stop: { reason: "done", detail: "every task met its criteria" }, output: r.output, tasks };
      }
      const sinks = graph.sinks();
      const output =
        sinks.length === 1
          ? outcomes.get(sinks[0]!.id)!.output
          : sinks.map((t) => `## ${t.title}\n${outcomes.get(t.id)!.output}`).join("\n\n");
      return { stop: { reason: "done", detail: "every task met its criteria" }, output, tasks };
    },
  };
}
