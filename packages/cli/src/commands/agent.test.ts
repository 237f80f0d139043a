import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTeam } from "@quintet/agents";
import { openStore } from "@quintet/core";
import { type ChatReply, type FakeOpenAI, type RecordedRequest, startFakeOpenAI } from "@quintet/llm";
import { syntheticCustomers, toCsv } from "@quintet/ml";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../testing.js";

// `quintet agent` in-process against the fake OpenAI server, in temp projects.
let fake: FakeOpenAI;
let root: string;
const queues = new Map<string, ChatReply[]>();
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
  root = mkdtempSync(join(tmpdir(), "quintet-cli-agent-"));
});
afterAll(async () => {
  await fake.close();
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  fake.reset();
  queues.clear();
  // Replies per role: each agent's requests are recognised by its instructions.
  fake.script.chat((req: RecordedRequest) => {
    const role = String(req.body.messages[0]?.content ?? "").match(/^ROLE:(\w+)/)?.[1] ?? "?";
    return queues.get(role)?.shift() ?? { status: 500, message: `nothing scripted for ${role}` };
  });
});
const script = (role: string, ...replies: ChatReply[]) => queues.set(role, [...(queues.get(role) ?? []), ...replies]);
const env = () => ({ OPENAI_API_KEY: "test", OPENAI_BASE_URL: fake.url });

function project(name: string, teamYaml: string): string {
  const cwd = mkdtempSync(join(root, `${name}-`));
  writeFileSync(join(cwd, "team.yaml"), teamYaml);
  return cwd;
}

const TEAM = [
  "name: writers",
  "pattern: plan-and-execute",
  "model: openai:gpt-4o-mini",
  "agents:",
  "  planner: { role: planner, instructions: 'ROLE:planner Plan.' }",
  "  writer: { role: executor, instructions: 'ROLE:executor Write.' }",
].join("\n");

const plan = (tasks: { id: string; dependsOn?: string[] }[]) => ({
  content: JSON.stringify({
    tasks: tasks.map((t) => ({
      id: t.id,
      title: `Task ${t.id}`,
      description: `Do ${t.id}`,
      dependsOn: t.dependsOn ?? [],
      acceptanceCriteria: ["done"],
    })),
  }),
});

describe("quintet agent", () => {
  it("runs a team with a live view, then lists, shows and replays the run", async () => {
    const cwd = project("run", TEAM);
    script("planner", plan([{ id: "t1" }, { id: "t2", dependsOn: ["t1"] }]));
    script("executor", { content: "part one" }, { content: "the final text" });
    const r = await runCli(["agent", "run", "team.yaml", "Write it", "--run-id", "cli-1"], { cwd, env: env() });
    expect(r.err).not.toContain("error[");
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("the final text");
    expect(r.err).toContain("team writers (plan-and-execute) · run cli-1");
    expect(r.err).toMatch(/planner\s+plan: t1 Task t1; t2 Task t2 ← t1/);
    expect(r.err).toMatch(/writer\s+task t2 done/);
    expect(r.err).toMatch(/done · 3 model calls · \d+ tokens/);

    const ls = await runCli(["agent", "runs", "ls", "--json"], { cwd });
    expect(JSON.parse(ls.out).map((x: { id: string; status: string }) => [x.id, x.status])).toEqual([
      ["cli-1", "done"],
    ]);
    const table = await runCli(["agent", "runs", "ls"], { cwd });
    expect(table.out).toMatch(/cli-1\s+team writers\s+done/);

    const show = await runCli(["agent", "runs", "show", "cli-1"], { cwd });
    expect(show.code).toBe(0);
    expect(show.out).toContain("status: done");
    expect(show.out).toContain("output:\nthe final text");

    const replay = await runCli(["agent", "runs", "replay", "cli-1"], { cwd });
    const lines = replay.out.trim().split("\n");
    expect(lines[0]).toMatch(/^\[1\/\d+\] .*plan: .*\| 1 calls/);
    expect(lines.at(-1)).toMatch(/\| 3 calls/);
    const step = await runCli(["agent", "runs", "replay", "cli-1", "--step", "1", "--json"], { cwd });
    expect(JSON.parse(step.out).event).toMatchObject({ type: "plan", seq: 1 });
    const missing = await runCli(["agent", "runs", "replay", "cli-1", "--step", "999"], { cwd });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("has no step 999");
    const nope = await runCli(["agent", "runs", "show", "nope"], { cwd });
    expect(nope.err).toContain('no run with id "nope"');
  });

  it("gives teams the built-in tools: the champion models as predict_<name> and fetch_page", async () => {
    const cwd = project(
      "builtin",
      [
        "name: analysts",
        "pattern: plan-and-execute",
        "model: openai:gpt-4o-mini",
        "agents:",
        "  planner: { role: planner, instructions: 'ROLE:planner Plan.' }",
        "  analyst: { role: executor, instructions: 'ROLE:executor Score.', tools: [predict_churn, fetch_page] }",
      ].join("\n"),
    );
    writeFileSync(join(cwd, "c.csv"), toCsv(syntheticCustomers({ rows: 800, seed: 3, messy: false })));
    const trained = await runCli(
      ["train", "c.csv", "--target", "churned", "--positive", "yes", "--name", "churn", "--rounds", "10"],
      { cwd },
    );
    expect(trained.code).toBe(0);
    script("planner", plan([{ id: "t1" }]));
    script(
      "executor",
      { toolCalls: [{ name: "predict_churn", arguments: { rows: [{ tenure_months: 2, plan: "starter" }] } }] },
      { content: "high risk" },
    );
    const r = await runCli(["agent", "run", "team.yaml", "Score a customer", "--json"], { cwd, env: env() });
    expect(r.code).toBe(0);
    const events = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const result = events.find((e) => e.type === "tool.result" || e.type === "tool_result");
    expect(JSON.stringify(result ?? events)).toContain("churn/1");
  }, 120_000);

  it("streams events as JSON lines and ends with the result", async () => {
    const cwd = project("json", TEAM);
    script("planner", plan([{ id: "only" }]));
    script("executor", { content: "answer" });
    const r = await runCli(["--json", "agent", "run", "team.yaml", "Go"], { cwd, env: env() });
    expect(r.code).toBe(0);
    const events = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toEqual([
      "plan",
      "task",
      "message",
      "model-call",
      "final",
      "message",
      "blackboard",
      "task",
      "result",
    ]);
    expect(events.at(-1)).toMatchObject({
      type: "result",
      status: "done",
      output: "answer",
      pattern: "plan-and-execute",
    });
  });

  it("exits 1 with the reason when a plan stays cyclic, and 3 for an invalid team file", async () => {
    const cwd = project("cycle", TEAM);
    const cyclic = plan([
      { id: "a", dependsOn: ["b"] },
      { id: "b", dependsOn: ["a"] },
    ]);
    script("planner", cyclic, cyclic);
    const r = await runCli(["agent", "run", "team.yaml", "Go"], { cwd, env: env() });
    expect(r.code).toBe(1);
    expect(r.err).toContain("plan rejected");
    expect(r.err).toContain("failed (error: no valid plan: invalid plan: the plan has a dependency cycle: a → b → a)");

    writeFileSync(
      join(cwd, "bad.yaml"),
      "name: bad\npattern: plan-and-execute\nagents:\n  w: { role: executor, policies: { maxSteps: 0 } }\n",
    );
    const bad = await runCli(["agent", "run", "bad.yaml", "Go"], { cwd, env: env() });
    expect(bad.code).toBe(3);
    expect(bad.err).toContain("agents.w.policies.maxSteps");
    expect(bad.err).toContain('plan-and-execute needs exactly one agent with role "planner"');
  });

  it("resumes an interrupted team run from the store", async () => {
    const cwd = project("resume", TEAM);
    const built = await loadTeam(join(cwd, "team.yaml"), { env: env() });
    const store = await openStore({ url: "sqlite:.quintet/quintet.db", cwd });
    const ac = new AbortController();
    script("planner", plan([{ id: "a" }, { id: "b", dependsOn: ["a"] }]));
    script("executor", { content: "a done" });
    const first = await built.team.run("Go", {
      store,
      runId: "cli-resume",
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === "task" && e.status === "done") ac.abort();
      },
    }).result;
    expect(first.stop.reason).toBe("aborted");
    await store.close();
    await built.close();
    script("executor", { content: "b done" });
    const r = await runCli(["agent", "runs", "resume", "cli-resume"], { cwd, env: env() });
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe("b done");
    expect(r.err).toMatch(/↺ planner\s+plan/);
    expect(fake.chatRequests()).toHaveLength(3);
  });
});
