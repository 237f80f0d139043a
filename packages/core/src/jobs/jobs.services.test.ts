import { randomBytes } from "node:crypto";
import { connect, createServer, type Socket } from "node:net";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnavailableError } from "../errors/errors.js";
import { openStore, type Store } from "../store/store.js";
import { createBullMqRunner } from "./bullmq.js";
import { createJobRunner } from "./create.js";
import { createInProcessRunner } from "./in-process.js";
import { runJobRunnerConformance } from "./jobs.conformance.js";

const pgBase = process.env.QUINTET_TEST_PG_URL ?? "postgres://root@127.0.0.1:5432/test";
const redisUrl = process.env.QUINTET_TEST_REDIS_URL ?? "redis://127.0.0.1:6379/15";
const run = randomBytes(4).toString("hex");

// ---- PostgreSQL: a schema of our own per run, dropped afterwards --------------------------

const schema = `quintet_jobs_${run}`;
async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgBase });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
const pgUrl = new URL(pgBase);
pgUrl.searchParams.set("options", `-c search_path=${schema}`);
const stores: Store[] = [];
beforeAll(() => admin(`create schema ${schema}`));
afterAll(async () => {
  for (const s of stores.splice(0)) await s.close();
  await admin(`drop schema if exists ${schema} cascade`);
});

// Each runner gets its own pool, as separate processes would.
runJobRunnerConformance("in-process on PostgreSQL", async (options) => {
  const store = await openStore({ url: pgUrl.toString(), poolSize: 4 });
  stores.push(store);
  return createInProcessRunner({ store, pollIntervalMs: 50, ...options });
});

// ---- BullMQ: a key prefix of our own per run, deleted afterwards ---------------------------

const prefix = `qtest-${run}`;
afterAll(async () => {
  const redis = new Redis(redisUrl);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
  redis.disconnect();
});

runJobRunnerConformance("BullMQ on Redis", (options) =>
  createBullMqRunner({ redisUrl, prefix, pollIntervalMs: 100, ...options }),
);

describe("createJobRunner with Redis configured", () => {
  it("chooses BullMQ and runs jobs there", async () => {
    const runner = await createJobRunner({ redis: { url: redisUrl } }, { prefix });
    expect(runner.kind).toBe("bullmq");
    const name = `cfg-${run}`;
    runner.register(name, async (data: { n: number }) => data.n + 1);
    await runner.start();
    const id = await runner.enqueue(name, { n: 41 });
    expect((await runner.wait(id, { timeoutMs: 20_000 })).result).toBe(42);
    await runner.stop();
  });
});

describe("BullMQ runner when Redis goes away", () => {
  it("answers REDIS_UNAVAILABLE instead of hanging, and still stops", async () => {
    // A TCP proxy in front of the real Redis, so the test can cut the line.
    const target = new URL(redisUrl);
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", () => r()));
    const port = (proxy.address() as { port: number }).port;
    const runner = await createBullMqRunner({
      redisUrl: `redis://127.0.0.1:${port}${target.pathname}`,
      prefix,
      connectTimeoutMs: 500,
      logger: { warn: () => {}, error: () => {} },
    });
    const name = `gone-${run}`;
    runner.register(name, async () => "ok");
    runner.on("completed", () => {});
    await runner.start();
    const id = await runner.enqueue(name, {});
    expect((await runner.wait(id, { timeoutMs: 20_000 })).state).toBe("completed");

    proxy.close();
    for (const s of sockets) s.destroy();
    const err = await runner.enqueue(name, {}).catch((e) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.code).toBe("REDIS_UNAVAILABLE");
    expect(err.hint).toMatch(/QUINTET_REDIS_URL/);
    await expect(runner.get(id)).rejects.toMatchObject({ code: "REDIS_UNAVAILABLE" });
    await runner.stop();
  });
});
