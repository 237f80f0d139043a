import { toQuintetError } from "@quintet/core";
import type { ChatMessage, GenerateResult, LlmClient, Tool, ToolSpec, Usage } from "@quintet/llm";
import { Budget, type StopInfo } from "../control/budget.js";
import { FailureTracker } from "../control/correction.js";
import { LoopDetector } from "../control/loop-detector.js";
import type { EpisodicMemory } from "../memory/episodic.js";
import type { MemoryScope } from "../memory/scope.js";
import type { SemanticMemory } from "../memory/semantic.js";
import { SUMMARISER_INSTRUCTIONS, type WorkingMemory } from "../memory/working.js";
import type { RunContext, RunSummary } from "../runs/driver.js";
import type { RecordedError, RunEvent, RunEventBody } from "../runs/events.js";
import { type ApprovalGate, executeCall, type ToolOutcome, type ToolRunContext } from "./execute-tool.js";
import type { AgentPolicies } from "./policies.js";

/** The memories an agent uses; each is optional. */
export interface AgentMemory {
  /** Keeps the context within a token budget by summarising older messages. */
  working?: WorkingMemory | undefined;
  /** Records every action, observation and outcome. */
  episodic?: EpisodicMemory | undefined;
  /** Facts recalled into the instructions at the start of a run. */
  semantic?: SemanticMemory | undefined;
  /** Whose memory (default `{ agent: <name> }`). */
  scope?: MemoryScope | undefined;
  /** Facts recalled at the start (default 5). */
  recallFacts?: number | undefined;
}

/** An agent's resolved configuration. */
export interface AgentSpec {
  name: string;
  instructions: string;
  model: LlmClient;
  tools: readonly Tool[];
  policies: AgentPolicies;
  memory: AgentMemory | undefined;
  approve: ApprovalGate | undefined;
  temperature: number | undefined;
  maxOutputTokens: number | undefined;
}

/** Where an agent runs: inside a run (its own, or a team's). */
export interface LoopContext {
  run: RunContext;
  /** Step-key prefix, e.g. `task:t1/a1/` inside a team; "" for a run of its own. */
  prefix: string;
  /** The team's budget, charged as well. */
  parentBudget?: Budget | undefined;
  /** Overrides the agent's approval gate for this run. */
  approve?: ApprovalGate | undefined;
  /** Tools added for this run only (handoffs). */
  extraTools?: readonly Tool[] | undefined;
  /** Appended to the instructions (team context, results of earlier tasks). */
  context?: string | undefined;
  /** Earlier conversation to continue from. */
  history?: readonly ChatMessage[] | undefined;
}

/** How an agent's run ended. */
export interface AgentResult extends RunSummary {
  agent: string;
  /** The conversation as the model last saw it (after any compaction), plus its last answer. */
  messages: ChatMessage[];
  toolCalls: number;
}

const ZERO: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };

function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}

type ModelCallEvent = Extract<RunEventBody, { type: "model-call" }>;
type CompactionEvent = Extract<RunEventBody, { type: "compaction" }>;

/** A signal that fires on the caller's abort or when the wall-time budget runs out. */
function stepSignal(outer: AbortSignal, remainingMs: number | undefined): { signal: AbortSignal; wall?: AbortSignal } {
  if (remainingMs === undefined) return { signal: outer };
  const wall = AbortSignal.timeout(Math.max(1, Math.floor(remainingMs)));
  return { signal: AbortSignal.any([outer, wall]), wall };
}

/**
 * The agent loop: ask the model, run the tools it calls, feed results (and corrections)
 * back, until it answers or a limit stops it. Every model call and tool call goes through
 * the run's journal, so a resumed run replays recorded steps and continues at the first
 * unrecorded one.
 */
export async function runAgentLoop(spec: AgentSpec, input: string, ctx: LoopContext): Promise<AgentResult> {
  const { run, prefix } = ctx;
  const journal = run.journal;
  const { maxSteps, maxTokens, maxCostUsd, maxWallMs } = spec.policies;
  const budget = new Budget(
    { maxSteps, maxTokens, maxCostUsd, maxWallMs },
    () => journal.elapsedMs(),
    `agent ${spec.name}`,
    ctx.parentBudget,
  );
  const failures = new FailureTracker(spec.policies.maxToolFailures ?? 3);
  const loops = new LoopDetector(spec.policies.loop ?? {});
  const memory = spec.memory;
  const scope: MemoryScope = memory?.scope ?? { agent: spec.name };
  const approve = ctx.approve ?? spec.approve;
  let usage = ZERO;
  let cost: number | undefined;
  let toolCallCount = 0;
  let lastText = "";
  let currentStep = 0;

  const emit = async (key: string, body: RunEventBody, options?: { defer?: boolean }): Promise<RunEvent> => {
    const event = await run.emit(key, body, options);
    if (memory?.episodic) await memory.episodic.recordEvent(event, scope);
    return event;
  };
  const charge = (u: Usage, c: number | undefined) => {
    usage = addUsage(usage, u);
    if (c !== undefined) cost = (cost ?? 0) + c;
    budget.charge(u, c);
  };

  const tools = new Map<string, Tool>();
  for (const t of [...spec.tools, ...(ctx.extraTools ?? [])]) tools.set(t.name, t);
  const extra = new Set((ctx.extraTools ?? []).map((t) => t.name));
  const allowedList = spec.policies.allowedTools;
  const allowed = (name: string) => extra.has(name) || !allowedList || allowedList.includes(name);

  // Instructions, recalled facts, team context.
  let system = spec.instructions;
  if (memory?.semantic) {
    const key = `${prefix}recall`;
    let recalled = journal.get(key)?.event as Extract<RunEventBody, { type: "memory-recall" }> | undefined;
    if (!recalled) {
      const facts = await memory.semantic.recall(input, { scope, k: memory.recallFacts ?? 5, signal: run.signal });
      recalled = {
        type: "memory-recall",
        agent: spec.name,
        facts: facts.map((f) => ({ id: f.id, text: f.text, score: f.score, source: f.sources[0] })),
      };
    }
    await emit(key, recalled);
    if (recalled.facts.length) {
      system += `\n\nWhat you remember that may be relevant:\n${recalled.facts.map((f) => `- ${f.text}`).join("\n")}`;
    }
  }
  if (ctx.context) system += `\n\n${ctx.context}`;
  let messages: ChatMessage[] = [
    { role: "system", content: system },
    ...(ctx.history ?? []),
    { role: "user", content: input },
  ];

  const finish = async (stop: StopInfo, error?: RecordedError): Promise<AgentResult> => {
    const body: RunEventBody =
      stop.reason === "done"
        ? { type: "final", agent: spec.name, output: lastText }
        : {
            type: "stopped",
            agent: spec.name,
            reason: stop.reason,
            detail: stop.detail,
            output: lastText,
            ...(error ? { error } : {}),
          };
    // Keyed by step and kind: a run stopped (cancelled) at a step and resumed ends under another key.
    await emit(`${prefix}s${currentStep}/${body.type}`, body);
    return {
      runId: run.runId,
      agent: spec.name,
      status: stop.reason === "done" ? "done" : stop.reason === "error" ? "failed" : "stopped",
      stop,
      output: lastText,
      usage,
      costUsd: cost,
      steps: budget.steps,
      ...(error ? { error } : {}),
      messages,
      toolCalls: toolCallCount,
    };
  };

  const failed = (err: unknown, wall: AbortSignal | undefined): { stop: StopInfo; error?: RecordedError } => {
    if (run.signal.aborted) return { stop: { reason: "aborted", detail: "the run was cancelled" } };
    if (wall?.aborted) {
      return { stop: budget.check() ?? { reason: "max-wall-time", detail: "the wall-time budget ran out" } };
    }
    const e = toQuintetError(err).toJSON();
    return { stop: { reason: "error", detail: e.message }, error: e };
  };

  const callCounts = new Map<string, number>();
  /** One model step and its tool calls; returns the result when the agent is finished. */
  const doStep = async (step: number): Promise<AgentResult | undefined> => {
    currentStep = step;
    if (run.signal.aborted) return finish({ reason: "aborted", detail: "the run was cancelled" });
    const exhausted = budget.check();
    if (exhausted) return finish(exhausted);

    // Working memory: condense older messages when over the token budget.
    if (memory?.working) {
      const plan = memory.working.plan(messages);
      if (plan) {
        const key = `${prefix}s${step}/compact`;
        let rec = journal.get(key)?.event as CompactionEvent | undefined;
        if (!rec) {
          const { signal, wall } = stepSignal(run.signal, budget.remainingWallMs());
          let r: GenerateResult;
          try {
            r = await spec.model.generate({
              messages: [
                { role: "system", content: SUMMARISER_INSTRUCTIONS },
                { role: "user", content: plan.transcript },
              ],
              signal,
              metadata: { agent: spec.name, runId: run.runId, purpose: "compaction" },
            });
          } catch (err) {
            const f = failed(err, wall);
            return finish(f.stop, f.error);
          }
          const after = memory.working.apply(messages, plan, r.text);
          rec = {
            type: "compaction",
            agent: spec.name,
            step,
            summary: r.text,
            removedMessages: plan.end - plan.start,
            tokensBefore: plan.tokensBefore,
            tokensAfter: memory.working.tokens(after),
            usage: r.usage,
            ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}),
          };
        }
        await emit(key, rec);
        charge(rec.usage, rec.costUsd);
        messages = memory.working.apply(messages, plan, rec.summary);
        const afterSummary = budget.check();
        if (afterSummary) return finish(afterSummary);
      }
    }

    const specs: ToolSpec[] = [];
    for (const t of tools.values()) if (allowed(t.name) && !failures.isDisabled(t.name)) specs.push(t.spec);
    const modelKey = `${prefix}s${step}/model`;
    let call = journal.get(modelKey)?.event as ModelCallEvent | undefined;
    if (!call) {
      const { signal, wall } = stepSignal(run.signal, budget.remainingWallMs());
      let r: GenerateResult;
      try {
        r = await spec.model.generate({
          messages,
          ...(specs.length ? { tools: specs } : {}),
          ...(spec.temperature !== undefined ? { temperature: spec.temperature } : {}),
          ...(spec.maxOutputTokens !== undefined ? { maxOutputTokens: spec.maxOutputTokens } : {}),
          signal,
          metadata: { agent: spec.name, runId: run.runId },
        });
      } catch (err) {
        const f = failed(err, wall);
        return finish(f.stop, f.error);
      }
      call = {
        type: "model-call",
        agent: spec.name,
        step,
        text: r.text,
        toolCalls: r.toolCalls,
        finishReason: r.finishReason,
        usage: r.usage,
        ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}),
        latencyMs: Math.round(r.latencyMs),
        model: r.model,
      };
    }
    // A final answer is written together with the final event that follows at once.
    await emit(modelKey, call, { defer: call.toolCalls.length === 0 });
    charge(call.usage, call.costUsd);
    if (call.text) lastText = call.text;
    messages.push({
      role: "assistant",
      content: call.text,
      ...(call.toolCalls.length ? { toolCalls: call.toolCalls } : {}),
    });
    if (call.toolCalls.length === 0) return finish({ reason: "done", detail: "the agent gave its answer" });

    // Calls the model would never see the results of are not run (they may have side effects).
    const afterCall = budget.check();
    if (afterCall) {
      messages.pop();
      messages.push({ role: "assistant", content: call.text });
      return finish(afterCall);
    }

    const toolCtx: ToolRunContext = {
      agent: spec.name,
      runId: run.runId,
      journal,
      prefix,
      step,
      signal: run.signal,
      tracer: run.tracer,
      tools,
      allowed,
      policies: spec.policies,
      approve,
      failures,
      callCounts,
      remainingWallMs: () => budget.remainingWallMs(),
      emit,
    };
    const calls = call.toolCalls;
    const results =
      spec.policies.parallelToolCalls === false
        ? await calls.reduce<Promise<Awaited<ReturnType<typeof executeCall>>[]>>(
            async (acc, c, i) => [...(await acc), await executeCall(c, i, toolCtx)],
            Promise.resolve([]),
          )
        : await Promise.all(calls.map((c, i) => executeCall(c, i, toolCtx)));
    if (results.some((r) => "aborted" in r))
      return finish({ reason: "aborted", detail: "the run was cancelled during a tool call" });
    const outcomes = results.map((r) => (r as { outcome: ToolOutcome }).outcome);
    toolCallCount += outcomes.length;
    const notes: string[] = [];
    let loopStop: StopInfo | undefined;
    for (const o of outcomes) {
      messages.push({ role: "tool", toolCallId: o.callId, name: o.name, content: o.content });
      const note = failures.observe(o.name, o.status === "ok", o.status);
      if (note) notes.push(note);
      const verdict = loops.observe(o.name, o.arguments, o.content);
      if (verdict.verdict === "warn") notes.push(verdict.note);
      if (verdict.verdict === "stop" && !loopStop) loopStop = { reason: "loop-detected", detail: verdict.detail };
    }
    if (loopStop) return finish(loopStop);
    if (notes.length) {
      const text = [...new Set(notes)].join("\n");
      await emit(`${prefix}s${step}/note`, { type: "note", agent: spec.name, step, text });
      messages.push({ role: "user", content: `[orchestrator] ${text}` });
    }
    return undefined;
  };
  for (let step = 1; ; step++) {
    const done = await run.tracer(
      "agent.step",
      `${spec.name} step ${step}`,
      { agent: spec.name, runId: run.runId, step },
      async (span) => {
        const r = await doStep(step);
        if (r) span.setAttributes({ stopReason: r.stop.reason });
        return r;
      },
    );
    if (done) return done;
  }
}
