import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, SpanQuery, startTracing } from "@quintet/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { checkCitations } from "../guards/citations.js";
import { type FakeOpenAI, startFakeOpenAI } from "../testing/fake-openai/index.js";
import { defineTool } from "../tools/define-tool.js";
import { runToolLoop } from "../tools/run-tool-loop.js";
import { createLlm } from "./create.js";
import type { SpanRunner } from "./traced.js";

interface Recorded {
  kind: string;
  name: string;
  attrs: Record<string, unknown>;
  usage: unknown[];
  errors: unknown[];
  ended: boolean;
}

/** A span runner that records what the LLM layer writes, in the shape of core's withSpan. */
function recorder() {
  const spans: Recorded[] = [];
  const tracer: SpanRunner = async (kind, name, attrs, fn) => {
    const s: Recorded = { kind, name, attrs: { ...attrs }, usage: [], errors: [], ended: false };
    spans.push(s);
    try {
      return await fn({
        setAttributes: (a) => Object.assign(s.attrs, a),
        setUsage: (u) => void s.usage.push(u),
        recordError: (e) => void s.errors.push(e),
      });
    } finally {
      s.ended = true;
    }
  };
  return { spans, tracer };
}

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

const retry = { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 2 };
const user = [{ role: "user" as const, content: "hi" }];

describe("call tracing", () => {
  it("records one llm.call span per call with usage and cost once, despite retries", async () => {
    const { spans, tracer } = recorder();
    const llm = createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry, env: {}, tracer });
    fake.script.chat([{ status: 500 }, { content: "ok", usage: { inputTokens: 100, outputTokens: 50 } }]);
    await llm.generate({ messages: user, temperature: 0.3, metadata: { promptVersion: "greet@3f2a" } });
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({
      kind: "llm.call",
      attrs: {
        provider: "openai",
        model: "gpt-4o-mini",
        promptVersion: "greet@3f2a",
        temperature: 0.3,
        finishReason: "stop",
        attempts: 2,
      },
      ended: true,
    });
    expect(spans[0]!.attrs.latencyMs).toEqual(expect.any(Number));
    expect(spans[0]!.usage).toEqual([{ inputTokens: 100, outputTokens: 50, costUsd: (100 * 0.15 + 50 * 0.6) / 1e6 }]);
  });

  it("records a failed call as an error with its attempts and no usage", async () => {
    const { spans, tracer } = recorder();
    const llm = createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry, env: {}, tracer });
    fake.script.chat(() => ({ status: 429, retryAfter: 0.001 }));
    await expect(llm.generate({ messages: user })).rejects.toMatchObject({ code: "RATE_LIMITED" });
    expect(spans[0]!.attrs).toMatchObject({ errorCode: "RATE_LIMITED", attempts: 4 });
    expect(spans[0]!.errors).toHaveLength(1);
    expect(spans[0]!.usage).toEqual([]);
  });

  it("keeps a stream's span open until the stream ends, and notes an early stop", async () => {
    const { spans, tracer } = recorder();
    const llm = createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry, env: {}, tracer });
    fake.script.chat([{ content: "a b c" }, { content: "x y z w", chunkDelayMs: 5 }]);
    let text = "";
    for await (const e of llm.stream({ messages: user })) {
      if (e.type === "text-delta") text += e.delta;
      expect(spans[0]!.ended).toBe(false);
    }
    expect(text).toBe("a b c");
    expect(spans[0]).toMatchObject({ attrs: { operation: "stream", finishReason: "stop" }, ended: true });
    expect(spans[0]!.usage).toHaveLength(1);

    for await (const e of llm.stream({ messages: user })) if (e.type === "text-delta") break;
    expect(spans[1]).toMatchObject({ attrs: { stoppedByCaller: true }, ended: true, usage: [] });
  });

  it("records embeddings as llm.embed spans", async () => {
    const { spans, tracer } = recorder();
    const llm = createLlm("openai:text-embedding-3-small", { apiKey: "k", baseURL: fake.url, env: {}, tracer });
    await llm.embed!({ texts: ["one two", "three"] });
    expect(spans[0]).toMatchObject({ kind: "llm.embed", attrs: { texts: 2, attempts: 1, dimensions: 64 } });
    expect(spans[0]!.usage).toEqual([{ inputTokens: 3, outputTokens: 0, costUsd: (3 * 0.02) / 1e6 }]);
  });

  it("records each tool execution as a tool span, failures as errors", async () => {
    const { spans, tracer } = recorder();
    const llm = createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, env: {}, tracer });
    const ok = defineTool({ name: "ok", description: "", parameters: z.object({}), execute: () => 1 });
    const bad = defineTool({
      name: "bad",
      description: "",
      parameters: z.object({}),
      execute: () => {
        throw new Error("nope");
      },
    });
    fake.script.chat([
      {
        toolCalls: [
          { id: "1", name: "ok", arguments: {} },
          { id: "2", name: "bad", arguments: {} },
        ],
      },
      { content: "done" },
    ]);
    await runToolLoop({ llm, messages: user, tools: [ok, bad], tracer });
    const tools = spans.filter((s) => s.kind === "tool");
    expect(tools.map((s) => [s.name, s.attrs.status, s.errors.length])).toEqual([
      ["ok", "ok", 0],
      ["bad", "error", 1],
    ]);
    expect(spans.filter((s) => s.kind === "llm.call")).toHaveLength(2);
  });
});

describe("the default tracer: core's withSpan", () => {
  it("records calls, tool runs and guard verdicts into the project trace once tracing is started", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quintet-llm-trace-"));
    const store = await openStore({ url: `sqlite:${join(dir, "quintet.db")}` });
    try {
      const llm = createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry, env: {} });
      fake.script.chat({ content: "untraced" });
      await llm.generate({ messages: user }); // tracing not started: nothing recorded, nothing fails

      const tracing = await startTracing(store);
      fake.script.chat([
        { content: "hello", usage: { inputTokens: 100, outputTokens: 50 } },
        { content: JSON.stringify({ supported: false, reason: "not stated" }) },
      ]);
      await llm.generate({ messages: user, metadata: { promptVersion: "greet@1" } });
      await checkCitations("The tower was painted green [1].", ["The tower is 330 metres tall."], {
        judge: llm,
        judgeMode: "all",
      });
      await tracing.shutdown();

      const spans = await new SpanQuery(store).list({ limit: 10 });
      const calls = spans.filter((s) => s.kind === "llm.call");
      expect(calls).toHaveLength(2);
      const first = calls.find((s) => s.attributes.promptVersion === "greet@1")!;
      expect(first).toMatchObject({
        inputTokens: 100,
        outputTokens: 50,
        status: "ok",
        attributes: { provider: "openai", model: "gpt-4o-mini", finishReason: "stop" },
      });
      expect(first.costUsd).toBeCloseTo((100 * 0.15 + 50 * 0.6) / 1e6, 12);
      const guard = spans.find((s) => s.kind === "guard")!;
      expect(guard.attributes).toMatchObject({ "guard.name": "citations", "guard.passed": false, "guard.judged": 1 });
      const judged = calls.find((s) => s !== first)!;
      expect(judged.parentId).toBe(guard.spanId);
      expect(judged.traceId).toBe(guard.traceId);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
