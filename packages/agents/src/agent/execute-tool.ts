import type { SpanRunner, Tool, ToolCall, ToolContext } from "@quintet/llm";
import type { FailureTracker } from "../control/correction.js";
import type { RunEvent, RunEventBody, ToolStatus } from "../runs/events.js";
import type { Journal } from "../runs/journal.js";
import type { AgentPolicies, ToolPolicy } from "./policies.js";

/** What a tool's `execute` receives when an agent calls it (a superset of the LLM layer's context). */
export interface AgentToolContext extends ToolContext {
  runId: string;
  agent: string;
  /** The step key of this call in the run record; nested work (a handoff) records under it. */
  key: string;
  /**
   * Stable across resumes of the run: pass it to the remote side (an `Idempotency-Key`
   * header) so a retried side effect is recognised there.
   */
  idempotencyKey: string;
}

/** A request to run a tool that needs approval. */
export interface ApprovalRequest {
  runId: string;
  agent: string;
  tool: Tool;
  call: ToolCall;
  /** Validated arguments. */
  arguments: unknown;
}

/**
 * The human-approval gate: asked before a tool with side effects runs (or any tool whose
 * policy says `approval: always`). Resolve true to run it, false to refuse — the model is told.
 */
export type ApprovalGate = (request: ApprovalRequest) => boolean | Promise<boolean>;

export interface ToolOutcome {
  callId: string;
  name: string;
  arguments: unknown;
  status: ToolStatus;
  content: string;
  durationMs: number;
}

export interface ToolRunContext {
  agent: string;
  runId: string;
  journal: Journal;
  prefix: string;
  step: number;
  signal: AbortSignal;
  tracer: SpanRunner;
  tools: Map<string, Tool>;
  allowed: (name: string) => boolean;
  policies: AgentPolicies;
  approve: ApprovalGate | undefined;
  failures: FailureTracker;
  callCounts: Map<string, number>;
  remainingWallMs: () => number | undefined;
  emit: (key: string, body: RunEventBody, options?: { defer?: boolean }) => Promise<RunEvent>;
}

class ToolTimeout extends Error {}

function errorContent(error: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ error, ...extra });
}

function asContent(value: unknown, max: number): string {
  let text: string;
  if (typeof value === "string") text = value;
  else if (value === undefined) text = "null";
  else {
    try {
      text = JSON.stringify(value);
    } catch {
      text = String(value);
    }
  }
  return text.length <= max ? text : `${text.slice(0, max)}… [cut: ${text.length - max} more characters]`;
}

function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `- ${i.path.length ? i.path.map(String).join(".") : "(root)"}: ${i.message}`).join("\n");
}

async function withTimeout<T>(ms: number, outer: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onOuter = () => ac.abort(outer.reason);
  outer.addEventListener("abort", onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new ToolTimeout());
      ac.abort(new ToolTimeout());
    }, ms);
  });
  // A tool that ignores its signal must not hold the run: the race returns without it.
  const aborted = new Promise<never>((_, reject) => {
    if (outer.aborted) reject(new Error("aborted"));
    ac.signal.addEventListener("abort", () => reject(timedOut ? new ToolTimeout() : new Error("aborted")), {
      once: true,
    });
  });
  try {
    return await Promise.race([fn(ac.signal), timeout, aborted]);
  } catch (err) {
    throw timedOut ? new ToolTimeout() : err;
  } finally {
    clearTimeout(timer);
    outer.removeEventListener("abort", onOuter);
  }
}

/** Outcome of {@link executeCall}; `aborted` calls are not recorded (a resume runs them again). */
export type CallResult = { outcome: ToolOutcome; replayed: boolean } | { aborted: true };

/**
 * Runs one tool call of a model step with every guard of the agent: permissions, disabled
 * tools, argument validation, call limits, the approval gate, per-tool timeouts, and the
 * journal — a recorded result is reused, and a side-effecting call that was started but
 * never finished (the process died) is not repeated but reported as `interrupted`.
 */
export async function executeCall(call: ToolCall, index: number, c: ToolRunContext): Promise<CallResult> {
  const base = `${c.prefix}s${c.step}/t${index}`;
  const resultKey = `${base}/result`;
  const callKey = `${base}/call`;
  const recorded = c.journal.get(resultKey);
  if (recorded) {
    const intent = c.journal.get(callKey);
    if (intent) await c.emit(callKey, intent.event as RunEventBody);
    await c.emit(resultKey, recorded.event as RunEventBody);
    const e = recorded.event as Extract<RunEventBody, { type: "tool-result" }>;
    return {
      outcome: {
        callId: e.callId,
        name: e.name,
        arguments: call.arguments,
        status: e.status,
        content: e.content,
        durationMs: e.durationMs,
      },
      replayed: true,
    };
  }
  const started = performance.now();
  const tool = c.tools.get(call.name);
  const policy: ToolPolicy = c.policies.tools?.[call.name] ?? {};
  const finish = async (status: ToolStatus, content: string): Promise<CallResult> => {
    const body: RunEventBody = {
      type: "tool-result",
      agent: c.agent,
      step: c.step,
      callId: call.id,
      name: call.name,
      status,
      content,
      durationMs: Math.round(performance.now() - started),
    };
    await c.emit(resultKey, body);
    return {
      outcome: {
        callId: call.id,
        name: call.name,
        arguments: call.arguments,
        status,
        content,
        durationMs: body.durationMs,
      },
      replayed: false,
    };
  };
  // The intent of a call without side effects is written with its result: if the process dies
  // in between, the call simply runs again. A side-effecting call's intent is written first.
  const announce = (approved?: boolean) =>
    c.emit(
      callKey,
      {
        type: "tool-call",
        agent: c.agent,
        step: c.step,
        callId: call.id,
        name: call.name,
        arguments: call.arguments,
        sideEffects: tool?.sideEffects ?? false,
        ...(approved !== undefined ? { approved } : {}),
      },
      { defer: !tool?.sideEffects },
    );
  const available = () => [...c.tools.keys()].filter((n) => c.allowed(n) && !c.failures.isDisabled(n));
  if (!tool) {
    await announce();
    return finish("unknown-tool", errorContent(`unknown tool "${call.name}"`, { availableTools: available() }));
  }
  if (!c.allowed(tool.name)) {
    await announce();
    return finish(
      "forbidden",
      errorContent(`agent ${c.agent} is not permitted to call ${tool.name}`, { availableTools: available() }),
    );
  }
  if (c.failures.isDisabled(tool.name)) {
    await announce();
    return finish(
      "disabled",
      errorContent(`${tool.name} is disabled for the rest of this run after repeated failures`),
    );
  }
  const args = typeof call.arguments === "string" ? undefined : call.arguments;
  if (args === undefined) {
    await announce();
    return finish("invalid-arguments", errorContent("the arguments are not valid JSON", { received: call.arguments }));
  }
  const parsed = tool.parameters.safeParse(args);
  if (!parsed.success) {
    await announce();
    return finish(
      "invalid-arguments",
      errorContent("invalid arguments; fix them and call again", { issues: describeIssues(parsed.error.issues) }),
    );
  }
  const count = (c.callCounts.get(tool.name) ?? 0) + 1;
  c.callCounts.set(tool.name, count);
  if (policy.maxCalls !== undefined && count > policy.maxCalls) {
    await announce();
    return finish("forbidden", errorContent(`${tool.name} may be called at most ${policy.maxCalls} times in this run`));
  }
  const intent = c.journal.get(callKey);
  if (intent && tool.sideEffects) {
    // The process stopped between starting this call and recording its result: the effect may
    // or may not have happened, so it is not repeated behind the model's back.
    await announce();
    return finish(
      "interrupted",
      errorContent(
        `${tool.name} was started before the run was interrupted and its outcome is unknown; it was not repeated`,
        { hint: "Check whether it took effect (e.g. with a read-only tool) before calling it again." },
      ),
    );
  }
  const approval = policy.approval ?? "auto";
  const needsApproval = approval === "always" || (approval === "auto" && tool.sideEffects);
  let approved: boolean | undefined;
  let refusal = "";
  if (needsApproval && !intent) {
    if (c.approve) {
      approved = await c.approve({ runId: c.runId, agent: c.agent, tool, call, arguments: parsed.data });
      if (!approved) refusal = `the user did not approve calling ${tool.name}`;
    } else if (tool.sideEffects && c.policies.allowSideEffects) {
      approved = true;
    } else {
      approved = false;
      refusal = `${tool.name} needs approval and no approval gate is configured; do not retry it`;
    }
  }
  // The intent is recorded before running: it is how a resume knows the call was started.
  await announce(approved);
  if (approved === false) return finish("denied", errorContent(refusal));
  const remaining = c.remainingWallMs();
  const limit = Math.max(1, Math.min(policy.timeoutMs ?? tool.timeoutMs, remaining ?? Number.POSITIVE_INFINITY));
  const maxChars = c.policies.maxResultChars ?? 20_000;
  const run = async (): Promise<CallResult> => {
    try {
      const value = await withTimeout(limit, c.signal, (signal) => {
        const ctx: AgentToolContext = {
          signal,
          callId: call.id,
          step: c.step,
          runId: c.runId,
          agent: c.agent,
          key: base,
          idempotencyKey: `${c.runId}/${base}`,
        };
        return Promise.resolve(tool.execute(parsed.data, ctx));
      });
      return finish("ok", asContent(value, maxChars));
    } catch (err) {
      if (c.signal.aborted) return { aborted: true };
      if (err instanceof ToolTimeout) {
        const wall = remaining !== undefined && limit === Math.max(1, remaining);
        return finish(
          "timeout",
          errorContent(
            wall
              ? `${tool.name} was stopped when the run's wall-time budget ran out`
              : `${tool.name} timed out after ${limit} ms`,
          ),
        );
      }
      const message = err instanceof Error ? err.message : String(err);
      return finish("error", errorContent(`${tool.name} failed: ${message}`));
    }
  };
  return c.tracer(
    "tool",
    tool.name,
    { agent: c.agent, runId: c.runId, callId: call.id, step: c.step, sideEffects: tool.sideEffects },
    async (span) => {
      const r = await run();
      if ("aborted" in r) span.setAttributes({ status: "aborted" });
      else {
        span.setAttributes({ status: r.outcome.status, durationMs: r.outcome.durationMs });
        if (r.outcome.status !== "ok") span.recordError(new Error(r.outcome.content));
      }
      return r;
    },
  );
}
