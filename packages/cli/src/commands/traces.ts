import type { SpanRecord, Store } from "@quintet/core";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { formatTable, parseSince } from "../table.js";

async function withStore<T>(ctx: CliContext, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await ctx.openStore(await ctx.loadConfig());
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function since(value: string): number {
  try {
    return parseSince(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new InvalidArgumentError("expected a whole number from 1 to 10000");
  return n;
}

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : v.toFixed(0));
const usd = (v: number | null) =>
  v === null ? null : v === 0 ? "0" : `$${v < 0.01 ? v.toPrecision(2) : v.toFixed(2)}`;
const time = (t: number) => new Date(t).toISOString().replace("T", " ").slice(0, 19);

export function register(program: Command, ctx: CliContext): void {
  const traces = program
    .command("traces")
    .description(
      "Spans recorded by every part of Quintet (training, LLM calls, retrieval, tools, HTTP): list, show, summary",
    );

  traces
    .command("ls")
    .description("List recent spans, newest first")
    .option("--kind <kind>", "only this kind, e.g. llm.call, ml.train, http")
    .option("--status <status>", "ok or error")
    .option("--since <when>", "only spans that started after this (30m, 2h, 7d or a date)", since)
    .option("-n, --limit <n>", "at most this many (default 50)", positiveInt, 50)
    .action(async (opts: { kind?: string; status?: string; since?: number; limit: number }) => {
      if (opts.status !== undefined && opts.status !== "ok" && opts.status !== "error")
        throw new InvalidArgumentError(`--status must be ok or error, not "${opts.status}"`);
      const spans = await withStore(ctx, async (store) => {
        const { SpanQuery } = await import("@quintet/core");
        return new SpanQuery(store).list({
          ...(opts.kind ? { kind: opts.kind } : {}),
          ...(opts.status ? { status: opts.status as "ok" | "error" } : {}),
          ...(opts.since !== undefined ? { since: opts.since } : {}),
          limit: opts.limit,
        });
      });
      ctx.out.result(spans, (rows) =>
        rows.length === 0
          ? "No spans recorded yet. Run `quintet quickstart`, or any command that trains, calls a model or serves."
          : formatTable(
              ["started", "kind", "name", "ms", "status", "tokens", "cost", "trace"],
              rows.map((s) => [
                time(s.startMs),
                s.kind,
                s.name,
                ms(s.durationMs),
                s.status === "error" ? `error ${s.error?.code ?? ""}` : "ok",
                s.inputTokens === null && s.outputTokens === null ? null : (s.inputTokens ?? 0) + (s.outputTokens ?? 0),
                usd(s.costUsd),
                s.traceId,
              ]),
            ),
      );
    });

  traces
    .command("show <traceId>")
    .description("One trace as a tree with durations, a timeline bar per span, and errors")
    .action(async (traceId: string) => {
      const spans = await withStore(ctx, async (store) => {
        const { SpanQuery } = await import("@quintet/core");
        return new SpanQuery(store).trace(traceId);
      });
      if (spans.length === 0) {
        const { NotFoundError } = await import("@quintet/core");
        throw new NotFoundError(`no spans for trace ${traceId}`, { hint: "list traces with `quintet traces ls`" });
      }
      ctx.out.result(spans, (rows) => renderTree(rows));
    });

  traces
    .command("summary")
    .description("Per kind: count, errors, p50/p95 latency, tokens and cost, with a latency chart")
    .option("--kind <kind>", "only this kind")
    .option("--since <when>", "only spans that started after this (30m, 2h, 7d or a date)", since)
    .action(async (opts: { kind?: string; since?: number }) => {
      const summary = await withStore(ctx, async (store) => {
        const { SpanQuery } = await import("@quintet/core");
        return new SpanQuery(store).summary({
          ...(opts.kind ? { kind: opts.kind } : {}),
          ...(opts.since !== undefined ? { since: opts.since } : {}),
        });
      });
      const { barChart } = await import("@quintet/core");
      ctx.out.result(summary, (rows) =>
        rows.length === 0
          ? "No spans recorded yet."
          : [
              formatTable(
                ["kind", "count", "errors", "p50 ms", "p95 ms", "tokens", "cost"],
                rows.map((r) => [
                  r.kind,
                  r.count,
                  r.errors,
                  Number(ms(r.p50Ms)),
                  Number(ms(r.p95Ms)),
                  r.inputTokens + r.outputTokens,
                  usd(r.costUsd),
                ]),
              ),
              "",
              "p95 latency (ms)",
              barChart(rows.map((r) => ({ label: r.kind, value: r.p95Ms }))),
            ].join("\n"),
      );
    });
}

/** Indented names on the left, a bar placed on the trace's timeline on the right. */
function renderTree(spans: (SpanRecord & { depth: number })[]): string {
  const start = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.endMs));
  const span = Math.max(end - start, 1e-6);
  const width = 30;
  const labels = spans.map((s) => `${"  ".repeat(s.depth)}${s.kind} ${s.name}`);
  const lw = Math.min(60, Math.max(...labels.map((l) => l.length)));
  return spans
    .map((s, i) => {
      const from = Math.floor(((s.startMs - start) / span) * width);
      const len = Math.max(1, Math.round((s.durationMs / span) * width));
      const bar = `${" ".repeat(from)}${"█".repeat(Math.min(len, width - from))}`.padEnd(width);
      const label = labels[i]!.length > lw ? `${labels[i]!.slice(0, lw - 1)}…` : labels[i]!.padEnd(lw);
      const err = s.status === "error" ? `  error[${s.error?.code}]: ${s.error?.message}` : "";
      return `${label}  ${bar} ${ms(s.durationMs).padStart(8)} ms${err}`;
    })
    .join("\n");
}
