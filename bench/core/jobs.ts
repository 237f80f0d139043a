/**
 * Job runner overhead: what the runner itself costs per job, measured with a no-op handler
 * (the issue's aim: ≤ 0.2 ms per job for the in-process runner, amortised with concurrency).
 *
 * For each runner and concurrency: enqueue N jobs (awaited together, as a producer would),
 * then start the runner and time until every job is recorded as completed. "per job" is
 * (enqueue + run) / N — everything the runner writes and reads for a job: the insert, the
 * claim, the lease, the completion. The in-process runner runs on a SQLite file in a temp
 * folder (WAL, synchronous=NORMAL — the store's defaults); BullMQ runs when Redis answers
 * at QUINTET_REDIS_URL or redis://127.0.0.1:6379/15 (keys under a throwaway prefix, deleted after).
 *
 * Run: `npm run bench:core` or `node --conditions=source --import tsx bench/core/jobs.ts`.
 * Writes `bench/results/core-jobs.{json,md}`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createBullMqRunner, createInProcessRunner, type JobRunner, openStore, type Store } from "@quintet/core";
import { Redis } from "ioredis";

const N = Number(process.env.BENCH_JOBS ?? 5000);
const AIM_MS = 0.2;

interface Row {
  runner: string;
  concurrency: number;
  jobs: number;
  enqueueMsPerJob: number;
  runMsPerJob: number;
  totalMsPerJob: number;
  /** CPU time of this process per job (user + system): less sensitive to other load than wall time. */
  cpuMsPerJob: number;
  jobsPerSec: number;
}

const silent = { warn: () => {}, error: (o: object, m: string) => console.error(m, o) };

async function measure(label: string, concurrency: number, make: () => Promise<JobRunner>): Promise<Row> {
  const runner = await make();
  const name = `noop-${concurrency}`;
  runner.register(name, async () => undefined, { concurrency });
  let completed = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => {
    resolveAll = r;
  });
  runner.on("completed", () => {
    if (++completed === N) resolveAll();
  });
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  // Enqueue in chunks so a producer's burst does not build one giant promise array.
  for (let i = 0; i < N; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, N - i) }, (_, k) => runner.enqueue(name, { i: i + k })));
  }
  const t1 = process.hrtime.bigint();
  await runner.start();
  await all;
  const t2 = process.hrtime.bigint();
  const cpu = process.cpuUsage(c0);
  await runner.stop();
  const enqueueMs = Number(t1 - t0) / 1e6;
  const runMs = Number(t2 - t1) / 1e6;
  return {
    runner: label,
    concurrency,
    jobs: N,
    enqueueMsPerJob: enqueueMs / N,
    runMsPerJob: runMs / N,
    totalMsPerJob: (enqueueMs + runMs) / N,
    cpuMsPerJob: (cpu.user + cpu.system) / 1000 / N,
    jobsPerSec: N / ((enqueueMs + runMs) / 1000),
  };
}

const rows: Row[] = [];
const dir = mkdtempSync(join(tmpdir(), "quintet-bench-jobs-"));
try {
  for (const concurrency of [1, 16, 64]) {
    let store: Store | undefined;
    rows.push(
      await measure("in-process (SQLite)", concurrency, async () => {
        store = await openStore({ url: `sqlite:${join(dir, `jobs-${concurrency}.db`)}` });
        return createInProcessRunner({ store, concurrency, logger: silent });
      }),
    );
    await store?.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const redisUrl = process.env.QUINTET_REDIS_URL ?? "redis://127.0.0.1:6379/15";
const prefix = `qbench-${process.pid}`;
let redisNote = "";
try {
  for (const concurrency of [1, 16, 64]) {
    rows.push(
      await measure("BullMQ (Redis)", concurrency, () =>
        createBullMqRunner({ redisUrl, prefix: `${prefix}-${concurrency}`, concurrency, logger: silent }),
      ),
    );
  }
} catch (err) {
  const e = err as { code?: string; message: string };
  if (e.code !== "REDIS_UNAVAILABLE") throw err;
  redisNote = `BullMQ skipped: ${e.message}`;
} finally {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}-*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } catch {
    // Redis is not there; nothing to clean.
  }
  redis.disconnect();
}

const fmt = (x: number) => x.toFixed(3);
const md = [
  "| runner | concurrency | jobs | enqueue (ms/job) | run (ms/job) | total (ms/job) | CPU (ms/job) | jobs/s |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${r.runner} | ${r.concurrency} | ${r.jobs} | ${fmt(r.enqueueMsPerJob)} | ${fmt(r.runMsPerJob)} | ${fmt(r.totalMsPerJob)} | ${fmt(r.cpuMsPerJob)} | ${Math.round(r.jobsPerSec).toLocaleString("en-US")} |`,
  ),
].join("\n");
console.log(md);
if (redisNote) console.log(`\n${redisNote}`);
const best = Math.min(...rows.filter((r) => r.runner.startsWith("in-process")).map((r) => r.totalMsPerJob));
console.log(
  `\naim: in-process no-op job overhead <= ${AIM_MS} ms/job (amortised) -> best ${fmt(best)} ms/job: ${best <= AIM_MS ? "met" : "NOT met"}`,
);

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "results");
mkdirSync(out, { recursive: true });
const meta = {
  node: process.version,
  date: new Date().toISOString(),
  cpus: cpus().length,
  note:
    "2-core machine shared with other jobs running at the same time, so wall times are indicative; " +
    "CPU is this Node process only (not the Redis server)",
};
writeFileSync(
  join(out, "core-jobs.json"),
  `${JSON.stringify({ ...meta, aimMsPerJob: AIM_MS, rows, redisNote }, null, 2)}\n`,
);
writeFileSync(
  join(out, "core-jobs.md"),
  `# Job runner overhead (${meta.date}, Node ${meta.node}, ${meta.cpus} CPUs)\n\n${meta.note}.\n\n${md}\n${redisNote ? `\n${redisNote}\n` : ""}\naim: in-process ≤ ${AIM_MS} ms per no-op job -> best ${fmt(best)} ms/job (${best <= AIM_MS ? "met" : "not met"})\n`,
);
