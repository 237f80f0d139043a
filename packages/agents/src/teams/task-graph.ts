import { ValidationError } from "@quintet/core";
import { z } from "zod";
import type { PlannedTask } from "../runs/events.js";

export const TaskSchema = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/)
    .describe("short unique id, e.g. t1"),
  title: z.string().min(1).max(200),
  description: z.string().min(1).describe("what to do, self-contained"),
  dependsOn: z.array(z.string()).describe("ids of tasks whose results this one needs"),
  acceptanceCriteria: z.array(z.string().min(1)).min(1).describe("checkable conditions the result must meet"),
  assignee: z.string().optional().describe("name of the agent that should do it"),
});

export const PlanSchema = z.object({ tasks: z.array(TaskSchema).min(1).max(30) });
export type Plan = z.infer<typeof PlanSchema>;

/** A dependency cycle as a path that starts and ends at the same task, e.g. `[a, b, a]`; undefined if none. */
export function findCycle(tasks: readonly Pick<PlannedTask, "id" | "dependsOn">[]): string[] | undefined {
  const deps = new Map(tasks.map((t) => [t.id, t.dependsOn]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const s = state.get(id);
    if (s === "done") return undefined;
    if (s === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, "visiting");
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      if (!deps.has(d)) continue;
      const cycle = visit(d);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const t of tasks) {
    const cycle = visit(t.id);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * A validated task graph: unique ids, dependencies that exist, assignees that exist, and no
 * cycles. Tasks run when everything they depend on is done.
 */
export class TaskGraph {
  readonly tasks: readonly PlannedTask[];
  private readonly byId: Map<string, PlannedTask>;

  private constructor(tasks: PlannedTask[]) {
    this.tasks = tasks;
    this.byId = new Map(tasks.map((t) => [t.id, t]));
  }

  /**
   * @param assignees names tasks may be assigned to (unchecked when omitted)
   * @throws ValidationError naming every problem, the cycle as `a → b → a`
   */
  static from(tasks: readonly PlannedTask[], assignees?: readonly string[]): TaskGraph {
    const problems: string[] = [];
    const ids = new Set<string>();
    for (const t of tasks) {
      if (ids.has(t.id)) problems.push(`task id "${t.id}" is used twice`);
      ids.add(t.id);
    }
    for (const t of tasks) {
      for (const d of t.dependsOn) {
        if (d === t.id) problems.push(`task ${t.id} depends on itself`);
        else if (!ids.has(d)) problems.push(`task ${t.id} depends on "${d}", which is not in the plan`);
      }
      if (assignees && t.assignee !== undefined && !assignees.includes(t.assignee)) {
        problems.push(`task ${t.id} is assigned to "${t.assignee}", who is not on the team (${assignees.join(", ")})`);
      }
    }
    const cycle = findCycle(tasks.map((t) => ({ id: t.id, dependsOn: t.dependsOn.filter((d) => d !== t.id) })));
    if (cycle) problems.push(`the plan has a dependency cycle: ${cycle.join(" → ")}`);
    if (problems.length) {
      throw new ValidationError(`invalid plan: ${problems.join("; ")}`, {
        hint: "Every task may depend only on other tasks of the plan, without cycles; assign tasks to team members by name.",
        details: { problems, ...(cycle ? { cycle } : {}) },
      });
    }
    return new TaskGraph(tasks.map((t) => ({ ...t, dependsOn: [...new Set(t.dependsOn)] })));
  }

  get(id: string): PlannedTask | undefined {
    return this.byId.get(id);
  }

  /** Tasks no other task depends on (their results answer the goal). */
  sinks(): PlannedTask[] {
    const needed = new Set(this.tasks.flatMap((t) => t.dependsOn));
    return this.tasks.filter((t) => !needed.has(t.id));
  }

  /** Ids in an order where every task comes after its dependencies (plan order among equals). */
  order(): string[] {
    const out: string[] = [];
    const done = new Set<string>();
    while (out.length < this.tasks.length) {
      // The earliest task in plan order whose dependencies are all placed.
      const next = this.tasks.find((t) => !done.has(t.id) && t.dependsOn.every((d) => done.has(d)))!;
      out.push(next.id);
      done.add(next.id);
    }
    return out;
  }
}
