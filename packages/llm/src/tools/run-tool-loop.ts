import { QuintetError, ValidationError } from "@quintet/core";
import { defaultSpanRunner, type SpanRunner } from "../providers/traced.js";
import type {
  ChatMessage,
  FinishReason,
  GenerateRequest,
  GenerateResult,
  LlmClient,
  ToolCall,
  Usage,
} from "../providers/types.js";
import { addUsage, describeIssues } from "../structured/generate-object.js";
import type { Tool } from "./define-tool.js";

export type StopReason = "done" | "max-steps" | "max-tokens" | "aborted";

/** What happened to one tool call. */
export interface ToolOutcome {
  callId: string;
  name: string;
  arguments: unknown;
  /** `ok`: executed; the rest were answered with an error the model can read. */
  status: "ok" | "error" | "invalid-arguments" | "unknown-tool" | "timeout" | "denied";
  /** Exactly what the model was sent. */
  content: string;
  durationMs: number;
}

export interface ToolLoopStep {
  /** 1-based. */
  step: number;
  text: string;
  toolCalls: ToolCall[];
  results: ToolOutcome[];
  usage: Usage;
  finishReason: FinishReason;
}

export interface RunToolLoopOptions {
  llm: LlmClient;
  messages: ChatMessage[];
  tools: Tool<any, any>[];
  /** Model calls allowed (default 8). */
  maxSteps?: number;
  /** Stop once the calls so far used this many tokens (input + output). */
  maxTokens?: number;
  signal?: AbortSignal;
  /** Called after each step, tool results included. */
  onStep?: (step: ToolLoopStep) => void | Promise<void>;
  /**
   * Asked before each call of a `sideEffects` tool; false sends a refusal to the model.
   * Without `approve` (and without `allowSideEffects`), side-effect tools are not run at all:
   * the model gets a tool error saying the action needs approval.
   */
  approve?: (call: ToolCall, tool: Tool) => Promise<boolean> | boolean;
  /**
   * Run `sideEffects` tools without asking when no `approve` is given (default false). For
   * trusted, unattended loops only; `approve`, when given, is still asked.
   */
  allowSideEffects?: boolean;
  /** Run the calls of one step concurrently (default true). */
  parallel?: boolean;
  temperature?: number;
  maxOutputTokens?: number;
  metadata?: Record<string, string>;
  /** Runs each tool execution inside a `tool` trace span (core's `withSpan`). */
  tracer?: SpanRunner;
}

export interface ToolLoopResult {
  /** The model's last text. */
  text: string;
  stopReason: StopReason;
  steps: ToolLoopStep[];
  usage: Usage;
  costUsd: number | undefined;
  /** The whole conversation, tool calls and results included, to continue from. */
  messages: ChatMessage[];
}

function asContent(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "null";
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function errorContent(error: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ error, ...extra });
}

class ToolTimeout extends Error {}

/** Runs `fn` with a signal aborted by the loop's signal or after `ms`; rejects with ToolTimeout on time. */
async function withTimeout<T>(ms: number, outer: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>) {
  const ac = new AbortController();
  const onOuter = () => ac.abort();
  outer?.addEventListener("abort", onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new ToolTimeout());
      ac.abort();
    }, ms);
  });
  try {
    return await Promise.race([fn(ac.signal), timeout]);
  } catch (err) {
    // A tool that rejects because our timeout aborted it timed out; it did not fail.
    throw timedOut ? new ToolTimeout() : err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onOuter);
  }
}

async function runCall(
  call: ToolCall,
  step: number,
  byName: Map<string, Tool>,
  o: RunToolLoopOptions,
): Promise<ToolOutcome> {
  const started = Date.now();
  const done = (status: ToolOutcome["status"], content: string): ToolOutcome => ({
    callId: call.id,
    name: call.name,
    arguments: call.arguments,
    status,
    content,
    durationMs: Date.now() - started,
  });
  const tool = byName.get(call.name);
  if (!tool) {
    return done("unknown-tool", errorContent(`unknown tool "${call.name}"`, { availableTools: [...byName.keys()] }));
  }
  const args = typeof call.arguments === "string" ? undefined : call.arguments;
  if (args === undefined) {
    return done("invalid-arguments", errorContent("the arguments are not valid JSON", { received: call.arguments }));
  }
  const parsed = tool.parameters.safeParse(args);
  if (!parsed.success) {
    return done(
      "invalid-arguments",
      errorContent("invalid arguments; fix them and call again", { issues: describeIssues(parsed.error) }),
    );
  }
  if (tool.sideEffects) {
    if (o.approve) {
      if (!(await o.approve(call, tool))) {
        return done("denied", errorContent(`the user did not approve calling ${tool.name}`));
      }
    } else if (!o.allowSideEffects) {
      // Safe default: an action on the world needs someone's yes, and nobody was asked.
      return done(
        "denied",
        errorContent(
          `${tool.name} changes things outside this conversation and needs the user's approval, which is not available here; it was not run`,
          { hint: "Do not retry this call. Tell the user what you would do and ask them to do it or to allow it." },
        ),
      );
    }
  }
  const execute = async () => {
    try {
      const value = await withTimeout(tool.timeoutMs, o.signal, (signal) =>
        Promise.resolve(tool.execute(parsed.data, { signal, callId: call.id, step })),
      );
      return done("ok", asContent(value));
    } catch (err) {
      if (err instanceof ToolTimeout)
        return done("timeout", errorContent(`${tool.name} timed out after ${tool.timeoutMs} ms`));
      return done("error", errorContent(`${tool.name} failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  const tracer = o.tracer ?? defaultSpanRunner;
  return tracer("tool", tool.name, { callId: call.id, step, sideEffects: tool.sideEffects }, async (span) => {
    const outcome = await execute();
    span.setAttributes({ status: outcome.status, durationMs: outcome.durationMs });
    // A failed tool is data for the model, but still an error in the trace.
    if (outcome.status !== "ok") span.recordError(new Error(outcome.content));
    return outcome;
  });
}

function isCancel(err: unknown, signal: AbortSignal | undefined): boolean {
  return (err instanceof QuintetError && err.code === "CANCELLED") || signal?.aborted === true;
}

/**
 * Lets the model call tools until it answers without calling any. Arguments are validated
 * before execution; invalid arguments, unknown tools, tool errors, timeouts and refusals go
 * back to the model as JSON `{ "error": ... }` results, never as exceptions. The loop ends
 * with a stated reason: `done`, `max-steps`, `max-tokens` or `aborted`.
 *
 * Tools declared with `sideEffects: true` run only when `approve(call, tool)` says yes; with
 * no `approve` they are refused (status `denied`) unless `allowSideEffects: true`.
 */
export async function runToolLoop(options: RunToolLoopOptions): Promise<ToolLoopResult> {
  const maxSteps = options.maxSteps ?? 8;
  if (!Number.isInteger(maxSteps) || maxSteps < 1) {
    throw new ValidationError(`maxSteps must be a positive integer, got ${options.maxSteps}`, {
      hint: "The default is 8.",
    });
  }
  const byName = new Map<string, Tool>();
  for (const t of options.tools) {
    if (byName.has(t.name))
      throw new ValidationError(`two tools are named "${t.name}"`, { hint: "Tool names must be unique." });
    byName.set(t.name, t);
  }
  const messages = [...options.messages];
  const steps: ToolLoopStep[] = [];
  let usage: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  let cost: number | undefined;
  let text = "";
  const finish = (stopReason: StopReason): ToolLoopResult => ({
    text,
    stopReason,
    steps,
    usage,
    costUsd: cost,
    messages,
  });

  for (let step = 1; ; step++) {
    if (options.signal?.aborted) return finish("aborted");
    const request: GenerateRequest = {
      messages,
      tools: options.tools.map((t) => t.spec),
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.maxOutputTokens !== undefined ? { maxOutputTokens: options.maxOutputTokens } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.metadata ? { metadata: options.metadata } : {}),
    };
    let result: GenerateResult;
    try {
      result = await options.llm.generate(request);
    } catch (err) {
      if (isCancel(err, options.signal)) return finish("aborted");
      throw err;
    }
    usage = addUsage(usage, result.usage);
    if (result.costUsd !== undefined) cost = (cost ?? 0) + result.costUsd;
    text = result.text;
    messages.push({
      role: "assistant",
      content: result.text,
      ...(result.toolCalls.length ? { toolCalls: result.toolCalls } : {}),
    });
    const record: ToolLoopStep = {
      step,
      text: result.text,
      toolCalls: result.toolCalls,
      results: [],
      usage: result.usage,
      finishReason: result.finishReason,
    };
    steps.push(record);
    if (result.toolCalls.length === 0) {
      await options.onStep?.(record);
      return finish("done");
    }
    // Calls the model will never see the results of are not run (they may have side effects).
    const overTokens = options.maxTokens !== undefined && usage.totalTokens >= options.maxTokens;
    if (overTokens || step >= maxSteps) {
      messages.pop();
      messages.push({ role: "assistant", content: result.text });
      await options.onStep?.(record);
      return finish(overTokens ? "max-tokens" : "max-steps");
    }
    const outcomes =
      options.parallel === false
        ? await result.toolCalls.reduce<Promise<ToolOutcome[]>>(
            async (acc, call) => [...(await acc), await runCall(call, step, byName, options)],
            Promise.resolve([]),
          )
        : await Promise.all(result.toolCalls.map((call) => runCall(call, step, byName, options)));
    record.results = outcomes;
    for (const r of outcomes) messages.push({ role: "tool", toolCallId: r.callId, name: r.name, content: r.content });
    await options.onStep?.(record);
    if (options.signal?.aborted) return finish("aborted");
  }
}
