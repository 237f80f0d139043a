import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, SpanQuery, startTracing, withSpan } from "@quintet/core";
import { createLlm, defineTool, startFakeOpenAI } from "@quintet/llm";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Agent } from "../agent/agent.js";
import { supervisorPattern } from "./patterns/supervisor.js";
import { Team } from "./team.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-agents-trace-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tracing", () => {
  it("records a team run as one trace: run, steps, model calls, tools, handoffs and messages", async () => {
    const fake = await startFakeOpenAI({ onUnscripted: "error" });
    const store = await openStore({ url: `sqlite:${join(dir, "trace.db")}` });
    const tracing = await startTracing(store);
    try {
      const llm = createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, env: {}, tracer: withSpan });
      const add = defineTool({
        name: "add",
        description: "adds",
        parameters: z.object({ a: z.number(), b: z.number() }),
        execute: ({ a, b }) => a + b,
      });
      fake.script.chat([
        { toolCalls: [{ name: "handoff", arguments: { to: "calc", task: "add 2 and 3" } }] },
        { toolCalls: [{ name: "add", arguments: { a: 2, b: 3 } }] },
        { content: "5" },
        { content: "The answer is 5." },
      ]);
      const team = new Team({
        name: "traced",
        pattern: supervisorPattern({
          supervisor: new Agent({ name: "lead", instructions: "Lead.", model: llm }),
          workers: [new Agent({ name: "calc", instructions: "Add.", model: llm, tools: [add] })],
        }),
      });
      const r = await team.run("What is 2 + 3?", { store }).result;
      expect(r.status).toBe("done");
      await tracing.flush();
      const q = new SpanQuery(store);
      const [root] = await q.list({ kind: "team.run" });
      expect(root).toMatchObject({ name: "traced", attributes: { runId: r.runId, status: "done" } });
      const tree = await q.trace(root!.traceId);
      const byId = new Map(tree.map((s) => [s.spanId, s]));
      const parentKind = (kind: string, name?: string) => {
        const s = tree.find((x) => x.kind === kind && (name === undefined || x.name === name))!;
        return s.parentId ? byId.get(s.parentId)!.kind : null;
      };
      expect(new Set(tree.map((s) => s.kind))).toEqual(
        new Set(["team.run", "agent.step", "llm.call", "tool", "agent.handoff", "agent.message"]),
      );
      expect(parentKind("agent.step", "lead step 1")).toBe("team.run");
      expect(parentKind("agent.handoff")).toBe("tool");
      expect(parentKind("agent.step", "calc step 1")).toBe("agent.handoff");
      expect(parentKind("tool", "add")).toBe("agent.step");
      expect(tree.filter((s) => s.kind === "llm.call")).toHaveLength(4);
      expect(root!.inputTokens).toBe(r.usage.inputTokens);
    } finally {
      await tracing.shutdown();
      await store.close();
      await fake.close();
    }
  });
});
