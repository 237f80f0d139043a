import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { openStore } from "@quintet/core";
import { defineTool, type FakeOpenAI, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadTeam, loadTeamConfig, parseTeamConfig } from "./config.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-team-config-"));
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const issues = (v: unknown): string[] => {
  try {
    parseTeamConfig(v, "team.yaml");
    return [];
  } catch (err) {
    return (err as { details: { issues: string[] } }).details.issues;
  }
};

describe("team.yaml", () => {
  it("names the path of every problem", () => {
    expect(
      issues({
        name: "t",
        pattern: "plan-and-execute",
        agents: { writer: { role: "executor", policies: { maxSteps: 0 } }, x: { role: "boss" } },
        extra: 1,
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^agents\.writer\.policies\.maxSteps: /),
        expect.stringMatching(/^agents\.x\.role: /),
        expect.stringMatching(/^\(root\): Unrecognized key: "extra"/),
      ]),
    );
    expect(issues({ name: "t", pattern: "plan-and-execute", agents: { w: { role: "executor" } } })).toEqual([
      'agents: plan-and-execute needs exactly one agent with role "planner"',
    ]);
    expect(
      issues({ name: "t", pattern: "review-loop", agents: { w: { role: "executor" }, c: { role: "critic" } } }),
    ).toEqual(["criteria: review-loop needs criteria: the list of what the result must satisfy"]);
    expect(
      issues({
        name: "t",
        pattern: "supervisor",
        agents: { s: { role: "supervisor" }, w: { role: "executor" }, c: { role: "critic" } },
      }),
    ).toEqual(['agents.c.role: role "critic" has no place in the supervisor pattern']);
  });

  it("reports YAML syntax errors and missing files with the file name", async () => {
    await expect(loadTeamConfig(file("broken.yaml", "name: [unclosed\n"))).rejects.toThrow(
      /broken\.yaml is not valid YAML/,
    );
    await expect(loadTeamConfig(join(dir, "missing.yaml"))).rejects.toThrow(/cannot read team file/);
  });

  it("builds a team with registered and MCP tools, and refuses unknown tools or missing models", async () => {
    const pkg = createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/package.json");
    const bin = join(dirname(pkg), JSON.parse(readFileSync(pkg, "utf8")).bin["mcp-server-everything"]);
    const clock = defineTool({ name: "clock", description: "time", parameters: z.object({}), execute: () => "12:00" });
    const path = file(
      "desk.yaml",
      [
        "name: desk",
        "pattern: supervisor",
        "model: openai:gpt-4o-mini",
        "policies: { maxSteps: 10 }",
        "tools:",
        "  mcp:",
        `    - { name: every, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(bin)}, stdio] }`,
        "agents:",
        "  lead: { role: supervisor }",
        "  helper:",
        "    role: executor",
        "    tools: [clock, every_echo]",
        "    policies: { maxSteps: 3 }",
      ].join("\n"),
    );
    const env = { OPENAI_API_KEY: "k", OPENAI_BASE_URL: fake.url };
    const built = await loadTeam(path, { tools: [clock], env });
    try {
      expect(built.team.pattern.kind).toBe("supervisor");
      expect(built.team.members.map((m) => m.name)).toEqual(["lead", "helper"]);
      expect(built.team.members[1]!.spec.tools.map((t) => t.name)).toEqual(["clock", "every_echo"]);
      fake.script.chat([
        { toolCalls: [{ name: "handoff", arguments: { to: "helper", task: "echo hi" } }] },
        { toolCalls: [{ name: "every_echo", arguments: { message: "hi" } }] },
        { content: "Echo: hi" },
        { content: "helper says Echo: hi" },
      ]);
      const r = await built.team.run("say hi").result;
      expect(r).toMatchObject({ status: "done", output: "helper says Echo: hi" });
    } finally {
      await built.close();
    }
    const unknown = file(
      "unknown.yaml",
      "name: u\npattern: review-loop\nmodel: openai:gpt-4o-mini\ncriteria: [x]\nagents:\n  w: { role: executor, tools: [nope] }\n  c: { role: critic }\n",
    );
    await expect(loadTeam(unknown, { env })).rejects.toThrow(/agents\.w\.tools\[0\]: no tool named "nope"/);
    const noModel = file(
      "nomodel.yaml",
      "name: u\npattern: review-loop\ncriteria: [x]\nagents:\n  w: { role: executor }\n  c: { role: critic }\n",
    );
    await expect(loadTeam(noModel, { env })).rejects.toMatchObject({
      code: "PROVIDER_NOT_CONFIGURED",
      message: "agents.w: no model",
    });
    const episodic = file(
      "episodic.yaml",
      "name: e\npattern: review-loop\nmodel: openai:gpt-4o-mini\ncriteria: [x]\nagents:\n  w: { role: executor, memory: { episodic: true, working: { maxTokens: 4000 } } }\n  c: { role: critic }\n",
    );
    await expect(loadTeam(episodic, { env })).rejects.toThrow(
      /agents\.w\.memory\.episodic: episodic memory needs a store/,
    );
    const store = await openStore({ url: `sqlite:${join(dir, "team.db")}` });
    const withMemory = await loadTeam(episodic, { env, store });
    expect(withMemory.team.members[0]!.spec.memory).toMatchObject({ scope: { agent: "w", team: "e" } });
    expect(withMemory.team.members[0]!.spec.memory?.working?.maxTokens).toBe(4000);
    expect(withMemory.team.members[0]!.spec.memory?.episodic).toBeDefined();
    await store.close();
    const researcherOnly = file(
      "res.yaml",
      "name: r\npattern: review-loop\nmodel: openai:gpt-4o-mini\ncriteria: [x]\nagents:\n  w: { role: researcher }\n  c: { role: critic }\n",
    );
    await expect(loadTeam(researcherOnly, { env })).rejects.toThrow(/a researcher needs a search tool/);
  });
});
