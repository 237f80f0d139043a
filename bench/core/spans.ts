/**
 * Span recording throughput: spans per second through `withSpan` with the batch exporter
 * writing to SQLite (the issue's aim: at least 50,000 spans/s batched).
 *
 * Two rates per scenario:
 * - hot path: spans/s seen by the code being traced (withSpan calls back to back; the
 *   exporter's writes are deferred to later turns of the event loop);
 * - persisted: spans/s from the first span to the last row committed (recording, then
 *   flush), checked against a row count so nothing was dropped.
 * The "interleaved" scenario yields to the event loop every 1,000 spans, as a server
 * between requests would, so writes run while spans are still being recorded.
 *
 * Run: `npm run bench:core` or `node --conditions=source --import tsx bench/core/spans.ts [spans]`.
 * Writes `bench/results/core-spans.{json,md}`.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { openStore, SpanQuery, startTracing, type TracingOptions, withSpan } from "@quintet/core";

const N = Number(process.argv[2] ?? 200_000);
const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), "quintet-bench-spans-"));

interface Result {
  scenario: string;
  spans: number;
  hotPathSpansPerSec: number;
  hotPathUsPerSpan: number;
  persistedSpansPerSec: number;
  /** The same rates over this process's CPU time: less skewed when other jobs share the cores. */
  hotPathSpansPerCpuSec: number;
  persistedSpansPerCpuSec: number;
  rowsPersisted: number;
  dbBytesPerSpan: number;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

async function flat(i: number): Promise<number> {
  return withSpan("llm.call", "generate", { model: "gpt-4o-mini", i, stream: false }, (span) => {
    span.setUsage({ inputTokens: 120, outputTokens: 40, costUsd: 0.00003 });
    return i;
  });
}

async function nested(i: number): Promise<number> {
  // One agent step with nine tool/LLM children: ten spans per call.
  return withSpan("agent.step", "step", { i }, async () => {
    for (let c = 0; c < 9; c++) await withSpan(c % 3 === 0 ? "llm.call" : "tool", "child", { c }, () => c);
    return i;
  });
}

async function run(
  scenario: string,
  spansPerCall: number,
  call: (i: number) => Promise<number>,
  options: TracingOptions,
  yieldEvery = 0,
): Promise<Result> {
  const file = join(work, `${scenario.replace(/\W+/g, "-")}.db`);
  const store = await openStore({ url: `sqlite:${file}` });
  const tracing = await startTracing(store, options);
  // Warm up the JIT and the table, then start from an empty table.
  for (let i = 0; i < 5_000; i++) await call(i);
  await tracing.flush();
  await store.db.withTables<{ spans: { kind: string } }>().deleteFrom("spans").execute();

  const calls = Math.ceil(N / spansPerCall);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    await call(i);
    if (yieldEvery > 0 && (i + 1) % yieldEvery === 0) await yieldToLoop();
  }
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  await tracing.flush();
  const t2 = performance.now();
  const c2 = process.cpuUsage(c0);
  const cpuSec = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;
  const spans = calls * spansPerCall;
  const summary = await new SpanQuery(store).summary();
  const rows = summary.reduce((n, s) => n + s.count, 0);
  await tracing.shutdown();
  await store.close();
  const bytes = statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
  return {
    scenario,
    spans,
    hotPathSpansPerSec: spans / ((t1 - t0) / 1000),
    hotPathUsPerSpan: ((t1 - t0) * 1000) / spans,
    persistedSpansPerSec: spans / ((t2 - t0) / 1000),
    hotPathSpansPerCpuSec: spans / cpuSec(c1),
    persistedSpansPerCpuSec: spans / cpuSec(c2),
    rowsPersisted: rows,
    dbBytesPerSpan: bytes / Math.max(1, rows),
  };
}

async function noTracing(): Promise<number> {
  for (let i = 0; i < 5_000; i++) await flat(i);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await flat(i);
  return N / ((performance.now() - t0) / 1000);
}

const big: TracingOptions = { maxQueueSize: N + 20_000, maxExportBatchSize: 2048 };
const results: Result[] = [];
const offRate = await noTracing();
results.push(await run("flat, back to back", 1, flat, big));
results.push(await run("nested (1 step + 9 children), back to back", 10, nested, big));
results.push(await run("flat, interleaved (yield every 1,000), default options", 1, flat, {}, 1000));
rmSync(work, { recursive: true, force: true });

const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const date = new Date().toISOString();
const load = loadavg()[0]?.toFixed(1) ?? "?";
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), shared with other jobs (1-min load average ${load} at the end)`;
const lines = [
  `# Span recording (${date}, Node ${process.version})`,
  "",
  `${machine}. SQLite (WAL, synchronous=NORMAL) in a temp dir; BatchSpanProcessor + store exporter.`,
  `withSpan with tracing off: ${fmt(offRate)} spans/s. Wall-clock rates suffer when other jobs share the cores; the CPU-second columns divide by this process's own CPU time.`,
  "",
  "| scenario | spans | hot path (spans/s) | hot path (µs/span) | persisted end-to-end (spans/s) | hot path (spans/CPU-s) | persisted (spans/CPU-s) | rows | bytes/span |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...results.map(
    (r) =>
      `| ${r.scenario} | ${fmt(r.spans)} | ${fmt(r.hotPathSpansPerSec)} | ${fmt(r.hotPathUsPerSpan, 2)} | ${fmt(r.persistedSpansPerSec)} | ${fmt(r.hotPathSpansPerCpuSec)} | ${fmt(r.persistedSpansPerCpuSec)} | ${fmt(r.rowsPersisted)} | ${fmt(r.dbBytesPerSpan)} |`,
  ),
  "",
];
console.log(lines.join("\n"));
const out = join(here, "..", "results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "core-spans.json"),
  `${JSON.stringify({ node: process.version, date, machine, spans: N, withSpanOffPerSec: offRate, results }, null, 2)}\n`,
);
writeFileSync(join(out, "core-spans.md"), lines.join("\n"));
const lost = results.filter((r) => r.rowsPersisted !== r.spans);
if (lost.length > 0) {
  console.error(`spans lost in: ${lost.map((r) => `${r.scenario} (${r.spans - r.rowsPersisted})`).join(", ")}`);
  process.exit(1);
}
