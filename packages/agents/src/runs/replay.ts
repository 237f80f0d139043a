import type { Store } from "@quintet/core";
import type { Usage } from "@quintet/llm";
import { type RunEvent, usageOf } from "./events.js";
import { type RunRecord, RunStore } from "./run-store.js";

/** One step of a replay: the event and the run's totals up to and including it. */
export interface ReplayStep {
  event: RunEvent;
  /** 1-based position in the replay. */
  index: number;
  total: number;
  totals: { modelCalls: number; usage: Usage; costUsd: number | undefined; toolCalls: number };
}

/** A stored run and its events in record order. */
export async function loadRun(store: Store, runId: string): Promise<{ run: RunRecord; events: RunEvent[] }> {
  const runs = await RunStore.open(store);
  const run = await runs.get(runId);
  const steps = await runs.steps(runId);
  const events = steps.map(
    (s) => ({ ...s.event, runId, seq: s.seq, key: s.key, at: s.at, replayed: false }) as unknown as RunEvent,
  );
  return { run, events };
}

/**
 * Replays a recorded run step by step, for debugging: each event in the order it happened,
 * with the running totals (model calls, tokens, cost, tool calls) at that point. Nothing is
 * executed again.
 */
export async function* replayRun(store: Store, runId: string): AsyncGenerator<ReplayStep> {
  const { events } = await loadRun(store, runId);
  let usage: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  let costUsd: number | undefined;
  let modelCalls = 0;
  let toolCalls = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const u = usageOf(event);
    if (u) {
      modelCalls++;
      usage = {
        inputTokens: usage.inputTokens + u.usage.inputTokens,
        outputTokens: usage.outputTokens + u.usage.outputTokens,
        totalTokens: usage.totalTokens + u.usage.totalTokens,
      };
      if (u.costUsd !== undefined) costUsd = (costUsd ?? 0) + u.costUsd;
    }
    if (event.type === "tool-result") toolCalls++;
    yield { event, index: i + 1, total: events.length, totals: { modelCalls, usage, costUsd, toolCalls } };
  }
}
