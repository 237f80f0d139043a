import { ValidationError } from "@quintet/core";
import type { LlmClient, Tool } from "@quintet/llm";
import { type RunHandle, type RunOptions, startRun } from "../runs/driver.js";
import type { ApprovalGate } from "./execute-tool.js";
import { type AgentMemory, type AgentResult, type AgentSpec, type LoopContext, runAgentLoop } from "./loop.js";
import { type AgentPolicies, parsePolicies } from "./policies.js";

export interface AgentOptions {
  /** Identifies the agent in events, traces and memory (letters, digits, _ and -). */
  name: string;
  /** Its role: the system prompt. */
  instructions: string;
  model: LlmClient;
  tools?: readonly Tool[];
  memory?: AgentMemory;
  /** Limits and permissions (steps, tokens, money, wall time, allowed tools, per-tool policies). */
  policies?: AgentPolicies;
  /** Asked before side-effecting tools run; without it they are refused unless `policies.allowSideEffects`. */
  approve?: ApprovalGate;
  temperature?: number;
  maxOutputTokens?: number;
}

export interface AgentRunOptions extends RunOptions {
  /** Overrides the agent's approval gate for this run. */
  approve?: ApprovalGate | undefined;
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * An agent: a role (instructions), a model, tools, memory and policies. `run` streams typed
 * events (model calls, tool calls and results, notes, the final answer or the stop with its
 * reason) and checkpoints each one when given a store, so the run can be resumed after a
 * crash and replayed later.
 *
 * @example
 * const agent = new Agent({ name: "helper", instructions: "You answer briefly.", model: llm, tools: [add] });
 * const run = agent.run("What is 2 + 3?");
 * for await (const e of run) console.log(e.type);
 * const { output, stop } = await run.result;
 */
export class Agent {
  readonly spec: AgentSpec;

  constructor(options: AgentOptions) {
    if (!NAME_RE.test(options.name ?? "")) {
      throw new ValidationError(`invalid agent name "${options.name}"`, {
        hint: "Agent names start with a letter and have up to 64 letters, digits, _ or -.",
      });
    }
    if (typeof options.instructions !== "string" || !options.instructions.trim()) {
      throw new ValidationError(`agent ${options.name} has no instructions`, {
        hint: "Give it a role, e.g. instructions: 'You research questions and cite sources.'",
      });
    }
    if (!options.model || typeof options.model.generate !== "function") {
      throw new ValidationError(`agent ${options.name} has no model`, {
        hint: "Pass an LlmClient, e.g. model: createLlm('openai:gpt-4o-mini').",
      });
    }
    const policies = parsePolicies(options.policies, `agent ${options.name}`);
    const names = new Set<string>();
    for (const t of options.tools ?? []) {
      if (names.has(t.name)) {
        throw new ValidationError(`agent ${options.name} has two tools named "${t.name}"`, {
          hint: "Tool names must be unique within an agent.",
        });
      }
      names.add(t.name);
    }
    for (const n of [...(policies.allowedTools ?? []), ...Object.keys(policies.tools ?? {})]) {
      if (!names.has(n)) {
        throw new ValidationError(`agent ${options.name}: policies name tool "${n}", which it does not have`, {
          hint: `Its tools are: ${[...names].join(", ") || "(none)"}.`,
        });
      }
    }
    this.spec = {
      name: options.name,
      instructions: options.instructions,
      model: options.model,
      tools: options.tools ?? [],
      policies,
      memory: options.memory,
      approve: options.approve,
      temperature: options.temperature,
      maxOutputTokens: options.maxOutputTokens,
    };
  }

  get name(): string {
    return this.spec.name;
  }

  /** Runs the agent on `input` as a run of its own. */
  run(input: string, options: AgentRunOptions = {}): RunHandle<AgentResult> {
    if (typeof input !== "string" || !input.trim()) {
      throw new ValidationError(`agent ${this.spec.name} needs a non-empty input`, {
        hint: 'agent.run("What is 2 + 3?")',
      });
    }
    return this.drive(input, options, false);
  }

  /**
   * Continues an interrupted run (its process died, or it was cancelled) from the store:
   * recorded steps are replayed without calling the model or tools again, and a
   * side-effecting call that was started but not finished is reported to the model as
   * interrupted instead of being repeated.
   */
  resume(
    runId: string,
    options: AgentRunOptions & { store: NonNullable<RunOptions["store"]> },
  ): RunHandle<AgentResult> {
    return this.drive(undefined, { ...options, runId }, true);
  }

  /** Runs inside another run (a team's): shares its journal and budget. */
  execute(input: string, ctx: LoopContext): Promise<AgentResult> {
    return runAgentLoop(this.spec, input, ctx);
  }

  private drive(input: string | undefined, options: AgentRunOptions, resume: boolean): RunHandle<AgentResult> {
    return startRun<AgentResult>(
      {
        kind: "agent",
        name: this.spec.name,
        input: input ?? null,
        persist: (r) => ({ output: r.output, toolCalls: r.toolCalls }),
        check: (record) => {
          if (record.kind !== "agent" || record.name !== this.spec.name) {
            throw new ValidationError(
              `run ${record.id} belongs to ${record.kind} ${record.name}, not agent ${this.spec.name}`,
              {
                hint: "Resume it with the agent or team that started it.",
              },
            );
          }
        },
      },
      { ...options, resume },
      async (run, record) => {
        const text = input ?? (record?.input as string | undefined);
        if (typeof text !== "string") {
          throw new ValidationError(`run ${run.runId} has no stored input to resume from`, {
            hint: "Only agent runs started with a string input can be resumed.",
          });
        }
        return runAgentLoop(this.spec, text, { run, prefix: "", approve: options.approve });
      },
    );
  }
}
