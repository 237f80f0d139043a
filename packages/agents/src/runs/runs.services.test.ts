import { randomUUID } from "node:crypto";
import { openStore, type Store } from "@quintet/core";
import { createLlm, defineTool, type FakeOpenAI, LsaEmbedder, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { Agent } from "../agent/agent.js";
import { EpisodicMemory } from "../memory/episodic.js";
import { SemanticMemory } from "../memory/semantic.js";
import { loadRun } from "./replay.js";
import { RunStore } from "./run-store.js";

// The same run records and memories on PostgreSQL as on SQLite.
const url = process.env.QUINTET_TEST_PG_URL ?? "postgres://root@127.0.0.1:5432/test";
let store: Store;
let fake: FakeOpenAI;
const id = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
beforeAll(async () => {
  store = await openStore({ url });
  fake = await startFakeOpenAI({ onUnscripted: "error" });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
  await store?.close();
});

const llm = () =>
  createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry: { maxRetries: 0 }, env: {} });
const add = defineTool({
  name: "add",
  description: "adds",
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }) => a + b,
});

describe("agent runs on PostgreSQL", () => {
  it("checkpoints, resumes a cancelled run and group-commits concurrent runs", async () => {
    const ac = new AbortController();
    const stop = defineTool({
      name: "stop",
      description: "",
      parameters: z.object({}),
      execute: () => {
        ac.abort();
        return "stopping";
      },
    });
    const agent = new Agent({ name: "pg-calc", instructions: "Add.", model: llm(), tools: [add, stop] });
    const runId = id("pg");
    fake.script.chat([
      { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }] },
      { toolCalls: [{ name: "stop", arguments: {} }] },
    ]);
    expect((await agent.run("x", { store, runId, signal: ac.signal }).result).stop.reason).toBe("aborted");
    fake.script.chat([{ content: "3" }]);
    const r = await agent.resume(runId, { store }).result;
    expect(r).toMatchObject({ status: "done", output: "3", steps: 3 });
    expect(fake.chatRequests()).toHaveLength(3);
    const { run, events } = await loadRun(store, runId);
    expect(run).toMatchObject({ status: "done", steps: 3 });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));

    fake.reset();
    fake.script.chat((req) =>
      req.body.messages.some((m: { role: string }) => m.role === "tool")
        ? { content: "done" }
        : { toolCalls: [{ name: "add", arguments: { a: 1, b: 1 } }] },
    );
    const ids = Array.from({ length: 20 }, () => id("pg-many"));
    const results = await Promise.all(ids.map((rid) => agent.run("x", { store, runId: rid }).result));
    expect(results.every((x) => x.status === "done")).toBe(true);
    const runs = await RunStore.open(store);
    for (const rid of ids)
      expect((await runs.steps(rid)).map((s) => s.type)).toEqual([
        "model-call",
        "tool-call",
        "tool-result",
        "model-call",
        "final",
      ]);
  });

  it("stores and searches episodic and semantic memory", async () => {
    const team = id("team");
    const episodic = await EpisodicMemory.open(store);
    await episodic.record({ kind: "observation", agent: "a", text: "The Invoice A-7 was paid on 3 March" }, { team });
    await episodic.record({ kind: "action", agent: "a", text: "called lookup with A-8" }, { team });
    const hits = await episodic.search("invoice paid", { scope: { team } });
    expect(hits.map((h) => h.text)).toEqual(["The Invoice A-7 was paid on 3 March"]);

    const corpus = ["The user prefers dark mode.", "The user lives in Lisbon.", "Invoices are paid monthly."];
    const semantic = await SemanticMemory.open(store, { embedder: new LsaEmbedder({ dimensions: 3 }).fit(corpus) });
    const user = id("user");
    await semantic.remember({ text: "The user prefers dark mode.", source: "a" }, { user });
    const again = await semantic.remember({ text: "the user prefers dark mode", source: "b" }, { user });
    expect(again).toMatchObject({ merged: true, fact: { sources: ["a", "b"], hits: 2 } });
    await semantic.remember({ text: "The user lives in Lisbon." }, { user });
    const [top] = await semantic.recall("where does the user live", { scope: { user } });
    expect(top!.text).toBe("The user lives in Lisbon.");
  });
});
