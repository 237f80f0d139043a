import type { FinishReason, ToolCall, Usage } from "@quintet/llm";
import type { StopReason } from "../control/budget.js";

/** How one tool call ended. Everything but `ok` went back to the model as an error it can act on. */
export type ToolStatus =
  | "ok"
  | "error"
  | "invalid-arguments"
  | "unknown-tool"
  | "timeout"
  | "denied"
  | "forbidden"
  | "disabled"
  | "interrupted";

/** An error as recorded in a run (a QuintetError's JSON). */
export interface RecordedError {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/** A task of a plan, as recorded. */
export interface PlannedTask {
  id: string;
  title: string;
  description: string;
  dependsOn: string[];
  acceptanceCriteria: string[];
  assignee?: string | undefined;
}

/**
 * Every event of a run, as streamed live and as checkpointed in `agent_steps`. The same
 * union is the record format: a replay reads these back in order.
 */
export type RunEventBody =
  | {
      type: "model-call";
      agent: string;
      step: number;
      text: string;
      toolCalls: ToolCall[];
      finishReason: FinishReason;
      usage: Usage;
      costUsd?: number | undefined;
      latencyMs: number;
      model: string;
    }
  | {
      type: "tool-call";
      agent: string;
      step: number;
      callId: string;
      name: string;
      arguments: unknown;
      sideEffects: boolean;
      /** Present when approval was asked (or refused for want of a gate). */
      approved?: boolean | undefined;
    }
  | {
      type: "tool-result";
      agent: string;
      step: number;
      callId: string;
      name: string;
      status: ToolStatus;
      /** Exactly what the model was sent. */
      content: string;
      durationMs: number;
    }
  | {
      /** Feedback the orchestrator gave the model (self-correction, loop warnings, disabled tools). */
      type: "note";
      agent: string;
      step: number;
      text: string;
    }
  | {
      /** Working memory summarised older messages to fit its token budget. */
      type: "compaction";
      agent: string;
      step: number;
      summary: string;
      removedMessages: number;
      tokensBefore: number;
      tokensAfter: number;
      usage: Usage;
      costUsd?: number | undefined;
    }
  | {
      type: "memory-recall";
      agent: string;
      facts: { id: string; text: string; score: number; source?: string | undefined }[];
    }
  | { type: "final"; agent: string; output: string }
  | {
      type: "stopped";
      agent: string;
      reason: StopReason;
      detail: string;
      /** What was produced before the stop. */
      output: string;
      error?: RecordedError | undefined;
    }
  | {
      type: "handoff";
      agent: string;
      to: string;
      task: string;
      error?: RecordedError | undefined;
    }
  | {
      type: "message";
      agent: string;
      to: string;
      topic: string;
      content: string;
      data?: unknown;
    }
  | { type: "blackboard"; agent: string; name: string; value: unknown }
  | {
      type: "plan";
      agent: string;
      attempt: number;
      tasks: PlannedTask[];
      usage: Usage;
      costUsd?: number | undefined;
      error?: RecordedError | undefined;
    }
  | {
      type: "task";
      agent: string;
      taskId: string;
      attempt: number;
      status: "started" | "done" | "failed" | "skipped";
      output?: string | undefined;
      detail?: string | undefined;
    }
  | {
      type: "critique";
      agent: string;
      taskId: string;
      attempt: number;
      verdict: "pass" | "fail";
      reasons: string[];
      unmetCriteria: string[];
      usage: Usage;
      costUsd?: number | undefined;
    };

export type RunEventType = RunEventBody["type"];

/** Where an event sits in its run. */
export interface EventMeta {
  runId: string;
  /** Order within the run (1-based). */
  seq: number;
  /** The deterministic step key it is checkpointed under. */
  key: string;
  /** Epoch ms when it was first recorded. */
  at: number;
  /** True when read back from an earlier attempt of the run (after a resume). */
  replayed: boolean;
}

export type RunEvent = RunEventBody & EventMeta;

/** The event types that carry model usage; a replay adds them up to the same totals. */
export function usageOf(e: RunEventBody): { usage: Usage; costUsd: number | undefined } | undefined {
  if (e.type === "model-call" || e.type === "compaction" || e.type === "plan" || e.type === "critique") {
    return { usage: e.usage, costUsd: e.costUsd };
  }
  return undefined;
}
