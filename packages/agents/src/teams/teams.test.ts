import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "@quintet/core";
import { type ChatReply, createLlm, type FakeOpenAI, type RecordedRequest, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Agent } from "../agent/agent.js";
import type { RunEvent } from "../runs/events.js";
import { loadRun } from "../runs/replay.js";
import { planAndExecute } from "./patterns/plan-and-execute.js";
import { reviewLoop } from "./patterns/review-loop.js";
import { supervisorPattern } from "./patterns/supervisor.js";
import { researcher } from "./roles.js";
import { findCycle, TaskGraph } from "./task-graph.js";
import { Team } from "./team.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-teams-"));
let fake: FakeOpenAI;
let store: Store;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
  store = await openStore({ url: `sqlite:${join(dir, "teams.db")}` });
});
afterAll(async () => {
  await store.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Scripted replies per role: each agent's requests are recognised by its instructions. */
const queues = new Map<string, ChatReply[]>();
beforeEach(() => {
  fake.reset();
  queues.clear();
  fake.script.chat((req: RecordedRequest) => {
    const system: string = req.body.messages[0]?.content ?? "";
    const role = system.match(/^ROLE:(\w+)/)?.[1] ?? "unknown";
    const next = queues.get(role)?.shift();
    return next ?? { status: 500, message: `no scripted reply for ${role}` };
  });
});
const script = (role: string, ...replies: ChatReply[]) => queues.set(role, [...(queues.get(role) ?? []), ...replies]);
const json = (v: unknown): ChatReply => ({ content: JSON.stringify(v) });

const llm = () =>
  createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, retry: { maxRetries: 0 }, env: {} });
const member = (name: string, role: string, extra: Partial<ConstructorParameters<typeof Agent>[0]> = {}) =>
  new Agent({ name, instructions: `ROLE:${role} You are the ${role}.`, model: llm(), ...extra });

/** Requests the fake got from one role, as their message lists. */
const requestsOf = (role: string) =>
  fake.chatRequests().filter((b) => String(b.messages[0]?.content ?? "").startsWith(`ROLE:${role}`));

const task = (id: string, dependsOn: string[] = [], assignee?: string) => ({
  id,
  title: `Task ${id}`,
  description: `Do ${id}`,
  dependsOn,
  acceptanceCriteria: [`${id} is complete`],
  ...(assignee ? { assignee } : {}),
});

describe("task graph", () => {
  it("finds cycles and names every problem of a plan", () => {
    expect(findCycle([task("a", ["b"]), task("b", ["c"]), task("c", ["a"])])).toEqual(["a", "b", "c", "a"]);
    expect(findCycle([task("a"), task("b", ["a"])])).toBeUndefined();
    const err = (() => {
      try {
        TaskGraph.from(
          [task("a", ["b"]), task("b", ["a"]), task("c", ["zz"]), task("c"), task("d", [], "ghost")],
          ["w"],
        );
      } catch (e) {
        return e as { message: string; details: { cycle: string[] } };
      }
    })();
    expect(err?.message).toContain("dependency cycle: a → b → a");
    expect(err?.message).toContain('depends on "zz", which is not in the plan');
    expect(err?.message).toContain('task id "c" is used twice');
    expect(err?.message).toContain('assigned to "ghost", who is not on the team');
    expect(err?.details.cycle).toEqual(["a", "b", "a"]);
    const g = TaskGraph.from([task("b", ["a"]), task("a"), task("c", ["a"])]);
    expect(g.order()).toEqual(["a", "b", "c"]);
    expect(g.sinks().map((t) => t.id)).toEqual(["b", "c"]);
  });
});

describe("plan-and-execute", () => {
  it("plans, executes in dependency order, and sends work back with the critic's reasons until it passes", async () => {
    script("planner", json({ tasks: [task("t1", [], "writer"), task("t2", ["t1"], "writer")] }));
    script("executor", { content: "draft of t1" }, { content: "first try at t2" }, { content: "t2, fixed" });
    script(
      "critic",
      json({ verdict: "pass", reasons: ["complete"], unmetCriteria: [] }),
      json({ verdict: "fail", reasons: ["t2 misses the numbers"], unmetCriteria: ["t2 is complete"] }),
      json({ verdict: "pass", reasons: ["now complete"], unmetCriteria: [] }),
    );
    const team = new Team({
      name: "writers",
      pattern: planAndExecute({
        planner: member("planner", "planner"),
        executors: [member("writer", "executor")],
        critic: member("checker", "critic"),
      }),
    });
    const run = team.run("Write two things", { store, runId: "pe-1" });
    const events: RunEvent[] = [];
    for await (const e of run) events.push(e);
    const r = await run.result;
    expect(r.status).toBe("done");
    expect(r.output).toBe("t2, fixed");
    expect(r.tasks.map((t) => [t.id, t.status, t.attempts])).toEqual([
      ["t1", "done", 1],
      ["t2", "done", 2],
    ]);
    expect(r.blackboard).toEqual({ "task:t1": "draft of t1", "task:t2": "t2, fixed" });
    // the retry carries the critic's reasons, and t2 sees t1's result
    const exec = requestsOf("executor");
    expect(exec[2].messages.at(-1).content).toContain("t2 misses the numbers");
    expect(exec[1].messages[0].content).toContain("draft of t1");
    expect(events.filter((e) => e.type === "critique").map((e) => (e as { verdict: string }).verdict)).toEqual([
      "pass",
      "fail",
      "pass",
    ]);
    const messages = events.filter((e) => e.type === "message") as Extract<RunEvent, { type: "message" }>[];
    expect(messages.map((m) => `${m.agent}>${m.to}:${m.topic}`)).toContain("checker>writer:feedback");
    // usage covers the planner, the executors and the critic
    expect(r.steps).toBe(7);
    const { run: stored } = await loadRun(store, "pe-1");
    expect(stored).toMatchObject({ kind: "team", status: "done", steps: 7, totalTokens: r.usage.totalTokens });
  });

  it("sends a cyclic plan back to the planner, and records a clear error when it stays cyclic", async () => {
    const cyclic = json({ tasks: [task("t1", ["t2"]), task("t2", ["t1"])] });
    script("planner", cyclic, json({ tasks: [task("t1"), task("t2", ["t1"])] }));
    script("executor", { content: "one" }, { content: "two" });
    const pattern = () =>
      planAndExecute({ planner: member("planner", "planner"), executors: [member("writer", "executor")] });
    const ok = await new Team({ name: "fixers", pattern: pattern() }).run("goal").result;
    expect(ok.status).toBe("done");
    expect(requestsOf("planner")[1].messages.at(-1).content).toContain("dependency cycle: t1 → t2 → t1");

    script("planner", cyclic, cyclic);
    const run = new Team({ name: "loopers", pattern: pattern() }).run("goal", { store, runId: "cyc-1" });
    const events: RunEvent[] = [];
    for await (const e of run) events.push(e);
    const bad = await run.result;
    expect(bad.status).toBe("failed");
    expect(bad.stop.reason).toBe("error");
    expect(bad.error?.message).toContain("dependency cycle: t1 → t2 → t1");
    expect(events.filter((e) => e.type === "plan")).toHaveLength(2);
    const { run: stored } = await loadRun(store, "cyc-1");
    expect(stored.status).toBe("failed");
    expect(stored.error?.message).toContain("t1 → t2 → t1");
    expect(requestsOf("executor")).toHaveLength(2);
  });

  it("skips the tasks that depend on one that fails, and stops with the partial results and the reason", async () => {
    script("planner", json({ tasks: [task("a"), task("b", ["a"]), task("c")] }));
    script("executor", { content: "a1" }, { content: "a2" }, { content: "c done" });
    script(
      "critic",
      json({ verdict: "fail", reasons: ["wrong"], unmetCriteria: ["a is complete"] }),
      json({ verdict: "fail", reasons: ["still wrong"], unmetCriteria: ["a is complete"] }),
      json({ verdict: "pass", reasons: ["fine"], unmetCriteria: [] }),
    );
    const team = new Team({
      name: "partial",
      pattern: planAndExecute({
        planner: member("planner", "planner"),
        executors: [member("writer", "executor")],
        critic: member("checker", "critic"),
        concurrency: 1,
      }),
    });
    const r = await team.run("goal").result;
    expect(r.status).toBe("stopped");
    expect(r.stop.reason).toBe("criteria-unmet");
    expect(r.stop.detail).toContain("task a failed: criteria not met after 2 attempts: still wrong");
    expect(r.tasks.map((t) => [t.id, t.status])).toEqual([
      ["a", "failed"],
      ["b", "skipped"],
      ["c", "done"],
    ]);
    expect(r.tasks[1]!.detail).toContain("depends on task a");
    expect(r.output).toContain("c done");
  });

  it("stops the team at its budget with what it has", async () => {
    script("planner", json({ tasks: [task("a"), task("b", ["a"])] }));
    script("executor", { content: "a done" }, { content: "b done" });
    const team = new Team({
      name: "budgeted",
      policies: { maxSteps: 2 },
      pattern: planAndExecute({ planner: member("planner", "planner"), executors: [member("writer", "executor")] }),
    });
    const r = await team.run("goal").result;
    expect(r.status).toBe("stopped");
    expect(r.stop.reason).toBe("max-steps");
    expect(r.stop.detail).toContain("team budgeted: used 2 of 2 model calls");
    expect(r.tasks.map((t) => [t.id, t.status])).toEqual([
      ["a", "done"],
      ["b", "skipped"],
    ]);
    expect(r.output).toContain("a done");
  });

  it("resumes a cancelled team run without planning or redoing finished tasks again", async () => {
    const ac = new AbortController();
    script("planner", json({ tasks: [task("a"), task("b", ["a"])] }));
    script("executor", { content: "a done" });
    const team = new Team({
      name: "resumable",
      pattern: planAndExecute({ planner: member("planner", "planner"), executors: [member("writer", "executor")] }),
    });
    const first = team.run("goal", {
      store,
      runId: "team-resume-1",
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === "task" && e.status === "done") ac.abort();
      },
    });
    const stopped = await first.result;
    expect(stopped.stop.reason).toBe("aborted");
    expect(fake.chatRequests()).toHaveLength(2);
    script("executor", { content: "b done" });
    const r = await team.resume("team-resume-1", { store }).result;
    expect(r.status).toBe("done");
    expect(r.output).toBe("b done");
    expect(r.tasks.map((t) => t.status)).toEqual(["done", "done"]);
    expect(fake.chatRequests()).toHaveLength(3);
  });
});

describe("supervisor with handoffs", () => {
  it("records a handoff to a missing agent as a clear error, and recovers through a real member", async () => {
    const docs = [{ id: "d1", text: "Refunds take 5 business days.", source: "policy.md#refunds", score: 1 }];
    const finder = researcher({
      name: "finder",
      instructions: "ROLE:researcher Search and cite.",
      model: llm(),
      retriever: async (q) => (q.toLowerCase().includes("refund") ? docs : []),
    });
    script(
      "supervisor",
      { toolCalls: [{ name: "handoff", arguments: { to: "ghost", task: "find the refund time" } }] },
      { toolCalls: [{ name: "handoff", arguments: { to: "finder", task: "find the refund time" } }] },
      { content: "Refunds take 5 business days [policy.md#refunds]." },
    );
    script(
      "researcher",
      { toolCalls: [{ name: "search_documents", arguments: { query: "refund time" } }] },
      { content: "5 business days [policy.md#refunds]" },
    );
    const team = new Team({
      name: "desk",
      pattern: supervisorPattern({ supervisor: member("lead", "supervisor"), workers: [finder] }),
    });
    const run = team.run("How long do refunds take?", { store, runId: "sup-1" });
    const events: RunEvent[] = [];
    for await (const e of run) events.push(e);
    const r = await run.result;
    expect(r.status).toBe("done");
    expect(r.output).toContain("5 business days");
    const handoffs = events.filter((e) => e.type === "handoff") as Extract<RunEvent, { type: "handoff" }>[];
    expect(handoffs.map((h) => [h.to, h.error?.message])).toEqual([
      ["ghost", 'handoff to "ghost" failed: there is no team member by that name'],
      ["finder", undefined],
    ]);
    expect(handoffs[0]!.error?.details).toEqual({ to: "ghost", available: ["finder"] });
    // the supervisor read the error and the member list in its tool result
    const lead = requestsOf("supervisor");
    const toolMsg = lead[1].messages.find((m: { role: string }) => m.role === "tool");
    expect(toolMsg.content).toContain("no team member by that name");
    // the worker's steps are nested under the handoff call in the record
    const { events: stored } = await loadRun(store, "sup-1");
    const workerCall = stored.find((e) => e.type === "model-call" && e.agent === "finder");
    expect(workerCall?.key).toBe("s2/t0/finder/s1/model");
    expect(stored.filter((e) => e.type === "message").map((e) => (e as { topic: string }).topic)).toEqual([
      "handoff",
      "result",
    ]);
    expect(r.steps).toBe(5);
  });
});

describe("review loop", () => {
  it("stops with the last draft and the unmet criteria when the critic never accepts", async () => {
    script("executor", { content: "draft 1" }, { content: "draft 2" });
    script(
      "critic",
      json({ verdict: "fail", reasons: ["no source"], unmetCriteria: ["cites a source"] }),
      json({ verdict: "fail", reasons: ["still no source"], unmetCriteria: ["cites a source"] }),
    );
    const team = new Team({
      name: "editors",
      pattern: reviewLoop({
        worker: member("writer", "executor"),
        critic: member("editor", "critic"),
        criteria: ["cites a source"],
        maxRounds: 2,
      }),
    });
    const r = await team.run("Write a claim").result;
    expect(r).toMatchObject({ status: "stopped", stop: { reason: "criteria-unmet" }, output: "draft 2" });
    expect(r.stop.detail).toContain("not accepted after 2 rounds: cites a source");
    expect(requestsOf("executor")[1].messages.at(-1).content).toContain("no source");
  });

  it("accepts a draft the critic passes", async () => {
    script("executor", { content: "good draft [src]" });
    script("critic", json({ verdict: "pass", reasons: ["cites"], unmetCriteria: [] }));
    const team = new Team({
      name: "editors2",
      pattern: reviewLoop({
        worker: member("writer", "executor"),
        critic: member("editor", "critic"),
        criteria: ["cites a source"],
      }),
    });
    expect(await team.run("Write").result).toMatchObject({ status: "done", output: "good draft [src]" });
  });

  it("rejects bad team definitions", () => {
    const w = member("w", "executor");
    expect(() => reviewLoop({ worker: w, critic: member("c", "critic"), criteria: [] })).toThrow(/acceptance criteria/);
    expect(() => new Team({ name: "dup", pattern: reviewLoop({ worker: w, critic: w, criteria: ["x"] }) })).toThrow(
      /two members named "w"/,
    );
    expect(() => planAndExecute({ planner: w, executors: [] })).toThrow(/at least one executor/);
    expect(
      () =>
        new Team({
          name: "b",
          policies: { maxSteps: -1 },
          pattern: supervisorPattern({ supervisor: w, workers: [member("x", "e")] }),
        }),
    ).toThrow(/maxSteps/);
  });
});
