import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "@quintet/core";
import {
  type ChatMessage,
  createLlm,
  defineTool,
  type FakeOpenAI,
  LsaEmbedder,
  ProviderEmbedder,
  startFakeOpenAI,
} from "@quintet/llm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { Agent } from "../agent/agent.js";
import type { RunEvent } from "../runs/events.js";
import { EpisodicMemory } from "./episodic.js";
import { SemanticMemory } from "./semantic.js";
import { recallEpisodesTool } from "./tools.js";
import { SUMMARY_PREFIX, WorkingMemory } from "./working.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-memory-"));
let fake: FakeOpenAI;
let store: Store;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
  store = await openStore({ url: `sqlite:${join(dir, "memory.db")}` });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await store.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});
const llm = () =>
  createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry: { maxRetries: 0 }, env: {} });

const corpus = [
  "The user prefers dark mode in every app.",
  "The user lives in Lisbon and works remotely.",
  "Invoices are paid within thirty days.",
  "The team ships releases every Tuesday.",
  "Refunds take five business days to arrive.",
  "The customer asked for weekly reports by email.",
];

describe("working memory", () => {
  it("condenses the middle of a long conversation without separating tool calls from results", () => {
    const wm = new WorkingMemory({ maxTokens: 120, keepRecent: 2 });
    const long = "word ".repeat(40);
    const messages: ChatMessage[] = [
      { role: "system", content: "You are helpful." },
      { role: "user", content: "the task" },
      { role: "assistant", content: long },
      { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "t", arguments: {} }] },
      { role: "tool", toolCallId: "c1", name: "t", content: long },
      { role: "assistant", content: "", toolCalls: [{ id: "c2", name: "t", arguments: {} }] },
      { role: "tool", toolCallId: "c2", name: "t", content: "short" },
    ];
    const plan = wm.plan(messages)!;
    // keepRecent would cut between c2's call and result: the cut moves before the call
    expect([plan.start, plan.end]).toEqual([2, 5]);
    expect(plan.transcript).toContain("[tool t result]");
    const after = wm.apply(messages, plan, "it did things");
    expect(after.map((m) => m.role)).toEqual(["system", "user", "user", "assistant", "tool"]);
    expect(after[2]!.content).toBe(`${SUMMARY_PREFIX}\nit did things`);
    expect(wm.plan(after)).toBeUndefined();
    expect(() => new WorkingMemory({ maxTokens: 10 })).toThrow(/maxTokens/);
  });

  it("summarises through the agent's model when the context outgrows its budget", async () => {
    const big = defineTool({
      name: "fetch_page",
      description: "fetches a page",
      parameters: z.object({ n: z.number() }),
      execute: ({ n }) => `page ${n}: ${"lorem ipsum ".repeat(60)}`,
    });
    let pages = 0;
    fake.script.chat((req) => {
      const system = String(req.body.messages[0].content);
      if (system.startsWith("You condense")) return { content: "Fetched pages 1 and 2; both were filler text." };
      return pages < 3
        ? { toolCalls: [{ name: "fetch_page", arguments: { n: ++pages } }] }
        : { content: "done reading" };
    });
    const agent = new Agent({
      name: "reader",
      instructions: "Read pages.",
      model: llm(),
      tools: [big],
      memory: { working: new WorkingMemory({ maxTokens: 300, keepRecent: 2 }) },
    });
    const run = agent.run("read three pages");
    const events: RunEvent[] = [];
    for await (const e of run) events.push(e);
    const r = await run.result;
    expect(r.status).toBe("done");
    const compactions = events.filter((e) => e.type === "compaction") as Extract<RunEvent, { type: "compaction" }>[];
    expect(compactions.length).toBeGreaterThanOrEqual(1);
    expect(compactions[0]!.tokensAfter).toBeLessThan(compactions[0]!.tokensBefore);
    const summariser = fake.chatRequests().find((b) => String(b.messages[0].content).startsWith("You condense"));
    expect(summariser.messages[1].content).toContain("[tool fetch_page result] page 1");
    const last = fake.chatRequests().at(-1);
    expect(last.messages.some((m: { content: string }) => String(m.content).startsWith(SUMMARY_PREFIX))).toBe(true);
    // summaries are model calls too: they count against the budget
    expect(r.steps).toBe(4 + compactions.length);
  });
});

describe("episodic memory", () => {
  it("records every action, observation and outcome of a run and finds them by words", async () => {
    const episodic = await EpisodicMemory.open(store);
    const lookup = defineTool({
      name: "lookup_invoice",
      description: "finds an invoice",
      parameters: z.object({ id: z.string() }),
      execute: ({ id }) => `invoice ${id}: 120 EUR, paid on 3 March`,
    });
    fake.script.chat([
      { toolCalls: [{ name: "lookup_invoice", arguments: { id: "A-7" } }] },
      { content: "Invoice A-7 was paid." },
    ]);
    const agent = new Agent({
      name: "clerk",
      instructions: "Answer about invoices.",
      model: llm(),
      tools: [lookup],
      memory: { episodic, scope: { agent: "clerk", user: "ana" } },
    });
    const r = await agent.run("Was A-7 paid?", { runId: "ep-1" }).result;
    expect(r.status).toBe("done");
    const recent = await episodic.recent({ runId: "ep-1" });
    expect(recent.map((e) => e.kind)).toEqual(["outcome", "observation", "action"]);
    const hits = await episodic.search("invoice amount in EUR", { scope: { agent: "clerk" } });
    expect(hits[0]!.text).toContain("lookup_invoice returned (ok): invoice A-7: 120 EUR, paid on 3 March");
    expect(hits[0]!.scope).toEqual({ agent: "clerk", user: "ana" });
    expect(await episodic.search("invoice", { scope: { agent: "someone-else" } })).toEqual([]);
    // recording the same step again (a replay) stores it once
    await episodic.record({ runId: "ep-1", key: recent[0]!.key, kind: "outcome", agent: "clerk", text: "dup" });
    expect(await episodic.recent({ runId: "ep-1" })).toHaveLength(3);

    // an agent can search its own past with a tool
    fake.script.chat([
      { toolCalls: [{ name: "recall_episodes", arguments: { query: "invoice A-7 paid" } }] },
      { content: "I looked it up before: paid on 3 March." },
    ]);
    const rememberer = new Agent({
      name: "clerk2",
      instructions: "Use your memory.",
      model: llm(),
      tools: [recallEpisodesTool(episodic, { agent: "clerk" })],
    });
    await rememberer.run("What did you find about A-7?").result;
    const toolMsg = fake.chatRequests()[1].messages.find((m: { role: string }) => m.role === "tool");
    expect(toolMsg.content).toContain("paid on 3 March");
  });
});

describe("semantic memory", () => {
  const embedder = new LsaEmbedder({ dimensions: 8 }).fit(corpus);

  it("deduplicates facts, keeps their sources, and recalls by meaning within a scope", async () => {
    const mem = await SemanticMemory.open(store, { embedder });
    const a = await mem.remember(
      { text: "The user prefers dark mode.", kind: "preference", source: "chat-1" },
      { user: "ana" },
    );
    const b = await mem.remember({ text: "the user PREFERS dark mode", source: "chat-2" }, { user: "ana" });
    expect(b.merged).toBe(true);
    expect(b.fact.id).toBe(a.fact.id);
    expect(b.fact.sources).toEqual(["chat-1", "chat-2"]);
    expect(b.fact.hits).toBe(2);
    const c = await mem.remember({ text: "The user lives in Lisbon.", source: "chat-2" }, { user: "ana" });
    expect(c.merged).toBe(false);
    await mem.remember({ text: "The user lives in Porto." }, { user: "bob" });
    await mem.remember({ text: "Refunds take five business days." }, {});
    const recalled = await mem.recall("where does the user live", { scope: { user: "ana", agent: "helper" } });
    expect(recalled[0]!.text).toBe("The user lives in Lisbon.");
    // Bob's fact is not visible to Ana's agents; the global fact is
    const visible = (await mem.list({ user: "ana" })).map((f) => f.text);
    expect(visible).toEqual(expect.arrayContaining(["The user lives in Lisbon.", "Refunds take five business days."]));
    expect(visible).not.toContain("The user lives in Porto.");
    await expect(mem.remember({ text: "  " })).rejects.toThrow(/invalid fact/);
  });

  it("lets unreinforced facts decay, prunes them, and re-embeds facts made by another embedder", async () => {
    let now = Date.UTC(2026, 0, 1);
    const other = await openStore({ url: `sqlite:${join(dir, "decay.db")}` });
    const mem = await SemanticMemory.open(other, { embedder, halfLifeDays: 10, now: () => now });
    await mem.remember({ text: "The team ships releases every Tuesday." });
    now += 10 * 86_400_000;
    const [f] = await mem.recall("when are releases shipped");
    expect(f!.score).toBeCloseTo(f!.similarity * 0.5, 6);
    now += 60 * 86_400_000;
    expect(await mem.prune(0.05)).toBe(1);
    expect(await mem.list()).toEqual([]);
    await mem.remember({ text: "Invoices are paid within thirty days." });
    const provider = new ProviderEmbedder(
      createLlm("openai:text-embedding-3-small", { apiKey: "k", baseURL: fake.url, env: {} }),
    );
    const switched = await SemanticMemory.open(other, { embedder: provider, now: () => now });
    const found = await switched.recall("invoices paid within thirty days");
    expect(found[0]!.text).toBe("Invoices are paid within thirty days.");
    expect(fake.requests.filter((r) => r.path === "/v1/embeddings")).toHaveLength(1);
    await other.close();
  });

  it("with a LanceDB vector index: the same dedup, scoping and recall, forgetting, and a rebuild when the index lags the store", async () => {
    const lance = join(dir, "facts-lance");
    const db = await openStore({ url: `sqlite:${join(dir, "lance.db")}` });
    const mem = await SemanticMemory.open(db, { embedder, vectorIndex: lance });
    const a = await mem.remember({ text: "The user prefers dark mode.", source: "chat-1" }, { user: "ana" });
    const b = await mem.remember({ text: "the user PREFERS dark mode", source: "chat-2" }, { user: "ana" });
    expect(b).toMatchObject({ merged: true, fact: { id: a.fact.id, hits: 2 } });
    await mem.remember({ text: "The user lives in Lisbon." }, { user: "ana" });
    await mem.remember({ text: "The user lives in Porto." }, { user: "bob" });
    await mem.remember({ text: "Refunds take five business days." }, {});
    const recalled = await mem.recall("where does the user live", { scope: { user: "ana" } });
    expect(recalled[0]!.text).toBe("The user lives in Lisbon.");
    expect(recalled.map((f) => f.text)).not.toContain("The user lives in Porto.");
    const { FactVectorIndex } = await import("./fact-index.js");
    // A fresh handle each time: an open LanceDB table reads the version it was opened at.
    const indexed = async () => (await FactVectorIndex.open(lance)).count();
    expect(await indexed()).toBe(4);
    await mem.forget(a.fact.id);
    expect(await indexed()).toBe(3);

    // A fact written to the store but not the index (a crash between the two) is found after reopening.
    const plain = await SemanticMemory.open(db, { embedder });
    await plain.remember({ text: "Invoices are paid within thirty days." }, {});
    expect(await indexed()).toBe(3);
    const reopened = await SemanticMemory.open(db, { embedder, vectorIndex: lance });
    expect(await indexed()).toBe(4);
    expect((await reopened.recall("when are invoices paid"))[0]!.text).toBe("Invoices are paid within thirty days.");
    await db.close();
  });

  it("puts recalled facts into the agent's instructions", async () => {
    const mem = await SemanticMemory.open(store, { embedder });
    await mem.remember({ text: "The customer asked for weekly reports by email.", source: "call-9" }, { user: "cara" });
    fake.script.chat([{ content: "I will email the weekly report." }]);
    const agent = new Agent({
      name: "assistant",
      instructions: "Help the customer.",
      model: llm(),
      memory: { semantic: mem, scope: { user: "cara" } },
    });
    const run = agent.run("How should I send the customer their reports?");
    const events: RunEvent[] = [];
    for await (const e of run) events.push(e);
    expect(events[0]).toMatchObject({ type: "memory-recall" });
    expect(fake.chatRequests()[0].messages[0].content).toContain("- The customer asked for weekly reports by email.");
  });
});
