import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createLlm } from "../providers/create.js";
import { type FakeOpenAI, startFakeOpenAI } from "../testing/fake-openai/index.js";
import { defineTool } from "./define-tool.js";
import { runToolLoop } from "./run-tool-loop.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

const llm = () =>
  createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry: { maxRetries: 0 }, env: {} });
const user = (content: string) => [{ role: "user" as const, content }];
const add = defineTool({
  name: "add",
  description: "Adds two numbers",
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }) => ({ sum: a + b }),
});
/** The tool messages the model received in request `i`. */
const toolMessages = (i: number) => fake.chatRequests()[i].messages.filter((m: { role: string }) => m.role === "tool");

describe("runToolLoop", () => {
  it("runs parallel calls concurrently and feeds results back until the model answers", async () => {
    // Each call waits until both have started: run one after the other, they would time out.
    let started = 0;
    let release!: () => void;
    const bothStarted = new Promise<void>((r) => (release = r));
    const barrier = defineTool({
      name: "barrier",
      description: "waits for its sibling",
      parameters: z.object({ id: z.string() }),
      timeoutMs: 5_000,
      execute: async ({ id }) => {
        if (++started === 2) release();
        await bothStarted;
        return `done ${id}`;
      },
    });
    fake.script.chat([
      {
        toolCalls: [
          { id: "c1", name: "barrier", arguments: { id: "x" } },
          { id: "c2", name: "barrier", arguments: { id: "y" } },
          { id: "c3", name: "add", arguments: { a: 2, b: 3 } },
        ],
      },
      { content: "All done: 5" },
    ]);
    const steps: number[] = [];
    const r = await runToolLoop({
      llm: llm(),
      messages: user("go"),
      tools: [barrier, add],
      onStep: (s) => void steps.push(s.step),
    });
    expect(r.stopReason).toBe("done");
    expect(r.text).toBe("All done: 5");
    expect(steps).toEqual([1, 2]);
    expect(r.steps[0]!.results.map((o) => [o.status, o.content])).toEqual([
      ["ok", "done x"],
      ["ok", "done y"],
      ["ok", '{"sum":5}'],
    ]);
    expect(toolMessages(1).map((m: { tool_call_id: string }) => m.tool_call_id)).toEqual(["c1", "c2", "c3"]);
    expect(r.usage.totalTokens).toBe(r.steps[0]!.usage.totalTokens + r.steps[1]!.usage.totalTokens);
    expect(r.messages.at(-1)).toEqual({ role: "assistant", content: "All done: 5" });
  });

  it("returns invalid arguments, unknown tools, errors and timeouts to the model as data", async () => {
    const boom = defineTool({
      name: "boom",
      description: "fails",
      parameters: z.object({}),
      execute: () => {
        throw new Error("disk full");
      },
    });
    const slow = defineTool({
      name: "slow",
      description: "never finishes",
      parameters: z.object({}),
      timeoutMs: 50,
      execute: (_args, ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("stopped")))),
    });
    fake.script.chat([
      {
        toolCalls: [
          { id: "a", name: "add", arguments: { a: "one", b: 2 } },
          { id: "b", name: "nope", arguments: {} },
          { id: "c", name: "boom", arguments: {} },
          { id: "d", name: "slow", arguments: {} },
          { id: "e", name: "add", arguments: '{"a": 1' },
        ],
      },
      { content: "sorry" },
    ]);
    const r = await runToolLoop({ llm: llm(), messages: user("go"), tools: [add, boom, slow] });
    expect(r.stopReason).toBe("done");
    expect(r.steps[0]!.results.map((o) => o.status)).toEqual([
      "invalid-arguments",
      "unknown-tool",
      "error",
      "timeout",
      "invalid-arguments",
    ]);
    const sent = toolMessages(1).map((m: { content: string }) => JSON.parse(m.content));
    expect(sent[0].issues).toContain("a:");
    expect(sent[1]).toMatchObject({ error: 'unknown tool "nope"', availableTools: ["add", "boom", "slow"] });
    expect(sent[2].error).toContain("disk full");
    expect(sent[3].error).toContain("timed out after 50 ms");
    expect(sent[4].error).toContain("not valid JSON");
  });

  it("stops at the step limit without running calls the model would never see", async () => {
    let runs = 0;
    const count = defineTool({
      name: "count",
      description: "counts",
      parameters: z.object({}),
      execute: () => ++runs,
    });
    fake.script.chat(() => ({ toolCalls: [{ name: "count", arguments: {} }] }));
    const r = await runToolLoop({ llm: llm(), messages: user("loop"), tools: [count], maxSteps: 3 });
    expect(r.stopReason).toBe("max-steps");
    expect(r.steps).toHaveLength(3);
    expect(runs).toBe(2);
    expect(fake.chatRequests()).toHaveLength(3);
    // the transcript stays valid: no assistant tool call without a result
    expect(r.messages.at(-1)).toEqual({ role: "assistant", content: "" });
  });

  it("stops at the token limit", async () => {
    fake.script.chat(() => ({
      toolCalls: [{ name: "add", arguments: { a: 1, b: 1 } }],
      usage: { inputTokens: 60, outputTokens: 10 },
    }));
    const r = await runToolLoop({ llm: llm(), messages: user("x"), tools: [add], maxTokens: 100, maxSteps: 10 });
    expect(r.stopReason).toBe("max-tokens");
    expect(r.steps).toHaveLength(2);
    expect(r.usage.totalTokens).toBe(140);
  });

  it("asks approval for side-effect tools and reports a refusal to the model", async () => {
    const sent: string[] = [];
    const send = defineTool({
      name: "send_email",
      description: "sends an email",
      parameters: z.object({ to: z.string() }),
      sideEffects: true,
      execute: ({ to }) => void sent.push(to),
    });
    fake.script.chat([
      {
        toolCalls: [
          { name: "send_email", arguments: { to: "boss@example.com" } },
          { name: "send_email", arguments: { to: "friend@example.com" } },
        ],
      },
      { content: "sent one" },
    ]);
    const asked: unknown[] = [];
    const r = await runToolLoop({
      llm: llm(),
      messages: user("mail"),
      tools: [send],
      approve: (call) => {
        asked.push(call.arguments);
        return (call.arguments as { to: string }).to.startsWith("friend");
      },
    });
    expect(asked).toHaveLength(2);
    expect(sent).toEqual(["friend@example.com"]);
    expect(r.steps[0]!.results.map((o) => o.status)).toEqual(["denied", "ok"]);
  });

  it("refuses side-effect tools when nobody can approve them, unless allowSideEffects", async () => {
    const charged: number[] = [];
    const charge = defineTool({
      name: "charge_card",
      description: "charges the customer's card",
      parameters: z.object({ cents: z.number().int() }),
      sideEffects: true,
      execute: ({ cents }) => {
        charged.push(cents);
        return "charged";
      },
    });
    const script = () =>
      fake.script.chat([
        {
          toolCalls: [
            { id: "a", name: "charge_card", arguments: { cents: 500 } },
            { id: "b", name: "add", arguments: { a: 1, b: 2 } },
          ],
        },
        { content: "finished" },
      ]);
    script();
    const refused = await runToolLoop({ llm: llm(), messages: user("refund"), tools: [charge, add] });
    expect(charged).toEqual([]);
    expect(refused.stopReason).toBe("done");
    expect(refused.steps[0]!.results.map((o) => o.status)).toEqual(["denied", "ok"]);
    // The model is told, as a tool result, why nothing happened and not to retry.
    const sent = JSON.parse(toolMessages(1)[0].content);
    expect(sent.error).toMatch(/charge_card .* needs the user's approval.* it was not run/);
    expect(sent.hint).toMatch(/Do not retry/);

    script();
    const allowed = await runToolLoop({
      llm: llm(),
      messages: user("refund"),
      tools: [charge, add],
      allowSideEffects: true,
    });
    expect(allowed.steps[0]!.results.map((o) => o.status)).toEqual(["ok", "ok"]);
    expect(charged).toEqual([500]);

    // approve, when given, decides even with allowSideEffects.
    script();
    const vetoed = await runToolLoop({
      llm: llm(),
      messages: user("refund"),
      tools: [charge, add],
      allowSideEffects: true,
      approve: () => false,
    });
    expect(vetoed.steps[0]!.results[0]!.status).toBe("denied");
    expect(charged).toEqual([500]);
  });

  it("ends with aborted when the signal fires during a tool", async () => {
    const ac = new AbortController();
    const stop = defineTool({
      name: "stop",
      description: "",
      parameters: z.object({}),
      execute: () => {
        ac.abort();
        return "ok";
      },
    });
    fake.script.chat([{ toolCalls: [{ name: "stop", arguments: {} }] }, { content: "unreachable" }]);
    const r = await runToolLoop({ llm: llm(), messages: user("x"), tools: [stop], signal: ac.signal });
    expect(r.stopReason).toBe("aborted");
    expect(fake.chatRequests()).toHaveLength(1);
  });

  it("rejects bad tool definitions", async () => {
    expect(() =>
      defineTool({ name: "has space", description: "", parameters: z.object({}), execute: () => 1 }),
    ).toThrow(/invalid tool name/);
    await expect(runToolLoop({ llm: llm(), messages: user("x"), tools: [add, add] })).rejects.toThrow(/two tools/);
  });
});
