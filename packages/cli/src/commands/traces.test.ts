import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, QuintetError, startTracing, withSpan } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { runCli } from "../testing.js";

async function projectWithSpans(): Promise<{ cwd: string; traceId: string }> {
  const cwd = mkdtempSync(join(tmpdir(), "quintet-traces-"));
  const store = await openStore({ url: "sqlite:.quintet/quintet.db", cwd });
  const tracing = await startTracing(store);
  let traceId = "";
  await withSpan("agent.step", "plan", {}, async (span) => {
    traceId = span.traceId;
    await withSpan("llm.call", "gpt", { model: "m" }, async (s) =>
      s.setUsage({ inputTokens: 10, outputTokens: 5, costUsd: 0.002 }),
    );
    await withSpan("tool", "search", {}, async () => {
      throw new QuintetError("TIMEOUT", "search timed out");
    }).catch(() => {});
  });
  await tracing.shutdown();
  await store.close();
  return { cwd, traceId };
}

describe("quintet traces", () => {
  it("lists spans, shows a trace as a tree and summarises per kind", async () => {
    const { cwd, traceId } = await projectWithSpans();
    const ls = await runCli(["traces", "ls", "--json"], { cwd });
    expect(ls.code).toBe(0);
    const spans = JSON.parse(ls.out);
    expect(spans.map((s: { kind: string }) => s.kind).sort()).toEqual(["agent.step", "llm.call", "tool"]);

    const errors = await runCli(["traces", "ls", "--status", "error"], { cwd });
    expect(errors.out).toContain("error TIMEOUT");
    expect(errors.out).not.toContain("llm.call");

    const show = await runCli(["traces", "show", traceId], { cwd });
    expect(show.code).toBe(0);
    const lines = show.out.trim().split("\n");
    expect(lines[0]).toMatch(/^agent\.step plan/);
    expect(lines[1]).toMatch(/^ {2}llm\.call gpt/);
    expect(lines[2]).toContain("error[TIMEOUT]: search timed out");

    const summary = await runCli(["traces", "summary"], { cwd });
    expect(summary.out).toMatch(/llm\.call\s+1\s+0/);
    expect(summary.out).toContain("$0.0020");
    expect(summary.out).toContain("p95 latency");
  });

  it("rejects bad flags and unknown traces with a clear error and exit code", async () => {
    const { cwd } = await projectWithSpans();
    const bad = await runCli(["traces", "ls", "--since", "yesterday-ish"], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("is not a duration");
    const missing = await runCli(["traces", "show", "0".repeat(32)], { cwd });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("no spans for trace");
    const notId = await runCli(["traces", "show", "xyz"], { cwd });
    expect(notId.err).toContain("is not a trace id");
  });
});
