import { createLlm, defineTool, type FakeOpenAI, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { RunEvent } from "../runs/events.js";
import { Agent, type AgentOptions } from "./agent.js";

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

const llm = (timeoutMs = 10_000) =>
  createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry: { maxRetries: 0 }, timeoutMs, env: {} });

const add = defineTool({
  name: "add",
  description: "Adds two numbers",
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }) => ({ sum: a + b }),
});

function agent(extra: Partial<AgentOptions> = {}) {
  return new Agent({
    name: "calc",
    instructions: "You add numbers with the add tool.",
    model: llm(),
    tools: [add],
    ...extra,
  });
}

async function collect(run: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const e of run) out.push(e);
  return out;
}

/** Messages the model received in chat request `i`. */
const sent = (i: number) =>
  fake.chatRequests()[i].messages as { role: string; content: string; tool_call_id?: string }[];

describe("Agent", () => {
  it("calls tools, feeds results back and streams typed events until the answer", async () => {
    fake.script.chat([{ toolCalls: [{ id: "c1", name: "add", arguments: { a: 2, b: 3 } }] }, { content: "2 + 3 = 5" }]);
    const run = agent().run("What is 2 + 3?");
    const events = await collect(run);
    const r = await run.result;
    expect(r.status).toBe("done");
    expect(r.stop.reason).toBe("done");
    expect(r.output).toBe("2 + 3 = 5");
    expect(r.steps).toBe(2);
    expect(r.toolCalls).toBe(1);
    expect(events.map((e) => e.type)).toEqual(["model-call", "tool-call", "tool-result", "model-call", "final"]);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    const result = events[2] as Extract<RunEvent, { type: "tool-result" }>;
    expect(result).toMatchObject({
      name: "add",
      status: "ok",
      content: '{"sum":5}',
      runId: run.runId,
      replayed: false,
    });
    expect(sent(0)[0]).toMatchObject({ role: "system", content: "You add numbers with the add tool." });
    expect(sent(1).at(-1)).toMatchObject({ role: "tool", tool_call_id: "c1", content: '{"sum":5}' });
    expect(r.usage.totalTokens).toBeGreaterThan(0);
    expect(r.costUsd).toBeGreaterThan(0);
  });

  it("recovers from a throwing tool, a hanging tool, an unknown tool and invalid arguments", async () => {
    const boom = defineTool({
      name: "boom",
      description: "fails",
      parameters: z.object({}),
      execute: () => {
        throw new Error("disk full");
      },
    });
    const hang = defineTool({
      name: "hang",
      description: "never returns and ignores its signal",
      parameters: z.object({}),
      timeoutMs: 30,
      execute: () => new Promise(() => {}),
    });
    fake.script.chat([
      {
        toolCalls: [
          { id: "a", name: "boom", arguments: {} },
          { id: "b", name: "hang", arguments: {} },
          { id: "c", name: "nope", arguments: {} },
          { id: "d", name: "add", arguments: { a: "one", b: 2 } },
          { id: "e", name: "add", arguments: '{"a": 1' },
        ],
      },
      { content: "done anyway" },
    ]);
    const run = agent({ tools: [add, boom, hang] }).run("go");
    const events = await collect(run);
    const r = await run.result;
    expect(r.status).toBe("done");
    // Parallel calls finish in any order; the record says which call each result belongs to.
    const results = (
      events.filter((e) => e.type === "tool-result") as Extract<RunEvent, { type: "tool-result" }>[]
    ).sort((x, y) => x.callId.localeCompare(y.callId));
    expect(results.map((e) => e.status)).toEqual([
      "error",
      "timeout",
      "unknown-tool",
      "invalid-arguments",
      "invalid-arguments",
    ]);
    // the model gets the results in the order it asked for them
    expect(
      sent(1)
        .filter((m) => m.role === "tool")
        .map((m) => m.tool_call_id),
    ).toEqual(["a", "b", "c", "d", "e"]);
    expect(JSON.parse(results[0]!.content).error).toContain("disk full");
    expect(JSON.parse(results[1]!.content).error).toContain("timed out after 30 ms");
    expect(JSON.parse(results[2]!.content).availableTools).toEqual(["add", "boom", "hang"]);
    expect(JSON.parse(results[3]!.content).issues).toContain("a:");
    // Each failure goes back with a request to try another way.
    const note = events.find((e) => e.type === "note") as Extract<RunEvent, { type: "note" }>;
    expect(note.text).toContain("Try another way");
    expect(note.text).toContain("no usable tool named nope");
    expect(sent(1).at(-1)!.content).toContain("[orchestrator]");
  });

  it("disables a tool that keeps failing and tells the model", async () => {
    let calls = 0;
    const flaky = defineTool({
      name: "flaky",
      description: "always fails",
      parameters: z.object({ n: z.number() }),
      execute: () => {
        calls++;
        throw new Error("upstream 503");
      },
    });
    fake.script.chat([
      { toolCalls: [{ name: "flaky", arguments: { n: 1 } }] },
      { toolCalls: [{ name: "flaky", arguments: { n: 2 } }] },
      { toolCalls: [{ name: "flaky", arguments: { n: 3 } }] },
      { toolCalls: [{ name: "flaky", arguments: { n: 4 } }] },
      { content: "could not reach the service" },
    ]);
    const run = agent({ tools: [flaky], policies: { maxToolFailures: 3 } }).run("go");
    const events = await collect(run);
    expect((await run.result).status).toBe("done");
    expect(calls).toBe(3);
    const statuses = events.filter((e) => e.type === "tool-result").map((e) => (e as { status: string }).status);
    expect(statuses).toEqual(["error", "error", "error", "disabled"]);
    // After being disabled the tool is no longer offered.
    expect(fake.chatRequests()[3].tools).toBeUndefined();
    expect(sent(3).at(-1)!.content).toContain("flaky failed 3 times in a row and is now disabled");
  });

  it("detects a loop of identical calls with no progress, warns, then stops cleanly", async () => {
    fake.script.chat(() => ({ toolCalls: [{ name: "add", arguments: { a: 1, b: 1 } }], content: "checking" }));
    const run = agent().run("loop");
    const events = await collect(run);
    const r = await run.result;
    expect(r.status).toBe("stopped");
    expect(r.stop.reason).toBe("loop-detected");
    expect(r.stop.detail).toContain("add was called 3 times with the same arguments");
    expect(r.output).toBe("checking");
    expect(fake.chatRequests()).toHaveLength(3);
    expect(sent(2).at(-1)!.content).toContain("Calling it again will not help");
    expect(events.at(-1)).toMatchObject({ type: "stopped", reason: "loop-detected" });
  });

  it("does not count a repeated call whose result changed as a loop", async () => {
    let n = 0;
    const poll = defineTool({
      name: "poll",
      description: "job status",
      parameters: z.object({ job: z.string() }),
      execute: () => (++n < 5 ? `running ${n * 20}%` : "finished"),
    });
    fake.script.chat((req) =>
      req.body.messages.at(-1)?.content === "finished"
        ? { content: "job done" }
        : { toolCalls: [{ name: "poll", arguments: { job: "j1" } }] },
    );
    const r = await agent({ tools: [poll] }).run("wait for j1").result;
    expect(r.status).toBe("done");
    expect(n).toBe(5);
  });

  it("stops at the step, token and cost limits with partial output and the reason", async () => {
    fake.script.chat((req) => ({
      content: `step ${fake.chatRequests().length}`,
      toolCalls: [{ name: "add", arguments: { a: req.body.messages.length, b: 1 } }],
      usage: { inputTokens: 100_000, outputTokens: 10_000 },
    }));
    const steps = await agent({ policies: { maxSteps: 2 } }).run("x").result;
    expect(steps).toMatchObject({ status: "stopped", stop: { reason: "max-steps" }, output: "step 2", steps: 2 });
    expect(steps.stop.detail).toContain("used 2 of 2 model calls");
    // the calls of the last step were not run: the model would never see their results
    expect(steps.toolCalls).toBe(1);
    fake.reset();
    fake.script.chat(() => ({
      toolCalls: [{ name: "add", arguments: { a: fake.chatRequests().length, b: 1 } }],
      usage: { inputTokens: 100_000, outputTokens: 10_000 },
    }));
    const tokens = await agent({ policies: { maxTokens: 250_000 } }).run("x").result;
    expect(tokens.stop.reason).toBe("max-tokens");
    expect(tokens.usage.totalTokens).toBe(330_000);
    fake.reset();
    fake.script.chat(() => ({
      toolCalls: [{ name: "add", arguments: { a: fake.chatRequests().length, b: 1 } }],
      usage: { inputTokens: 1_000_000, outputTokens: 0 },
    }));
    // gpt-4o-mini input is $0.15 per million tokens
    const money = await agent({ policies: { maxCostUsd: 0.4 } }).run("x").result;
    expect(money.stop.reason).toBe("max-cost");
    expect(money.stop.detail).toContain("spent $0.4500 of $0.4000");
    expect(money.steps).toBe(3);
  });

  it("stops when the wall-time budget runs out during a model call", async () => {
    fake.script.chat([{ toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }] }, { hang: true }]);
    const run = agent({ policies: { maxWallMs: 300 } }).run("x");
    const events = await collect(run);
    const r = await run.result;
    expect(r.status).toBe("stopped");
    expect(r.stop.reason).toBe("max-wall-time");
    expect(r.steps).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: "stopped", reason: "max-wall-time" });
  });

  it("enforces allowed tools, per-tool timeouts and call limits", async () => {
    const slow = defineTool({
      name: "slow",
      description: "slow",
      parameters: z.object({}),
      timeoutMs: 60_000,
      execute: (_a, ctx) => new Promise((res) => ctx.signal.addEventListener("abort", () => res("late"))),
    });
    const secret = defineTool({ name: "secret", description: "", parameters: z.object({}), execute: () => "s3cr3t" });
    fake.script.chat([
      {
        toolCalls: [
          { name: "secret", arguments: {} },
          { name: "slow", arguments: {} },
          { name: "add", arguments: { a: 1, b: 1 } },
          { name: "add", arguments: { a: 2, b: 2 } },
        ],
      },
      { content: "ok" },
    ]);
    const a = agent({
      tools: [add, slow, secret],
      policies: {
        allowedTools: ["add", "slow"],
        tools: { slow: { timeoutMs: 20 }, add: { maxCalls: 1 } },
        parallelToolCalls: false,
      },
    });
    const events = await collect(a.run("x"));
    const results = events.filter((e) => e.type === "tool-result") as Extract<RunEvent, { type: "tool-result" }>[];
    expect(results.map((r) => r.status)).toEqual(["forbidden", "timeout", "ok", "forbidden"]);
    expect(results[0]!.content).toContain("not permitted to call secret");
    expect(results[1]!.content).toContain("timed out after 20 ms");
    expect(results[3]!.content).toContain("at most 1 times");
    // a tool the agent may not call is never offered
    expect(fake.chatRequests()[0].tools.map((t: { function: { name: string } }) => t.function.name)).toEqual([
      "add",
      "slow",
    ]);
  });

  it("asks the approval gate before side-effecting tools and refuses them without one", async () => {
    const sentMail: string[] = [];
    const send = defineTool({
      name: "send_email",
      description: "sends an email",
      parameters: z.object({ to: z.string() }),
      sideEffects: true,
      execute: ({ to }) => {
        sentMail.push(to);
        return "sent";
      },
    });
    const script = () =>
      fake.script.chat([
        {
          toolCalls: [
            { name: "send_email", arguments: { to: "boss@example.com" } },
            { name: "send_email", arguments: { to: "friend@example.com" } },
          ],
        },
        { content: "done" },
      ]);
    script();
    const asked: unknown[] = [];
    const gated = agent({
      tools: [send],
      approve: (req) => {
        asked.push(req.arguments);
        return (req.arguments as { to: string }).to.startsWith("friend");
      },
    });
    const events = await collect(gated.run("mail"));
    expect(asked).toHaveLength(2);
    expect(sentMail).toEqual(["friend@example.com"]);
    const calls = events.filter((e) => e.type === "tool-call") as Extract<RunEvent, { type: "tool-call" }>[];
    expect(calls.map((c) => c.approved)).toEqual([false, true]);
    script();
    const ungated = await collect(agent({ tools: [send] }).run("mail"));
    const refused = ungated.filter((e) => e.type === "tool-result") as Extract<RunEvent, { type: "tool-result" }>[];
    expect(refused.map((r) => r.status)).toEqual(["denied", "denied"]);
    expect(refused[0]!.content).toContain("no approval gate");
    expect(sentMail).toHaveLength(1);
    script();
    await agent({ tools: [send], policies: { allowSideEffects: true } }).run("mail").result;
    expect(sentMail).toHaveLength(3);
  });

  it("ends with aborted when cancelled, and with a recorded error when the provider fails", async () => {
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
    const aborted = await agent({ tools: [stop] }).run("x", { signal: ac.signal }).result;
    expect(aborted.stop.reason).toBe("aborted");
    expect(aborted.status).toBe("stopped");
    expect(fake.chatRequests()).toHaveLength(1);
    fake.reset();
    fake.script.chat([{ status: 400, message: "context too long" }]);
    const run = agent().run("x");
    const events = await collect(run);
    const failed = await run.result;
    expect(failed.status).toBe("failed");
    expect(failed.stop.reason).toBe("error");
    expect(failed.error?.message).toContain("context too long");
    expect(events.at(-1)).toMatchObject({ type: "stopped", reason: "error", error: { code: "PROVIDER_ERROR" } });
  });

  it("rejects bad definitions with the fix", () => {
    expect(() => agent({ name: "has space" })).toThrow(/invalid agent name/);
    expect(() => agent({ instructions: " " })).toThrow(/no instructions/);
    expect(() => agent({ policies: { maxSteps: 0 } })).toThrow(/maxSteps/);
    expect(() => agent({ policies: { allowedTools: ["ghost"] } })).toThrow(/does not have/);
    expect(() => agent({ tools: [add, add] })).toThrow(/two tools named "add"/);
    expect(() => agent({ policies: { bogus: 1 } as never })).toThrow(/bogus/);
    expect(() => agent().run("  ")).toThrow(/needs a non-empty input/);
  });
});
