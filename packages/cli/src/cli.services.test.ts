import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const pgUrl = process.env.QUINTET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const redisUrl = process.env.QUINTET_TEST_REDIS_URL ?? "redis://127.0.0.1:6379/15";
const main = fileURLToPath(new URL("./main.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const dir = mkdtempSync(join(tmpdir(), "quintet-cli-svc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function quintet(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("QUINTET_")));
  const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, main, ...args], {
    cwd: dir,
    env: { ...clean, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, err })));
}

describe("quintet on PostgreSQL and Redis", () => {
  it("init migrates the PostgreSQL store and doctor passes with both services configured", async () => {
    const env = { QUINTET_DB_URL: pgUrl, QUINTET_REDIS_URL: redisUrl };
    const init = await quintet(["--json", "init", "--force"], env);
    expect(init.err).toBe("");
    expect(init.code).toBe(0);
    expect(JSON.parse(init.out).store).toMatch(/^postgres/);

    const doctor = await quintet(["doctor", "--json"], env);
    const report = JSON.parse(doctor.out);
    const byName = Object.fromEntries(report.checks.map((c: { name: string }) => [c.name, c]));
    expect(byName.store).toMatchObject({ status: "ok" });
    expect(byName.store.detail).toContain("PostgreSQL");
    expect(byName.redis).toMatchObject({ status: "ok", required: true });
    expect(report.ok).toBe(true);
    expect(doctor.code).toBe(0);
  });
});
