import { QuintetError } from "@quintet/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createLlm } from "../providers/create.js";
import { type FakeOpenAI, startFakeOpenAI } from "../testing/fake-openai/index.js";
import { extractJson } from "./extract-json.js";
import { generateObject } from "./generate-object.js";
import { parsePartialJson } from "./partial-json.js";
import { streamObject } from "./stream-object.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

const retry = { maxRetries: 0 };
const openai = () => createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry, env: {} });
const Person = z.object({ name: z.string(), age: z.number().int().min(0) });

describe("generateObject", () => {
  it("uses native json_schema output when the provider has it", async () => {
    fake.script.chat({ content: '{"name":"Ada","age":36}' });
    const r = await generateObject({ llm: openai(), schema: Person, prompt: "Who?", name: "person" });
    expect(r).toMatchObject({ object: { name: "Ada", age: 36 }, attempts: 1, mode: "json-schema" });
    expect(r.usage.totalTokens).toBeGreaterThan(0);
    const body = fake.chatRequests()[0];
    expect(body.response_format.type).toBe("json_schema");
    expect(body.response_format.json_schema.schema).toMatchObject({
      type: "object",
      required: ["name", "age"],
      properties: { name: { type: "string" } },
    });
  });

  it("forces a tool call in tool mode and reads its arguments", async () => {
    fake.script.chat({ toolCalls: [{ name: "respond", arguments: { name: "Grace", age: 85 } }] });
    const r = await generateObject({ llm: openai(), schema: Person, prompt: "Who?", mode: "tool" });
    expect(r.object).toEqual({ name: "Grace", age: 85 });
    const body = fake.chatRequests()[0];
    expect(body.tool_choice).toEqual({ type: "function", function: { name: "respond" } });
    expect(body.tools[0].function.parameters.required).toEqual(["name", "age"]);
  });

  it("prompts with the schema and tolerates prose and code fences", async () => {
    fake.script.chat({ content: 'Sure! Here it is:\n```json\n{"name": "Linus", "age": 54}\n```\nAnything else?' });
    const r = await generateObject({
      llm: openai(),
      schema: Person,
      system: "You are terse.",
      prompt: "Who?",
      mode: "prompt",
    });
    expect(r.object).toEqual({ name: "Linus", age: 54 });
    const sys = fake.chatRequests()[0].messages[0];
    expect(sys.role).toBe("system");
    expect(sys.content).toContain("You are terse.");
    expect(sys.content).toContain('"required":["name","age"]');
  });

  it("auto picks tools for a server without json_schema support", async () => {
    const llm = createLlm("ollama:qwen2.5", { baseURL: fake.url, structuredOutputs: false, retry, env: {} });
    fake.script.chat({ toolCalls: [{ name: "respond", arguments: { name: "Ken", age: 81 } }] });
    const r = await generateObject({ llm, schema: Person, prompt: "Who?" });
    expect(r.mode).toBe("tool");
    expect(r.object.name).toBe("Ken");
  });

  it("repairs an invalid answer by sending the validation error back", async () => {
    fake.script.chat([{ content: '{"name": 5, "age": -1}' }, { content: '{"name":"Barbara","age":83}' }]);
    const r = await generateObject({ llm: openai(), schema: Person, prompt: "Who?" });
    expect(r.object).toEqual({ name: "Barbara", age: 83 });
    expect(r.attempts).toBe(2);
    const second = fake.chatRequests()[1].messages;
    expect(second.at(-2)).toMatchObject({ role: "assistant", content: '{"name": 5, "age": -1}' });
    expect(second.at(-1).content).toMatch(/name: .*string/i);
    expect(second.at(-1).content).toContain("age");
  });

  it("repairs bad tool arguments through a tool result", async () => {
    fake.script.chat([
      { toolCalls: [{ id: "call_a", name: "respond", arguments: { name: "X" } }] },
      { toolCalls: [{ id: "call_b", name: "respond", arguments: { name: "X", age: 1 } }] },
    ]);
    const r = await generateObject({ llm: openai(), schema: Person, prompt: "Who?", mode: "tool" });
    expect(r).toMatchObject({ object: { name: "X", age: 1 }, attempts: 2 });
    const tail = fake.chatRequests()[1].messages.at(-1);
    expect(tail).toMatchObject({ role: "tool", tool_call_id: "call_a" });
    expect(tail.content).toContain("age");
  });

  it("gives up after maxRepairs with a typed error carrying the raw text", async () => {
    fake.script.chat(() => ({
      content: "I cannot produce JSON, sorry.",
      usage: { inputTokens: 100, outputTokens: 10 },
    }));
    const err = await generateObject({ llm: openai(), schema: Person, prompt: "Who?", maxRepairs: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(QuintetError);
    expect(err.code).toBe("VALIDATION_FAILED");
    expect(err.message).toContain("3 times");
    expect(err.details).toMatchObject({ attempts: 3, raw: "I cannot produce JSON, sorry." });
    // What the failed attempts used is still accounted for.
    expect(err.details.usage).toEqual({ inputTokens: 300, outputTokens: 30, totalTokens: 330 });
    expect(err.details.costUsd).toBeCloseTo((300 * 0.15 + 30 * 0.6) / 1e6, 12);
    expect(fake.chatRequests()).toHaveLength(3);
  });

  it("works against Anthropic's Messages API", async () => {
    const llm = createLlm("anthropic:claude-sonnet-4-20250514", { apiKey: "k", baseURL: fake.url, retry, env: {} });
    fake.script.messages({ content: '{"name":"Alan","age":41}' });
    const r = await generateObject({ llm, schema: Person, prompt: "Who?" });
    expect(r.object).toEqual({ name: "Alan", age: 41 });
    expect(fake.requests[0]!.path).toBe("/v1/messages");
  });
});

describe("streamObject", () => {
  it("yields growing partial objects, then the validated object", async () => {
    const Recipe = z.object({ title: z.string(), steps: z.array(z.string()) });
    fake.script.chat({
      content: '{"title": "Tea", "steps": ["boil water", "steep leaves", "pour"]}',
      chunks: ['{"ti', 'tle": "Te', 'a", "steps": ["boil', ' water", "ste', 'ep leaves", "pour"]}'],
    });
    const partials: unknown[] = [];
    let final: unknown;
    for await (const e of streamObject({ llm: openai(), schema: Recipe, prompt: "tea" })) {
      if (e.type === "partial") partials.push(e.object);
      if (e.type === "final") final = e.object;
    }
    expect(partials).toEqual([
      {},
      { title: "Te" },
      { title: "Tea", steps: ["boil"] },
      { title: "Tea", steps: ["boil water", "ste"] },
      { title: "Tea", steps: ["boil water", "steep leaves", "pour"] },
    ]);
    expect(final).toEqual({ title: "Tea", steps: ["boil water", "steep leaves", "pour"] });
  });

  it("repairs a streamed answer and reports the repair", async () => {
    fake.script.chat([{ content: '{"name": "A"}' }, { content: '{"name": "A", "age": 2}' }]);
    const types: string[] = [];
    for await (const e of streamObject({ llm: openai(), schema: Person, prompt: "x" })) types.push(e.type);
    expect(types.filter((t) => t !== "partial")).toEqual(["repair", "final"]);
  });
});

describe("JSON parsing helpers", () => {
  it("parses cut-off JSON as far as it goes", () => {
    expect(parsePartialJson("")).toBeUndefined();
    expect(parsePartialJson('{"a": "hel')).toEqual({ a: "hel" });
    expect(parsePartialJson('{"a": 1, "b')).toEqual({ a: 1 });
    expect(parsePartialJson('{"a": 1, "b":')).toEqual({ a: 1 });
    expect(parsePartialJson('{"a": [1, 2.')).toEqual({ a: [1, 2] });
    expect(parsePartialJson('{"a": tr')).toEqual({});
    expect(parsePartialJson('{"a": {"b": [true, null, "x\\n')).toEqual({ a: { b: [true, null, "x\n"] } });
    expect(parsePartialJson('{"k\\"ey": 1}')).toEqual({ 'k"ey': 1 });
    expect(parsePartialJson('["a\\u00e9"]')).toEqual(["aé"]);
    expect(parsePartialJson('{"a": -')).toEqual({});
  });

  it("extracts JSON from fenced or chatty replies", () => {
    expect(extractJson(' {"a":1} ')).toEqual({ a: 1 });
    expect(extractJson("```\n[1,2]\n```")).toEqual([1, 2]);
    expect(extractJson('The answer is {"a": "}"} as requested.')).toEqual({ a: "}" });
    expect(() => extractJson("no json here")).toThrow(/no JSON/);
    expect(() => extractJson("```json\n{bad}\n```")).toThrow(/fenced/);
  });
});
