import { stripVTControlCharacters } from "node:util";
import type { ApprovalGate, ReplayStep, RunEvent, RunHandle, RunRecord, RunSummary } from "@quintet/agents";
import type { ArtifactStore, Store, Tracing } from "@quintet/core";
import type { Tool } from "@quintet/llm";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { EXIT } from "../exit-codes.js";

type Colors = CliContext["out"]["c"];

function integer(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min) throw new InvalidArgumentError(`${name} must be a whole number >= ${min}`);
    return n;
  };
}

function clip(text: string, n = 100): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
}

function usd(x: number | undefined): string {
  if (x === undefined) return "cost unknown";
  return `$${x < 0.01 ? x.toPrecision(2) : x.toFixed(4)}`;
}

/** One event as a line of the live view (undefined for events not worth a line). */
export function renderEvent(e: RunEvent, c: Colors): string | undefined {
  const who = c.cyan(e.agent.padEnd(10));
  const head = `${c.dim(`${String(e.seq).padStart(3)}${e.replayed ? "↺" : " "}`)} ${who}`;
  switch (e.type) {
    case "model-call": {
      const what = e.toolCalls.length
        ? `asks for ${e.toolCalls.map((t) => t.name).join(", ")}`
        : `answers: ${clip(e.text, 80)}`;
      return `${head} ${c.magenta("model")} ${what} ${c.dim(`(${e.usage.totalTokens} tok, ${e.latencyMs} ms)`)}`;
    }
    case "tool-call":
      return `${head} → ${e.name}(${clip(JSON.stringify(e.arguments) ?? "", 80)})${e.approved === false ? c.yellow(" [not approved]") : ""}`;
    case "tool-result": {
      const status = e.status === "ok" ? c.green("ok") : c.red(e.status);
      return `${head} ← ${e.name} ${status} ${c.dim(`${e.durationMs} ms`)} ${clip(e.content, 80)}`;
    }
    case "note":
      return `${head} ${c.yellow("note")} ${clip(e.text, 120)}`;
    case "compaction":
      return `${head} ${c.dim(`working memory: ${e.removedMessages} messages summarised (${e.tokensBefore} → ${e.tokensAfter} tokens)`)}`;
    case "memory-recall":
      return e.facts.length ? `${head} ${c.dim(`recalled ${e.facts.length} facts`)}` : undefined;
    case "handoff":
      return e.error
        ? `${head} ${c.red("✗ handoff")} to ${e.to}: ${e.error.message}`
        : `${head} ⇒ ${c.bold(e.to)}: ${clip(e.task, 90)}`;
    case "message":
      return undefined;
    case "blackboard":
      return undefined;
    case "plan":
      if (e.error) return `${head} ${c.red("plan rejected")} (attempt ${e.attempt}): ${clip(e.error.message, 140)}`;
      return `${head} ${c.bold("plan")}: ${e.tasks.map((t) => `${t.id} ${clip(t.title, 30)}${t.dependsOn.length ? ` ← ${t.dependsOn.join(",")}` : ""}`).join("; ")}`;
    case "task": {
      const s = e.status === "done" ? c.green(e.status) : e.status === "started" ? e.status : c.yellow(e.status);
      return `${head} task ${c.bold(e.taskId)} ${s}${e.attempt ? ` (attempt ${e.attempt})` : ""}${e.detail ? `: ${clip(e.detail, 100)}` : ""}`;
    }
    case "critique":
      return `${head} ${e.verdict === "pass" ? c.green("accepts") : c.yellow("rejects")} ${e.taskId}: ${clip(e.reasons.join("; "), 100)}`;
    case "final":
      return `${head} ${c.green("done")}`;
    case "stopped":
      return `${head} ${c.yellow(`stopped: ${e.reason}`)} — ${clip(e.detail, 120)}`;
    default:
      return undefined;
  }
}

function summaryLine(r: RunSummary, c: Colors): string {
  const state = r.status === "done" ? c.green("done") : r.status === "stopped" ? c.yellow("stopped") : c.red("failed");
  return `${state}${r.status === "done" ? "" : ` (${r.stop.reason}: ${r.stop.detail})`} · ${r.steps} model calls · ${r.usage.totalTokens} tokens · ${usd(r.costUsd)} · run ${r.runId}`;
}

/** Side-effecting calls: --yes approves them; on a terminal the user is asked; otherwise they are refused. */
function approvalGate(ctx: CliContext, yes: boolean | undefined): ApprovalGate {
  if (yes) return () => true;
  return async (req) => {
    if (ctx.out.json || !process.stdin.isTTY) return false;
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(
        `${req.agent} wants to run ${req.tool.name}(${clip(JSON.stringify(req.arguments), 200)}), which has side effects. Allow? [y/N] `,
      );
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  };
}

async function openProject(
  ctx: CliContext,
): Promise<{ store: Store; tracing: Tracing; defaultModel?: string; tools: Tool[] }> {
  const config = await ctx.loadConfig();
  const store = await ctx.openStore(config);
  const { ArtifactStore, startTracing } = await import("@quintet/core");
  const tracing = await startTracing(store);
  const tools = await builtinTools(store, await ArtifactStore.open({ home: config.home, store }));
  return { store, tracing, tools, ...(config.llm.default ? { defaultModel: config.llm.default } : {}) };
}

/**
 * Tools a team.yaml can name without declaring them: `fetch_page` (read a public web page)
 * and `predict_<model>` for every registered model with a champion alias.
 */
async function builtinTools(store: Store, artifacts: ArtifactStore): Promise<Tool[]> {
  const [{ webFetchTool }, { ModelRegistry, registryTools }] = await Promise.all([
    import("@quintet/agents"),
    import("@quintet/platform"),
  ]);
  return [webFetchTool(), ...(await registryTools(new ModelRegistry(store, artifacts)))];
}

/** Ctrl-C cancels the run cleanly (it can be resumed) instead of killing the process mid-step. */
function cancelOnSigint(ctx: CliContext): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onSigint = () => {
    ctx.out.status("cancelling: the run stops at the current step (continue it with `quintet agent runs resume <id>`)");
    ac.abort();
  };
  process.once("SIGINT", onSigint);
  return { signal: ac.signal, dispose: () => process.off("SIGINT", onSigint) };
}

/** Streams a run's events (lines, or NDJSON under --json) and prints how it ended. */
async function follow(ctx: CliContext, run: RunHandle<RunSummary & { output: string }>): Promise<void> {
  for await (const e of run) {
    if (ctx.out.json) ctx.io.stdout.write(`${JSON.stringify(e)}\n`);
    else {
      const text = renderEvent(e, ctx.out.c);
      if (text) ctx.io.stderr.write(`${text}\n`);
    }
  }
  const r = await run.result;
  if (ctx.out.json) ctx.out.result({ type: "result", ...r, messages: undefined });
  else {
    if (r.output) ctx.io.stdout.write(`${r.output}\n`);
    ctx.out.status(summaryLine(r, ctx.out.c));
  }
  if (r.status !== "done") ctx.setExitCode(EXIT.FAILURE);
}

async function runTeam(ctx: CliContext, file: string, goal: string, opts: { runId?: string; yes?: boolean }) {
  const { resolve } = await import("node:path");
  const { loadTeam } = await import("@quintet/agents");
  const project = await openProject(ctx);
  let built: Awaited<ReturnType<typeof loadTeam>> | undefined;
  const cancel = cancelOnSigint(ctx);
  try {
    built = await loadTeam(resolve(ctx.cwd, file), {
      env: ctx.env,
      store: project.store,
      tools: project.tools,
      ...(project.defaultModel ? { defaultModel: project.defaultModel } : {}),
    });
    const run = built.team.run(goal, {
      store: project.store,
      signal: cancel.signal,
      approve: approvalGate(ctx, opts.yes),
      ...(opts.runId ? { runId: opts.runId } : {}),
    });
    if (!ctx.out.json)
      ctx.out.status(ctx.out.c.dim(`team ${built.team.name} (${built.team.pattern.kind}) · run ${run.runId}`));
    await follow(ctx, run);
  } finally {
    cancel.dispose();
    await built?.close();
    await project.tracing.shutdown();
    await project.store.close();
  }
}

async function resumeRun(ctx: CliContext, id: string, opts: { yes?: boolean }) {
  const { buildTeam, parseTeamConfig, RunStore } = await import("@quintet/agents");
  const { QuintetError } = await import("@quintet/core");
  const project = await openProject(ctx);
  let built: Awaited<ReturnType<typeof buildTeam>> | undefined;
  const cancel = cancelOnSigint(ctx);
  try {
    const record = await (await RunStore.open(project.store)).get(id);
    const stored = record.config as { team?: unknown; baseDir?: string } | undefined;
    if (record.kind !== "team" || !stored?.team) {
      throw new QuintetError(
        "UNSUPPORTED",
        `run ${id} is an agent run started from code; only team runs can be resumed here`,
        {
          hint: "Resume it from code with agent.resume(runId, { store }).",
        },
      );
    }
    built = await buildTeam(parseTeamConfig(stored.team, `the team stored with run ${id}`), {
      env: ctx.env,
      store: project.store,
      tools: project.tools,
      ...(stored.baseDir ? { baseDir: stored.baseDir } : {}),
      ...(project.defaultModel ? { defaultModel: project.defaultModel } : {}),
    });
    const run = built.team.resume(id, {
      store: project.store,
      signal: cancel.signal,
      approve: approvalGate(ctx, opts.yes),
    });
    await follow(ctx, run);
  } finally {
    cancel.dispose();
    await built?.close();
    await project.tracing.shutdown();
    await project.store.close();
  }
}

function runsTable(runs: RunRecord[], c: Colors): string {
  if (runs.length === 0) return 'No agent runs yet. Start one with `quintet agent run team.yaml "goal"`.';
  const rows = runs.map((r) => [
    r.id,
    `${r.kind} ${r.name}`,
    r.status === "done" ? c.green(r.status) : r.status === "running" ? c.cyan(r.status) : c.yellow(r.status),
    r.stop?.reason ?? "",
    String(r.steps),
    String(r.totalTokens),
    usd(r.costUsd),
    new Date(r.createdAt).toISOString().replace("T", " ").slice(0, 19),
  ]);
  const head = ["id", "agent/team", "status", "reason", "calls", "tokens", "cost", "started"];
  const plain = (s: string) => stripVTControlCharacters(s);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => plain(r[i]!).length)));
  const fmt = (cells: string[]) => cells.map((s, i) => s + " ".repeat(widths[i]! - plain(s).length)).join("  ");
  return [c.dim(fmt(head)), ...rows.map(fmt)].join("\n");
}

function replayLine(s: ReplayStep, c: Colors): string {
  const line =
    renderEvent({ ...s.event, replayed: false } as RunEvent, c) ??
    `${String(s.event.seq).padStart(3)}  ${s.event.agent} ${s.event.type}`;
  return `${c.dim(`[${s.index}/${s.total}]`)} ${line} ${c.dim(`| ${s.totals.modelCalls} calls · ${s.totals.usage.totalTokens} tok · ${usd(s.totals.costUsd)}`)}`;
}

async function withStore<T>(ctx: CliContext, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await ctx.openStore(await ctx.loadConfig());
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function register(program: Command, ctx: CliContext): void {
  const agent = program
    .command("agent")
    .description("Run agent teams from a team.yaml and inspect, replay or resume their runs");
  agent
    .command("run <team> <goal>")
    .description("Run a team on a goal with a live view of its steps (--json: one event per line)")
    .option("--run-id <id>", "id for the run (default: a UUID)")
    .option("-y, --yes", "approve every side-effecting tool call (otherwise asked on a terminal, refused elsewhere)")
    .addHelpText(
      "after",
      '\nEvery step is checkpointed in the project store; an interrupted run continues with `quintet agent runs resume <id>`.\n\nExamples:\n  quintet agent run team.yaml "Compare our refund policy with the law"\n  quintet agent run team.yaml "Summarise open incidents" --json | jq -c \'select(.type=="tool-call")\'',
    )
    .action((team: string, goal: string, opts: { runId?: string; yes?: boolean }) => runTeam(ctx, team, goal, opts));
  const runs = agent.command("runs").description("Recorded agent and team runs");
  runs
    .command("ls")
    .description("List runs, newest first")
    .option("--limit <n>", "how many", integer("--limit", 1), 20)
    .option("--status <status>", "running, done, stopped or failed")
    .action(async (opts: { limit: number; status?: string }) => {
      if (opts.status && !["running", "done", "stopped", "failed"].includes(opts.status)) {
        throw new InvalidArgumentError("--status must be running, done, stopped or failed");
      }
      const { RunStore } = await import("@quintet/agents");
      const list = await withStore(ctx, async (store) =>
        (await RunStore.open(store)).list({
          limit: opts.limit,
          ...(opts.status ? { status: opts.status as never } : {}),
        }),
      );
      ctx.out.result(list, (l) => runsTable(l, ctx.out.c));
    });
  runs
    .command("show <id>")
    .description("Show a run: how it ended, its output and every step")
    .action(async (id: string) => {
      const { loadRun } = await import("@quintet/agents");
      const data = await withStore(ctx, (store) => loadRun(store, id));
      ctx.out.result(data, ({ run, events }) => {
        const c = ctx.out.c;
        const lines = [
          `${c.bold(`${run.kind} ${run.name}`)} · run ${run.id}`,
          `input: ${clip(JSON.stringify(run.input) ?? "", 200)}`,
          `status: ${run.status}${run.stop ? ` (${run.stop.reason}: ${run.stop.detail})` : ""}`,
          `${run.steps} model calls · ${run.totalTokens} tokens · ${usd(run.costUsd)}`,
          ...(run.error ? [c.red(`error[${run.error.code}]: ${run.error.message}`)] : []),
          "",
          ...events.map((e) => renderEvent(e, c)).filter((l): l is string => l !== undefined),
        ];
        const output = (run.output as { output?: string } | undefined)?.output;
        if (output) lines.push("", c.bold("output:"), output);
        return lines.join("\n");
      });
    });
  runs
    .command("replay <id>")
    .description("Replay a run step by step with running totals (nothing is executed again)")
    .option("--step <n>", "show step n in full (its recorded event as JSON)", integer("--step", 1))
    .option("--delay <ms>", "pause between steps, to watch it unfold", integer("--delay", 0), 0)
    .action(async (id: string, opts: { step?: number; delay: number }) => {
      const { replayRun } = await import("@quintet/agents");
      const { NotFoundError } = await import("@quintet/core");
      await withStore(ctx, async (store) => {
        let found = false;
        for await (const s of replayRun(store, id)) {
          if (opts.step !== undefined) {
            if (s.index !== opts.step) continue;
            found = true;
            ctx.out.result(s, (x) => `${replayLine(x, ctx.out.c)}\n${JSON.stringify(x.event, null, 2)}`);
            break;
          }
          if (ctx.out.json) ctx.io.stdout.write(`${JSON.stringify(s)}\n`);
          else ctx.io.stdout.write(`${replayLine(s, ctx.out.c)}\n`);
          if (opts.delay) await new Promise((r) => setTimeout(r, opts.delay));
        }
        if (opts.step !== undefined && !found) {
          throw new NotFoundError(`run ${id} has no step ${opts.step}`, {
            hint: `See its steps with quintet agent runs show ${id}.`,
          });
        }
      });
    });
  runs
    .command("resume <id>")
    .description("Continue an interrupted team run from its last recorded step")
    .option("-y, --yes", "approve every side-effecting tool call")
    .action((id: string, opts: { yes?: boolean }) => resumeRun(ctx, id, opts));
}
