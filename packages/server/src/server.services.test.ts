import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, loadConfig } from "@quintet/core";
import { afterAll, describe, expect, it } from "vitest";
import { startServer } from "./server.js";

const asAny = (v: unknown): any => v;

const pgUrl = process.env.QUINTET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const redisUrl = process.env.QUINTET_TEST_REDIS_URL ?? "redis://127.0.0.1:6379/15";
const dir = mkdtempSync(join(tmpdir(), "quintet-server-svc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("server on PostgreSQL and Redis", () => {
  it("is ready when both answer, and closes its connections on shutdown", async () => {
    const config = loadConfig({ cwd: dir, env: { QUINTET_DB_URL: pgUrl, QUINTET_REDIS_URL: redisUrl } });
    const server = await startServer({
      config,
      port: 0,
      handleSignals: false,
      logger: createLogger({ level: "silent" }),
    });
    try {
      const res = await fetch(`${server.url}/readyz`);
      const body = await res.json().then(asAny);
      expect(body).toMatchObject({ status: "ready", failed: [], checks: { store: { ok: true }, redis: { ok: true } } });
      expect(res.status).toBe(200);
    } finally {
      await server.close();
    }
    expect(server.app.quintet.store.isClosed).toBe(true);
  });
});
