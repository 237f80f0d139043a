import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "@quintet/core";
import { createLlm, defineTool, type FakeOpenAI, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { Agent } from "../agent/agent.js";
import type { RunEvent } from "./events.js";
import { loadRun, replayRun } from "./replay.js";
import { RunStore } from "./run-store.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-agents-runs-"));
let fake: FakeOpenAI;
let store: Store;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
  store = await openStore({ url: `sqlite:${join(dir, "runs.db")}` });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await store.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const llm = () =>
  createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry: { maxRetries: 0 }, env: {} });
const add = defineTool({
  name: "add",
  description: "Adds",
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }) => a + b,
});
const agent = (name = "calc") => new Agent({ name, instructions: "Add.", model: llm(), tools: [add] });

describe("run records", () => {
  it("checkpoints every event and replays it step by step with running totals", async () => {
    fake.script.chat([
      { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }], usage: { inputTokens: 10, outputTokens: 5 } },
      { content: "3", usage: { inputTokens: 20, outputTokens: 1 } },
    ]);
    const run = agent().run("1+2?", { store, runId: "rec-1" });
    const live: RunEvent[] = [];
    for await (const e of run) live.push(e);
    const r = await run.result;
    const { run: stored, events } = await loadRun(store, "rec-1");
    expect(stored).toMatchObject({
      id: "rec-1",
      kind: "agent",
      name: "calc",
      input: "1+2?",
      status: "done",
      stop: { reason: "done" },
      output: { output: "3", toolCalls: 1 },
      totalTokens: 36,
      steps: 2,
    });
    expect(stored.costUsd).toBeCloseTo(r.costUsd!, 12);
    expect(events.map(({ replayed: _r, ...e }) => e)).toEqual(live.map(({ replayed: _r, ...e }) => e));
    const steps = [];
    for await (const s of replayRun(store, "rec-1")) steps.push(s);
    expect(steps.map((s) => [s.index, s.event.type, s.totals.modelCalls, s.totals.usage.totalTokens])).toEqual([
      [1, "model-call", 1, 15],
      [2, "tool-call", 1, 15],
      [3, "tool-result", 1, 15],
      [4, "model-call", 2, 36],
      [5, "final", 2, 36],
    ]);
    const runs = await RunStore.open(store);
    expect((await runs.list({ name: "calc" })).map((x) => x.id)).toContain("rec-1");
    await expect(runs.get("nope")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("resumes a cancelled run where it stopped", async () => {
    const ac = new AbortController();
    const cancel = defineTool({
      name: "cancel",
      description: "",
      parameters: z.object({}),
      execute: () => {
        ac.abort();
        return "cancelling";
      },
    });
    const a = new Agent({ name: "canceller", instructions: "x", model: llm(), tools: [add, cancel] });
    fake.script.chat([
      { toolCalls: [{ name: "add", arguments: { a: 2, b: 2 } }] },
      { toolCalls: [{ name: "cancel", arguments: {} }] },
    ]);
    const first = await a.run("go", { store, runId: "cancel-1", signal: ac.signal }).result;
    expect(first.stop.reason).toBe("aborted");
    expect(fake.chatRequests()).toHaveLength(2);
    fake.script.chat([{ content: "4" }]);
    const run = a.resume("cancel-1", { store });
    const events: RunEvent[] = [];
    for await (const e of run) events.push(e);
    const r = await run.result;
    expect(r).toMatchObject({ status: "done", output: "4", steps: 3 });
    // the two recorded model calls were replayed, only the third went to the model
    expect(fake.chatRequests()).toHaveLength(3);
    expect(events.filter((e) => e.type === "model-call").map((e) => e.replayed)).toEqual([true, true, false]);
    // both tool calls had finished before the cancellation was noticed: neither ran again
    const results = events.filter((e) => e.type === "tool-result");
    expect(results.map((e) => e.replayed)).toEqual([true, true]);
    expect(events.at(-1)).toMatchObject({ type: "final", replayed: false });
  });

  it("refuses to resume a finished run, a run of another agent, or a run held by a live process", async () => {
    fake.script.chat([{ content: "done" }]);
    await agent().run("x", { store, runId: "fin-1" }).result;
    await expect(agent().resume("fin-1", { store }).result).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("only an interrupted run can be resumed"),
    });
    const runs = await RunStore.open(store);
    await runs.create({ id: "held-1", kind: "agent", name: "calc", input: "x" }, `other-host:1:abc`, 60_000);
    await expect(agent().resume("held-1", { store }).result).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("is being driven by other-host:1:abc"),
    });
    await expect(agent("other").resume("held-1", { store }).result).rejects.toThrow(/belongs to agent calc/);
    // refusing did not change the run
    expect((await runs.get("held-1")).status).toBe("running");
    // an expired lease can be taken over
    await runs.create({ id: "stale-1", kind: "agent", name: "calc", input: "y" }, `other-host:1:abc`, 1);
    await new Promise((r) => setTimeout(r, 5));
    fake.script.chat([{ content: "resumed" }]);
    expect(await agent().resume("stale-1", { store }).result).toMatchObject({ status: "done", output: "resumed" });
    await expect(agent().run("x", { store, runId: "fin-1" }).result).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(agent().run("x", { store, runId: "bad id!" }).result).rejects.toThrow(/invalid run id/);
  });
});
