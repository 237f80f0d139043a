/**
 * Agent orchestration cost, model time excluded: a scripted in-process LlmClient answers at
 * once (zero latency), so what is measured is Quintet's own loop — building requests, tool
 * validation and execution, loop detection, budgets, events, the journal.
 *
 * 1. Overhead per step (one model call + one tool call), in memory (no store). Aim: ≤ 1 ms.
 * 2. Checkpoint cost per step: the same runs checkpointed in SQLite (three events per step:
 *    model call, tool call, tool result — the last two in one statement), minus (1).
 * 3. 100 concurrent runs in one process, with the store (their writes group-committed), at
 *    zero model latency and with a simulated 20 ms model latency.
 *
 * Run: `npm run bench:agents` or `node --conditions=source --import tsx bench/agents/orchestration.ts`.
 * Writes `bench/results/agents.{json,md}`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, RunStore } from "@quintet/agents";
import { openStore, type Store } from "@quintet/core";
import { defineTool, type GenerateRequest, type GenerateResult, type LlmClient, type StreamEvent } from "@quintet/llm";
import { z } from "zod";

const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), "quintet-bench-agents-"));
const STEPS = 20; // tool-calling steps per run, then one answer

/**
 * A model that answers instantly from a script: `steps` tool calls (each with new
 * arguments, so loop detection sees progress), then a final answer.
 */
class ScriptedModel implements LlmClient {
  readonly uri = "scripted:bench";
  readonly capabilities = { jsonSchema: false, tools: true, embeddings: false };
  constructor(
    private readonly steps: number,
    private readonly latencyMs = 0,
  ) {}

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
    // The step is how many tool results the conversation already holds.
    let done = 0;
    for (const m of request.messages) if (m.role === "tool") done++;
    const usage = { inputTokens: 50 + done * 10, outputTokens: 12, totalTokens: 62 + done * 10 };
    const base = { usage, costUsd: 0, model: this.uri, latencyMs: this.latencyMs, attempts: 1 };
    if (done < this.steps) {
      return {
        ...base,
        text: "",
        toolCalls: [{ id: `c${done}`, name: "add", arguments: { a: done, b: 1 } }],
        finishReason: "tool-calls",
      };
    }
    return { ...base, text: `done after ${done} tool calls`, toolCalls: [], finishReason: "stop" };
  }

  async *stream(request: GenerateRequest): AsyncGenerator<StreamEvent> {
    yield { type: "finish", result: await this.generate(request) };
  }
}

const add = defineTool({
  name: "add",
  description: "Adds two numbers",
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }) => ({ sum: a + b }),
});

function agent(latencyMs = 0): Agent {
  return new Agent({
    name: "bench",
    instructions: "You add numbers.",
    model: new ScriptedModel(STEPS, latencyMs),
    tools: [add],
    policies: { maxSteps: STEPS + 5 },
  });
}

async function oneRun(a: Agent, store?: Store): Promise<number> {
  const run = a.run("add", store ? { store } : {});
  for await (const _e of run) {
    // drain the live events like a consumer would
  }
  const r = await run.result;
  if (r.status !== "done" || r.steps !== STEPS + 1) throw new Error(`bench run ended ${r.status}: ${r.stop.detail}`);
  return r.steps;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** µs per step over `runs` sequential runs, median of `reps` repetitions. */
async function perStep(runs: number, reps: number, store?: Store): Promise<number> {
  const a = agent();
  for (let i = 0; i < 20; i++) await oneRun(a, store); // warm-up (JIT, statement cache)
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    let steps = 0;
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) steps += await oneRun(a, store);
    samples.push(((performance.now() - t0) * 1000) / steps);
  }
  return median(samples);
}

interface ConcurrentResult {
  scenario: string;
  runs: number;
  stepsPerRun: number;
  wallMs: number;
  stepsPerSec: number;
  runP50Ms: number;
  runP95Ms: number;
}

async function concurrent(scenario: string, n: number, latencyMs: number, store?: Store): Promise<ConcurrentResult> {
  const durations: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async () => {
      const s = performance.now();
      await oneRun(agent(latencyMs), store);
      durations.push(performance.now() - s);
    }),
  );
  const wallMs = performance.now() - t0;
  return {
    scenario,
    runs: n,
    stepsPerRun: STEPS + 1,
    wallMs,
    stepsPerSec: (n * (STEPS + 1)) / (wallMs / 1000),
    runP50Ms: percentile(durations, 50),
    runP95Ms: percentile(durations, 95),
  };
}

const store = await openStore({ url: `sqlite:${join(work, "bench.db")}` });
const memoryUs = await perStep(50, 5);
const storeUs = await perStep(50, 5, store);
const checkpointUs = storeUs - memoryUs;
const runs = await RunStore.open(store);
const sample = (await runs.list({ limit: 1 }))[0]!;
const rowsPerRun = (await runs.steps(sample.id)).length;
const conc: ConcurrentResult[] = [];
conc.push(await concurrent("100 runs, in memory, model 0 ms", 100, 0));
conc.push(await concurrent("100 runs, SQLite checkpoints, model 0 ms", 100, 0, store));
conc.push(await concurrent("100 runs, SQLite checkpoints, model 20 ms", 100, 20, store));
await store.close();
rmSync(work, { recursive: true, force: true });

const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const date = new Date().toISOString();
const load = loadavg()[0]?.toFixed(1) ?? "?";
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), shared with other helpers' jobs (1-min load average ${load} at the end)`;
const lines = [
  `# Agent orchestration (${date}, Node ${process.version})`,
  "",
  `${machine}. A scripted in-process model that answers at once; each run is ${STEPS} steps of one model call + one tool call, then an answer (${STEPS + 1} model calls). Median of 5 × 50 runs after warm-up.`,
  "",
  "| measure | value | aim |",
  "| --- | ---: | --- |",
  `| orchestration overhead per step, in memory | ${fmt(memoryUs, 1)} µs | ≤ 1,000 µs |`,
  `| per step with SQLite checkpoints | ${fmt(storeUs, 1)} µs | |`,
  `| checkpoint cost per step (difference; ${fmt(rowsPerRun / (STEPS + 1), 1)} rows in 2 statements per step) | ${fmt(checkpointUs, 1)} µs | |`,
  "",
  "| concurrent scenario | runs | model calls/run | wall (ms) | model calls/s | run p50 (ms) | run p95 (ms) |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...conc.map(
    (c) =>
      `| ${c.scenario} | ${c.runs} | ${c.stepsPerRun} | ${fmt(c.wallMs)} | ${fmt(c.stepsPerSec)} | ${fmt(c.runP50Ms)} | ${fmt(c.runP95Ms)} |`,
  ),
  "",
  `With a 20 ms model, 100 × ${STEPS + 1} sequential calls would take ${fmt((100 * (STEPS + 1) * 20) / 1000, 0)} s; concurrently they share the wait.`,
  "",
];
console.log(lines.join("\n"));
const out = join(here, "..", "results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "agents.json"),
  `${JSON.stringify(
    {
      node: process.version,
      date,
      machine,
      stepsPerRun: STEPS + 1,
      overheadUsPerStep: memoryUs,
      withCheckpointsUsPerStep: storeUs,
      checkpointUsPerStep: checkpointUs,
      checkpointRowsPerRun: rowsPerRun,
      concurrent: conc,
    },
    null,
    2,
  )}\n`,
);
writeFileSync(join(out, "agents.md"), lines.join("\n"));
if (memoryUs > 1000) {
  console.error(`orchestration overhead ${fmt(memoryUs, 1)} µs/step is above the 1 ms aim`);
  process.exit(1);
}
