import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { QuintetError, UnavailableError, ValidationError } from "../errors/errors.js";
import { openStore, type Store } from "../store/store.js";
import { backoffDelay, normalizeProgress } from "./attempt.js";
import { redisOptionsFromUrl } from "./bullmq-runner.js";
import { createJobRunner } from "./create.js";
import { createInProcessRunner } from "./in-process.js";
import { createBullMqRunner } from "./index.js";
import { runJobRunnerConformance } from "./jobs.conformance.js";
import type { JobsTable } from "./migrations.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-jobs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// Runners of one process share one store: better-sqlite3 is synchronous, so two connections
// of one thread would wait on each other's write lock (other processes are tested below).
let shared: Promise<Store> | undefined;
afterAll(async () => (await shared)?.close());
runJobRunnerConformance("in-process on SQLite", async (options) => {
  shared ??= openStore({ url: `sqlite:${join(dir, "conformance.db")}` });
  return createInProcessRunner({ store: await shared, pollIntervalMs: 50, ...options });
});

describe("job runner pieces", () => {
  it("computes exponential backoff, capped, with jitter drawn from the upper half", () => {
    const b = { baseMs: 100, maxMs: 1000, jitter: false };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(b, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const j = { ...b, jitter: true };
    expect(backoffDelay(j, 3, () => 0)).toBe(200);
    expect(backoffDelay(j, 3, () => 1)).toBe(400);
    expect(backoffDelay(j, 3, () => 0.5)).toBe(300);
  });

  it("normalises progress and rejects nonsense", () => {
    expect(normalizeProgress(0.5)).toEqual({ fraction: 0.5 });
    expect(normalizeProgress({ done: 1, total: 4 })).toEqual({ fraction: 0.25, done: 1, total: 4 });
    expect(normalizeProgress({ done: 0, total: 0, message: "empty" })).toEqual({
      fraction: 1,
      done: 0,
      total: 0,
      message: "empty",
    });
    expect(() => normalizeProgress(1.5)).toThrow(ValidationError);
    expect(() => normalizeProgress(Number.NaN)).toThrow(ValidationError);
    expect(() => normalizeProgress({ done: -1, total: 2 })).toThrow(ValidationError);
  });

  it("reads Redis URLs into connection options", () => {
    expect(redisOptionsFromUrl("redis://127.0.0.1:6379/15")).toEqual({ host: "127.0.0.1", port: 6379, db: 15 });
    expect(redisOptionsFromUrl("rediss://u:p%40ss@cache.example:6380")).toEqual({
      host: "cache.example",
      port: 6380,
      username: "u",
      password: "p@ss",
      tls: {},
    });
    expect(() => redisOptionsFromUrl("http://x")).toThrow(ValidationError);
    expect(() => redisOptionsFromUrl("redis://x/abc")).toThrow(/database number/);
  });

  it("fails fast with REDIS_UNAVAILABLE and a fix when Redis cannot be reached", async () => {
    const err = await createBullMqRunner({ redisUrl: "redis://127.0.0.1:1/0", connectTimeoutMs: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.code).toBe("REDIS_UNAVAILABLE");
    expect(err.status).toBe(503);
    expect(err.message).toContain("redis://127.0.0.1:1/0");
    expect(err.hint).toMatch(/QUINTET_REDIS_URL/);
  });

  it("hides the Redis password in the unavailable error", async () => {
    const err = await createBullMqRunner({ redisUrl: "redis://user:s3cret@127.0.0.1:1" }).catch((e) => e);
    expect(err.code).toBe("REDIS_UNAVAILABLE");
    expect(err.message).not.toContain("s3cret");
  });

  it("createJobRunner picks the in-process runner without a Redis URL and opens the configured store", async () => {
    const url = `sqlite:${join(dir, "configured.db")}`;
    const runner = await createJobRunner({ redis: { url: undefined }, db: { url }, jobs: { concurrency: 2 } });
    expect(runner.kind).toBe("in-process");
    runner.register("hello", async (data: { who: string }) => `hi ${data.who}`);
    await runner.start();
    const id = await runner.enqueue("hello", { who: "ada" });
    expect((await runner.wait(id, { timeoutMs: 10_000 })).result).toBe("hi ada");
    await runner.stop();
    expect(existsSync(join(dir, "configured.db"))).toBe(true);
    await expect(createJobRunner({ redis: { url: undefined } })).rejects.toThrow(/db\.url/);
    await expect(createJobRunner({ redis: { url: "redis://127.0.0.1:1" } })).rejects.toMatchObject({
      code: "REDIS_UNAVAILABLE",
    });
  });

  it("refuses bad runner options", async () => {
    const store = await openStore({ url: "sqlite::memory:" });
    await expect(createInProcessRunner({ store, concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(createInProcessRunner({ store, leaseMs: 100, heartbeatMs: 100 })).rejects.toThrow(/heartbeatMs/);
    await store.close();
  });
});

describe("in-process runner: leases", () => {
  it("refuses a stale owner's outcome: a job taken over after its lease expired completes once", async () => {
    const url = `sqlite:${join(dir, "stale.db")}`;
    const store = await openStore({ url });
    const storeA = store;
    const storeB = store;
    const release = deferred();
    const startedA = deferred();
    // A renews rarely, so it does not notice the takeover before its handler returns.
    const a = await createInProcessRunner({ store: storeA, leaseMs: 60_000, heartbeatMs: 30_000, pollIntervalMs: 50 });
    const b = await createInProcessRunner({ store: storeB, pollIntervalMs: 50 });
    const completedBy: string[] = [];
    a.register("job", async () => {
      startedA.resolve();
      await release.promise;
      return "from A";
    });
    b.register("job", async () => "from B");
    a.on("completed", () => completedBy.push("A"));
    b.on("completed", () => completedBy.push("B"));
    await a.start();
    const id = await a.enqueue("job", {});
    await startedA.promise;
    // As if A had been frozen past its lease.
    const db = storeB.db.withTables<JobsTable>();
    await db.updateTable("jobs").set({ lease_expires_at: 0 }).where("id", "=", id).execute();
    await b.start();
    const info = await b.wait(id, { timeoutMs: 10_000 });
    expect(info).toMatchObject({ state: "completed", result: "from B", attempts: 2 });
    release.resolve();
    await a.stop();
    await b.stop();
    const row = await db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    expect(row.state).toBe("completed");
    expect(JSON.parse(row.result!)).toBe("from B");
    expect(completedBy).toEqual(["B"]);
    await store.close();
  });

  it("fails a job that keeps killing its runners after maxStalls takeovers", async () => {
    const store = await openStore({ url: `sqlite:${join(dir, "stalls.db")}` });
    const r = await createInProcessRunner({ store, pollIntervalMs: 50, maxStalls: 1 });
    r.register("crashy", async () => "never");
    const id = await r.enqueue("crashy", {});
    const db = store.db.withTables<JobsTable>();
    // A row as a dead runner leaves it, already taken back once before.
    await db
      .updateTable("jobs")
      .set({ state: "active", stalls: 1, attempts: 2, lease_owner: "dead", lease_token: "t", lease_expires_at: 1 })
      .where("id", "=", id)
      .execute();
    const failed: string[] = [];
    r.on("failed", (e) => failed.push(e.error.message));
    await r.start();
    const info = await r.wait(id, { timeoutMs: 10_000 });
    expect(info.state).toBe("failed");
    expect(info.error?.message).toMatch(/interrupted 2 times/);
    expect(failed).toHaveLength(1);
    await r.stop();
    await store.close();
  });
});

// ---- crash and multi-process tests -------------------------------------------------------

interface WorkerOptions {
  concurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  pollIntervalMs: number;
  sleepMs: number;
}

function spawnWorker(url: string, log: string, options: WorkerOptions): { child: ChildProcess; ready: Promise<void> } {
  const script = fileURLToPath(new URL("./fixtures/job-worker.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    ["--conditions=source", "--import", "tsx", script, url, log, JSON.stringify(options)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stderr!.on("data", (d) => {
    err += d;
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      if (String(d).includes("ready")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`worker exited early (${code}): ${err}`)));
  });
  return { child, ready };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

function readLog(path: string): string[][] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "));
}

async function integrity(store: Store): Promise<string> {
  const r = await sql<{ integrity_check: string }>`pragma integrity_check`.execute(store.db);
  return r.rows.map((x) => x.integrity_check).join(",");
}

describe("in-process runner: processes", () => {
  it("resumes the jobs of a process killed with SIGKILL mid-job, completing each exactly once", async () => {
    const url = `sqlite:${join(dir, "killed.db")}`;
    const log = join(dir, "killed.log");
    const store = await openStore({ url });
    const opts = { concurrency: 2, leaseMs: 1000, heartbeatMs: 200, pollIntervalMs: 50, sleepMs: 300 };
    const runner = await createInProcessRunner({ store, ...opts });
    runner.register("work", async (data: { i: number }, ctx) => {
      appendFileSync(log, `start ${ctx.jobId} ${process.pid} ${ctx.attempt}\n`);
      await sleep(opts.sleepMs);
      appendFileSync(log, `end ${ctx.jobId} ${process.pid}\n`);
      return { i: data.i, by: process.pid };
    });
    runner.on("completed", (e) => {
      appendFileSync(log, `completed ${e.id} ${process.pid}\n`);
    });
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => runner.enqueue("work", { i })));

    const { child, ready } = spawnWorker(url, log, opts);
    await ready;
    // Kill it once it has finished some jobs and is in the middle of others.
    const midJob = () => {
      const lines = readLog(log);
      const ended = new Set(lines.filter((l) => l[0] === "end").map((l) => l[1]));
      const completed = lines.filter((l) => l[0] === "completed").length;
      return completed >= 2 && lines.some((l) => l[0] === "start" && !ended.has(l[1]));
    };
    const deadline = Date.now() + 30_000;
    while (!midJob()) {
      if (Date.now() > deadline) throw new Error(`the worker never got going: ${readFileSync(log, "utf8")}`);
      await sleep(2);
    }
    child.kill("SIGKILL");
    expect((await exited(child)).signal).toBe("SIGKILL");

    const before = readLog(log);
    const endedBefore = new Set(before.filter((l) => l[0] === "end").map((l) => l[1]));
    const interrupted = before.filter((l) => l[0] === "start" && !endedBefore.has(l[1])).map((l) => l[1]!);
    expect(interrupted.length).toBeGreaterThan(0);
    const orphaned = await runner.list({ state: "active" });
    expect(orphaned.map((j) => j.id).sort()).toEqual(expect.arrayContaining([...interrupted].sort()));

    await runner.start();
    const infos = await Promise.all(ids.map((id) => runner.wait(id, { timeoutMs: 30_000 })));
    await runner.stop();

    const lines = readLog(log);
    for (const info of infos) {
      expect(info.state).toBe("completed");
      const completions = lines.filter((l) => l[0] === "completed" && l[1] === info.id);
      expect(completions).toHaveLength(1);
      // The result is from the process that recorded the completion.
      expect((info.result as { by: number }).by).toBe(Number(completions[0]![2]));
      const starts = lines.filter((l) => l[0] === "start" && l[1] === info.id).length;
      expect(info.attempts).toBe(starts);
      expect(starts).toBe(interrupted.includes(info.id) ? 2 : 1);
    }
    for (const id of interrupted) {
      expect(lines.filter((l) => l[0] === "completed" && l[1] === id)[0]![2]).toBe(String(process.pid));
    }
    expect(await integrity(store)).toBe("ok");
    const db = store.db.withTables<JobsTable>();
    const leftovers = await db.selectFrom("jobs").select("id").where("lease_token", "is not", null).execute();
    expect(leftovers).toEqual([]);
    await store.close();
  });

  it("never runs one job in two processes sharing a SQLite file", async () => {
    const url = `sqlite:${join(dir, "shared.db")}`;
    const log = join(dir, "shared.log");
    const store = await openStore({ url });
    const producer = await createInProcessRunner({ store, pollIntervalMs: 50 });
    producer.register("work", async () => {
      throw new QuintetError("INTERNAL", "the producer never runs jobs");
    });
    const opts = { concurrency: 3, leaseMs: 5000, heartbeatMs: 500, pollIntervalMs: 20, sleepMs: 15 };
    const workers = [spawnWorker(url, log, opts), spawnWorker(url, log, opts)];
    await Promise.all(workers.map((w) => w.ready));
    const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => producer.enqueue("work", { i })));
    const infos = await Promise.all(ids.map((id) => producer.wait(id, { timeoutMs: 60_000 })));
    for (const w of workers) w.child.kill("SIGTERM");
    for (const w of workers) expect((await exited(w.child)).code).toBe(0);

    const lines = readLog(log);
    for (const info of infos) {
      expect(info.state).toBe("completed");
      const own = lines.filter((l) => l[1] === info.id);
      // One start, one end, one completion, in that order, all from the same process.
      expect(own.map((l) => l[0])).toEqual(["start", "end", "completed"]);
      expect(new Set(own.map((l) => l[2])).size).toBe(1);
    }
    expect(await integrity(store)).toBe("ok");
    await producer.stop();
    await store.close();
  });
});
