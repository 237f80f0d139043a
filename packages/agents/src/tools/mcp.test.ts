import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createLlm, defineTool, type FakeOpenAI, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { Agent } from "../agent/agent.js";
import type { RunEvent } from "../runs/events.js";
import { McpClient } from "./mcp-client.js";
import { serveMcp } from "./mcp-server.js";
import { retrieverTool } from "./retriever.js";

// The reference server from npm, started over stdio like any MCP host would.
const pkgJson = createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/package.json");
const bin = join(dirname(pkgJson), JSON.parse(readFileSync(pkgJson, "utf8")).bin["mcp-server-everything"]);
const everything = { name: "everything", command: process.execPath, args: [bin, "stdio"] };

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

describe("MCP client against @modelcontextprotocol/server-everything (stdio)", () => {
  it("lists its tools with schemas and side-effect hints and calls them", async () => {
    const mcp = await McpClient.connect(everything);
    try {
      const tools = await mcp.tools();
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      expect(Object.keys(byName)).toEqual(expect.arrayContaining(["everything_echo", "everything_get-sum"]));
      expect(byName.everything_echo!.sideEffects).toBe(false);
      expect(byName["everything_get-sum"]!.spec.parameters).toMatchObject({ properties: { a: { type: "number" } } });
      const ctx = { signal: new AbortController().signal, callId: "c", step: 1 };
      expect(await byName.everything_echo!.execute({ message: "hi" }, ctx)).toBe("Echo: hi");
      expect(await byName["everything_get-sum"]!.execute({ a: 2, b: 40 }, ctx)).toContain("42");
      expect(byName["everything_get-sum"]!.parameters.safeParse({ a: "2" }).success).toBe(false);
      await expect(mcp.tools({ include: ["nope"] })).rejects.toThrow(/has no tool named nope/);
    } finally {
      await mcp.close();
    }
  });

  it("recovers when the server dies mid-call: the call fails clearly, the next one reconnects", async () => {
    const mcp = await McpClient.connect(everything);
    const tools = await mcp.tools({ include: ["echo", "trigger-long-running-operation"], prefix: "" });
    fake.script.chat([
      { toolCalls: [{ name: "trigger-long-running-operation", arguments: { duration: 30, steps: 30 } }] },
      { toolCalls: [{ name: "echo", arguments: { message: "still there?" } }] },
      { content: "recovered" },
    ]);
    const firstPid = mcp.pid;
    const agent = new Agent({ name: "mcp-user", instructions: "Use the tools.", model: llm(), tools });
    const run = agent.run("go", {
      onEvent: (e) => {
        // Kill the server once the long call is under way.
        if (e.type === "tool-call" && e.name === "trigger-long-running-operation") {
          setTimeout(() => process.kill(firstPid!, "SIGKILL"), 300);
        }
      },
    });
    const events: RunEvent[] = [];
    for await (const e of run) events.push(e);
    const r = await run.result;
    await mcp.close();
    expect(r.status).toBe("done");
    expect(r.output).toBe("recovered");
    const results = events.filter((e) => e.type === "tool-result") as Extract<RunEvent, { type: "tool-result" }>[];
    expect(results.map((x) => x.status)).toEqual(["error", "ok"]);
    expect(JSON.parse(results[0]!.content).error).toMatch(
      /closed the connection during trigger-long-running-operation/,
    );
    expect(results[1]!.content).toBe("Echo: still there?");
    expect(mcp.pid).toBeUndefined();
  });

  it("names the command when a server cannot be started", async () => {
    await expect(McpClient.connect({ name: "ghost", command: "/nonexistent/mcp-server" })).rejects.toMatchObject({
      code: "PROVIDER_ERROR",
      hint: expect.stringContaining("/nonexistent/mcp-server"),
    });
    await expect(McpClient.connect({ name: "bad", transport: "http", url: "not a url" } as never)).rejects.toThrow(
      /invalid MCP server config/,
    );
  });
});

describe("Quintet MCP server (streamable HTTP), checked with the official SDK client", () => {
  const add = defineTool({
    name: "add",
    description: "Adds two numbers",
    parameters: z.object({ a: z.number(), b: z.number() }),
    execute: ({ a, b }) => ({ sum: a + b }),
  });
  const wiped: string[] = [];
  const wipe = defineTool({
    name: "wipe",
    description: "Deletes a folder",
    parameters: z.object({ path: z.string() }),
    sideEffects: true,
    execute: ({ path }) => {
      wiped.push(path);
      return "wiped";
    },
  });
  const docs = [
    { id: "d1", text: "Invoices are paid within 30 days.", source: "handbook.md#billing" },
    { id: "d2", text: "Refunds take 5 business days.", source: "handbook.md#refunds" },
  ];
  const search = retrieverTool(async (q, { k }) =>
    docs
      .map((d) => ({ ...d, score: q.split(" ").filter((w) => d.text.toLowerCase().includes(w.toLowerCase())).length }))
      .filter((d) => d.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, k),
  );

  it("lists and calls tools, validates arguments and refuses unapproved side effects", async () => {
    const server = await serveMcp([add, wipe, search], { name: "quintet-test" });
    const client = new Client({ name: "sdk-client", version: "1.0.0" });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
      expect(client.getServerVersion()?.name).toBe("quintet-test");
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(["add", "wipe", "search_documents"]);
      expect(tools[0]).toMatchObject({
        inputSchema: { type: "object", properties: { a: { type: "number" } }, required: ["a", "b"] },
        annotations: { readOnlyHint: true, destructiveHint: false },
      });
      expect(tools[1]!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
      const sum = await client.callTool({ name: "add", arguments: { a: 2, b: 3 } });
      expect(sum.structuredContent).toEqual({ sum: 5 });
      const bad = await client.callTool({ name: "add", arguments: { a: "two" } });
      expect(bad.isError).toBe(true);
      expect(JSON.stringify(bad.content)).toContain("invalid arguments for add");
      const refused = await client.callTool({ name: "wipe", arguments: { path: "/tmp/x" } });
      expect(refused.isError).toBe(true);
      expect(wiped).toEqual([]);
      const found = await client.callTool({ name: "search_documents", arguments: { query: "refunds days" } });
      expect((found.structuredContent as { passages: { source: string }[] }).passages[0]!.source).toBe(
        "handbook.md#refunds",
      );
      const unknown = await client.callTool({ name: "nope", arguments: {} });
      expect(unknown.isError).toBe(true);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("round-trips through Quintet's own MCP client, with approval on the server side", async () => {
    const server = await serveMcp([add, wipe], {
      approve: (_tool, args) => (args as { path: string }).path.startsWith("/tmp/"),
    });
    const mcp = await McpClient.connect({ name: "self", transport: "http", url: server.url });
    try {
      const tools = await mcp.tools({ prefix: "" });
      expect(tools.map((t) => [t.name, t.sideEffects])).toEqual([
        ["add", false],
        ["wipe", true],
      ]);
      const ctx = { signal: new AbortController().signal, callId: "c", step: 1 };
      expect(await tools[0]!.execute({ a: 1, b: 1 }, ctx)).toEqual({ sum: 2 });
      expect(await tools[1]!.execute({ path: "/tmp/scratch" }, ctx)).toBe("wiped");
      await expect(tools[1]!.execute({ path: "/home" }, ctx)).rejects.toThrow(/not approved/);
      expect(wiped).toEqual(["/tmp/scratch"]);
    } finally {
      await mcp.close();
      await server.close();
    }
  });
});
