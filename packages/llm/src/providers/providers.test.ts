import { QuintetError } from "@quintet/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "../testing/fake-openai/index.js";
import { type CreateLlmOptions, createLlm, createLlmFromEnv } from "./create.js";
import { backoffMs, retryAfterMs } from "./retry.js";
import type { StreamEvent, ToolCall } from "./types.js";
import { parseModelUri } from "./uri.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

const fast = { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 5, maxElapsedMs: 30_000 };
const openai = (o: CreateLlmOptions = {}) =>
  createLlm("openai:gpt-4o-mini", { apiKey: "sk-test", baseURL: fake.url, retry: fast, env: {}, ...o });
const user = (content: string) => [{ role: "user" as const, content }];

async function collect(it: AsyncIterable<StreamEvent>) {
  const events: StreamEvent[] = [];
  for await (const e of it) events.push(e);
  return events;
}

async function failure(p: Promise<unknown>): Promise<QuintetError> {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(QuintetError);
  return err as QuintetError;
}

describe("model URIs and configuration", () => {
  it("parses provider and model, keeping colons in the model", () => {
    expect(parseModelUri("ollama:qwen2.5:7b")).toEqual({
      provider: "ollama",
      model: "qwen2.5:7b",
      uri: "ollama:qwen2.5:7b",
    });
    expect(parseModelUri("llama:C:/models/x.gguf").model).toBe("C:/models/x.gguf");
  });

  it("rejects an unknown scheme listing the valid ones", () => {
    const err = (() => {
      try {
        createLlm("gpt4:turbo");
      } catch (e) {
        return e as QuintetError;
      }
    })()!;
    expect(err.code).toBe("VALIDATION_FAILED");
    expect(err.message).toContain("openai, azure, anthropic, ollama, openai-compatible, llama");
    expect(err.hint).toContain("openai:gpt-4o-mini");
    expect(() => createLlm("openai:")).toThrow(/names no model/);
  });

  it("names the environment variable when a key or endpoint is missing", () => {
    const cases: [string, string][] = [
      ["openai:gpt-4o", "OPENAI_API_KEY"],
      ["anthropic:claude-3-5-haiku-latest", "ANTHROPIC_API_KEY"],
      ["azure:prod", "AZURE_OPENAI_API_KEY"],
      ["openai-compatible:qwen", "QUINTET_LLM_BASE_URL"],
    ];
    for (const [uri, env] of cases) {
      try {
        createLlm(uri, { env: {} });
        expect.unreachable(uri);
      } catch (e) {
        expect((e as QuintetError).code).toBe("PROVIDER_NOT_CONFIGURED");
        expect((e as QuintetError).hint).toContain(env);
      }
    }
    // ollama needs neither key nor URL
    expect(createLlm("ollama:qwen2.5", { env: {} }).uri).toBe("ollama:qwen2.5");
  });

  it("takes the model from QUINTET_LLM, and says how to set it when missing", () => {
    expect(createLlmFromEnv({ env: { QUINTET_LLM: "ollama:qwen2.5" } }).uri).toBe("ollama:qwen2.5");
    try {
      createLlmFromEnv({ env: {} });
      expect.unreachable();
    } catch (e) {
      expect((e as QuintetError).code).toBe("PROVIDER_NOT_CONFIGURED");
      expect((e as QuintetError).hint).toContain("QUINTET_LLM");
    }
  });

  it("reads the key and base URL from the environment", async () => {
    fake.script.chat({ content: "from env" });
    const llm = createLlm("openai:gpt-4o-mini", { env: { OPENAI_API_KEY: "sk-env", OPENAI_BASE_URL: fake.url } });
    expect((await llm.generate({ messages: user("x") })).text).toBe("from env");
    expect(fake.requests[0]!.headers.authorization).toBe("Bearer sk-env");
  });
});

describe("OpenAI-compatible clients against the fake server", () => {
  it("generates text with usage, cost and the request mapped to the wire", async () => {
    fake.script.chat({ content: "Paris.", usage: { inputTokens: 1000, outputTokens: 2000 } });
    const r = await openai().generate({
      messages: [{ role: "system", content: "Be brief." }, ...user("Capital of France?")],
      temperature: 0.2,
      maxOutputTokens: 50,
      stop: ["\n\n"],
      seed: 7,
    });
    expect(r).toMatchObject({ text: "Paris.", finishReason: "stop", model: "openai:gpt-4o-mini", attempts: 1 });
    expect(r.usage).toEqual({ inputTokens: 1000, outputTokens: 2000, totalTokens: 3000 });
    // gpt-4o-mini: $0.15 / $0.60 per million
    expect(r.costUsd).toBeCloseTo(0.00015 + 0.0012, 10);
    const body = fake.chatRequests()[0];
    expect(body).toMatchObject({
      model: "gpt-4o-mini",
      temperature: 0.2,
      max_tokens: 50,
      stop: ["\n\n"],
      seed: 7,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Capital of France?" },
      ],
    });
  });

  it("returns tool calls and sends tool results back in the next request", async () => {
    fake.script.chat([
      {
        toolCalls: [
          { id: "call_1", name: "add", arguments: { a: 1, b: 2 } },
          { id: "call_2", name: "mul", arguments: { a: 3, b: 4 } },
        ],
      },
      { content: "3 and 12" },
    ]);
    const llm = openai();
    const tools = [
      { name: "add", description: "Add", parameters: { type: "object", properties: { a: { type: "number" } } } },
      { name: "mul", description: "Multiply", parameters: { type: "object", properties: { a: { type: "number" } } } },
    ];
    const first = await llm.generate({ messages: user("compute"), tools, toolChoice: "auto" });
    expect(first.finishReason).toBe("tool-calls");
    expect(first.toolCalls).toEqual([
      { id: "call_1", name: "add", arguments: { a: 1, b: 2 } },
      { id: "call_2", name: "mul", arguments: { a: 3, b: 4 } },
    ]);
    const second = await llm.generate({
      messages: [
        ...user("compute"),
        { role: "assistant", content: "", toolCalls: first.toolCalls },
        { role: "tool", toolCallId: "call_1", name: "add", content: "3" },
        { role: "tool", toolCallId: "call_2", name: "mul", content: "12" },
      ],
      tools,
    });
    expect(second.text).toBe("3 and 12");
    const [req1, req2] = fake.chatRequests();
    expect(req1.tools[0]).toMatchObject({ type: "function", function: { name: "add", description: "Add" } });
    expect(req1.tool_choice).toBe("auto");
    expect(req2.messages.slice(1)).toMatchObject([
      { role: "assistant", tool_calls: [{ id: "call_1", function: { name: "add", arguments: '{"a":1,"b":2}' } }, {}] },
      { role: "tool", tool_call_id: "call_1", content: "3" },
      { role: "tool", tool_call_id: "call_2", content: "12" },
    ]);
  });

  it("keeps unparseable tool arguments as the raw string", async () => {
    fake.script.chat({ toolCalls: [{ name: "add", arguments: '{"a": 1,' }] });
    const r = await openai().generate({
      messages: user("x"),
      tools: [{ name: "add", description: "", parameters: { type: "object" } }],
    });
    expect(r.toolCalls[0]!.arguments).toBe('{"a": 1,');
  });

  it("asks for json_schema output when given a schema", async () => {
    fake.script.chat({ content: '{"name":"Ada"}' });
    const schema = {
      type: "object",
      properties: { name: { type: "string" } },
      required: ["name"],
      additionalProperties: false,
    };
    const r = await openai().generate({
      messages: user("x"),
      responseFormat: { type: "json", schema, name: "person" },
    });
    expect(JSON.parse(r.text)).toEqual({ name: "Ada" });
    expect(fake.chatRequests()[0].response_format).toMatchObject({
      type: "json_schema",
      json_schema: { name: "person", schema },
    });
  });

  it("streams text deltas that reassemble, then a finish with usage", async () => {
    fake.script.chat({ content: "The quick brown fox jumps." });
    const events = await collect(openai().stream({ messages: user("go") }));
    const deltas = events.filter((e) => e.type === "text-delta").map((e) => e.delta);
    expect(deltas.length).toBe(5);
    expect(deltas.join("")).toBe("The quick brown fox jumps.");
    const finish = events.at(-1)!;
    expect(finish.type).toBe("finish");
    if (finish.type === "finish") {
      expect(finish.result.text).toBe("The quick brown fox jumps.");
      expect(finish.result.usage.outputTokens).toBeGreaterThan(0);
      expect(finish.result.costUsd).toBeGreaterThan(0);
    }
    expect(fake.chatRequests()[0]).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it("streams tool-call deltas that reassemble into complete calls", async () => {
    const args = { query: "a long query that spans many argument fragments", limit: 5 };
    fake.script.chat({
      content: "Looking up.",
      toolCalls: [
        { name: "search", arguments: args },
        { name: "add", arguments: { a: 1, b: 2 } },
      ],
    });
    const events = await collect(openai().stream({ messages: user("go"), tools: [] }));
    const calls = events.filter((e) => e.type === "tool-call").map((e) => e.toolCall as ToolCall);
    expect(calls.map((c) => [c.name, c.arguments])).toEqual([
      ["search", args],
      ["add", { a: 1, b: 2 }],
    ]);
    const finish = events.at(-1);
    expect(finish?.type === "finish" && finish.result.finishReason).toBe("tool-calls");
    expect(finish?.type === "finish" && finish.result.toolCalls).toEqual(calls);
  });

  it("embeds with the embedding model, deterministic and similarity-preserving", async () => {
    const llm = createLlm("openai:text-embedding-3-small", { apiKey: "k", baseURL: fake.url, env: {} });
    const r = await llm.embed!({ texts: ["red apples and pears", "pears and red apples", "tax law reform"] });
    expect(r.vectors).toHaveLength(3);
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    expect(dot(r.vectors[0]!, r.vectors[1]!)).toBeGreaterThan(0.95);
    expect(dot(r.vectors[0]!, r.vectors[2]!)).toBeLessThan(0.5);
    expect(r.usage.inputTokens).toBe(11);
    expect(r.costUsd).toBeCloseTo((11 * 0.02) / 1e6, 12);
    expect(fake.requests[0]!.body).toMatchObject({ model: "text-embedding-3-small" });
  });

  it("speaks to ollama, azure and generic OpenAI-compatible servers", async () => {
    fake.script.chat([{ content: "o" }, { content: "a" }, { content: "c" }]);
    const env = { AZURE_OPENAI_API_KEY: "az-key", QUINTET_LLM_BASE_URL: fake.url, QUINTET_LLM_API_KEY: "gen-key" };
    expect((await createLlm("ollama:qwen2.5", { baseURL: fake.url, env }).generate({ messages: user("1") })).text).toBe(
      "o",
    );
    expect((await createLlm("azure:prod-4o", { baseURL: fake.url, env }).generate({ messages: user("2") })).text).toBe(
      "a",
    );
    const generic = createLlm("openai-compatible:meta-llama/Llama-3-8b", { env });
    expect((await generic.generate({ messages: user("3") })).text).toBe("c");
    const [o, a, c] = fake.requests;
    expect(o!.headers.authorization).toBeUndefined();
    expect(a!.headers["api-key"]).toBe("az-key");
    expect(a!.body.model).toBe("prod-4o");
    expect(c!.headers.authorization).toBe("Bearer gen-key");
    expect(c!.body.model).toBe("meta-llama/Llama-3-8b");
  });
});

describe("retries, timeouts and cancellation", () => {
  it("retries a 500 and a dropped 503, counting attempts once", async () => {
    fake.script.chat([{ status: 500 }, { status: 503 }, { content: "ok" }]);
    const r = await openai().generate({ messages: user("x") });
    expect(r.text).toBe("ok");
    expect(r.attempts).toBe(3);
    expect(fake.requests).toHaveLength(3);
  });

  it("gives up on a storm of 429s after the bounded attempts with RATE_LIMITED", async () => {
    fake.script.chat(
      Array.from({ length: 10 }, () => ({ status: 429, retryAfter: 0.001, message: "Rate limit reached" })),
    );
    const err = await failure(openai().generate({ messages: user("x") }));
    expect(err.code).toBe("RATE_LIMITED");
    expect(err.message).toContain("Rate limit reached");
    expect(err.details).toMatchObject({ attempts: 4, status: 429 });
    expect(fake.requests).toHaveLength(4);
  });

  it("waits what Retry-After / retry-after-ms says instead of its own backoff", async () => {
    // The own backoff would be a minute: finishing at all proves the header was used.
    const slow = { maxRetries: 2, baseDelayMs: 60_000, maxDelayMs: 60_000, maxElapsedMs: 120_000 };
    fake.script.chat([{ status: 429, retryAfterMs: 120 }, { status: 429, retryAfter: 0.05 }, { content: "done" }]);
    const r = await openai({ retry: slow }).generate({ messages: user("x") });
    expect(r.text).toBe("done");
    const [a, b, c] = fake.requests.map((q) => q.at);
    expect(b! - a!).toBeGreaterThanOrEqual(115);
    expect(c! - b!).toBeGreaterThanOrEqual(45);
  });

  it("does not retry 400 or 401, and maps them", async () => {
    fake.script.chat([
      { status: 400, message: "maximum context length exceeded" },
      { status: 401, message: "bad key" },
    ]);
    const bad = await failure(openai().generate({ messages: user("x") }));
    expect(bad.code).toBe("PROVIDER_ERROR");
    expect(bad.message).toContain("maximum context length exceeded");
    const unauth = await failure(openai().generate({ messages: user("x") }));
    expect(unauth.code).toBe("UNAUTHORIZED");
    expect(unauth.hint).toContain("OPENAI_API_KEY");
    expect(fake.requests).toHaveLength(2);
  });

  it("reports a body that is not JSON as a provider error", async () => {
    fake.script.chat({ raw: "<html>gateway</html>" });
    const err = await failure(openai({ retry: { maxRetries: 0 } }).generate({ messages: user("x") }));
    expect(err.code).toBe("PROVIDER_ERROR");
  });

  it("times out a provider that never answers", async () => {
    fake.script.chat({ hang: true });
    const err = await failure(openai({ timeoutMs: 150 }).generate({ messages: user("x") }));
    expect(err.code).toBe("TIMEOUT");
    expect(err.hint).toContain("timeoutMs");
    expect(fake.requests).toHaveLength(1);
  });

  it("ends at the overall deadline even while retrying", async () => {
    fake.script.chat(() => ({ status: 503 }));
    const err = await failure(
      openai({ retry: { maxRetries: 20, baseDelayMs: 40, maxDelayMs: 40, maxElapsedMs: 300 } }).generate({
        messages: user("x"),
      }),
    );
    expect(["PROVIDER_ERROR", "TIMEOUT"]).toContain(err.code);
    expect(fake.requests.length).toBeLessThan(12);
  });

  it("cancels through the AbortSignal without retrying", async () => {
    fake.script.chat({ hang: true });
    const ac = new AbortController();
    const p = openai().generate({ messages: user("x"), signal: ac.signal });
    while (fake.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    const err = await failure(p);
    expect(err.code).toBe("CANCELLED");
    expect(fake.requests).toHaveLength(1);
    const pre = await failure(openai().generate({ messages: user("x"), signal: AbortSignal.abort() }));
    expect(pre.code).toBe("CANCELLED");
  });

  it("aborts mid-stream", async () => {
    fake.script.chat({ content: "a b c d e f g h", chunkDelayMs: 20 });
    const ac = new AbortController();
    const seen: string[] = [];
    const err = await failure(
      (async () => {
        for await (const e of openai().stream({ messages: user("x"), signal: ac.signal })) {
          if (e.type === "text-delta") seen.push(e.delta);
          if (seen.length === 2) ac.abort();
        }
      })(),
    );
    expect(err.code).toBe("CANCELLED");
    expect(seen).toEqual(["a ", "b "]);
    expect(fake.requests).toHaveLength(1);
  });

  it("retries a stream that failed before its first byte, not after", async () => {
    fake.script.chat([{ status: 502 }, { content: "second try" }]);
    const events = await collect(openai().stream({ messages: user("x") }));
    const finish = events.at(-1);
    expect(finish?.type === "finish" && finish.result).toMatchObject({ text: "second try", attempts: 2 });

    fake.reset();
    fake.script.chat([{ content: "one two three", hangAfterChunks: 2 }, { content: "must not be used" }]);
    const seen: string[] = [];
    const err = await failure(
      (async () => {
        for await (const e of openai({ timeoutMs: 150 }).stream({ messages: user("x") })) {
          if (e.type === "text-delta") seen.push(e.delta);
        }
      })(),
    );
    expect(err.code).toBe("TIMEOUT");
    expect(seen).toEqual(["one "]);
    expect(fake.requests).toHaveLength(1);
  });

  it("computes backoff with jitter within bounds and parses Retry-After forms", () => {
    const o = { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 1000, maxElapsedMs: 10_000 };
    expect(backoffMs(1, o, () => 0)).toBe(50);
    expect(backoffMs(3, o, () => 1)).toBe(400);
    expect(backoffMs(10, o, () => 1)).toBe(1000);
    expect(retryAfterMs({ "Retry-After": "2" })).toBe(2000);
    expect(retryAfterMs({ "retry-after-ms": "250", "retry-after": "9" })).toBe(250);
    expect(retryAfterMs({ "retry-after": new Date(10_000).toUTCString() }, 4_000)).toBe(6000);
    expect(retryAfterMs({})).toBeUndefined();
  });
});

describe("Anthropic client against the fake Messages endpoint", () => {
  const claude = () =>
    createLlm("anthropic:claude-3-5-haiku-latest", { apiKey: "sk-ant", baseURL: fake.url, retry: fast, env: {} });

  it("generates text and tool calls with usage and cost", async () => {
    fake.script.messages([
      { content: "Hello from Claude", usage: { inputTokens: 1_000_000, outputTokens: 0 } },
      { toolCalls: [{ id: "toolu_1", name: "weather", arguments: { city: "Oslo" } }] },
    ]);
    const r = await claude().generate({
      messages: [{ role: "system", content: "sys" }, ...user("hi")],
      maxOutputTokens: 64,
    });
    expect(r.text).toBe("Hello from Claude");
    expect(r.costUsd).toBeCloseTo(0.8, 10);
    const req = fake.requests[0]!;
    expect(req.path).toBe("/v1/messages");
    expect(req.headers["x-api-key"]).toBe("sk-ant");
    expect(req.body).toMatchObject({ model: "claude-3-5-haiku-latest", max_tokens: 64, system: [{ text: "sys" }] });

    const t = await claude().generate({
      messages: user("weather?"),
      tools: [
        { name: "weather", description: "w", parameters: { type: "object", properties: { city: { type: "string" } } } },
      ],
    });
    expect(t.finishReason).toBe("tool-calls");
    expect(t.toolCalls).toEqual([{ id: "toolu_1", name: "weather", arguments: { city: "Oslo" } }]);
  });

  it("streams text and tool input deltas, and maps 429 to RATE_LIMITED", async () => {
    fake.script.messages({ content: "streamed words here", toolCalls: [{ name: "f", arguments: { x: [1, 2, 3] } }] });
    const events = await collect(claude().stream({ messages: user("go") }));
    expect(
      events
        .filter((e) => e.type === "text-delta")
        .map((e) => e.delta)
        .join(""),
    ).toBe("streamed words here");
    expect(events.find((e) => e.type === "tool-call")).toMatchObject({
      toolCall: { name: "f", arguments: { x: [1, 2, 3] } },
    });
    const finish = events.at(-1);
    expect(finish?.type === "finish" && finish.result.usage.outputTokens).toBeGreaterThan(0);

    fake.script.messages(Array.from({ length: 5 }, () => ({ status: 429, retryAfter: 0.001 })));
    const err = await failure(claude().generate({ messages: user("x") }));
    expect(err.code).toBe("RATE_LIMITED");
    expect(fake.requests.filter((q) => q.path === "/v1/messages")).toHaveLength(1 + 4);
  });

  it("has no embeddings", () => {
    expect(claude().embed).toBeUndefined();
  });
});
