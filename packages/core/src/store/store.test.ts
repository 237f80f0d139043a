import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { storeConformance } from "./store.conformance.js";
import { openStore } from "./store.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const url = `sqlite:${join(dir, "conformance.db")}`;
storeConformance("sqlite", () => openStore({ url }));

function runChild(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const script = fileURLToPath(new URL("./fixtures/writer.ts", import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", script, ...args], {
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
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

describe("sqlite store", () => {
  it("lets many processes write concurrently without a busy error reaching the caller", async () => {
    const dbUrl = `sqlite:${join(dir, "concurrent.db")}`;
    const store = await openStore({ url: dbUrl });
    await store.migrate("writers", [
      {
        id: "0001",
        up: async (db) => {
          await db.schema
            .createTable("writes")
            .addColumn("worker", "text", (c) => c.notNull())
            .addColumn("i", "integer", (c) => c.notNull())
            .execute();
        },
      },
    ]);
    const workers = 6;
    const perWorker = 150;
    const results = await Promise.all(
      Array.from({ length: workers }, (_, w) => runChild([dbUrl, `w${w}`, String(perWorker)])),
    );
    for (const r of results) {
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toEqual({ failures: 0 });
    }
    const count = await store.db
      .withTables<{ writes: { worker: string; i: number } }>()
      .selectFrom("writes")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(workers * perWorker);
    await store.close();
  });

  it("names the file and the fix when the path is not a database", async () => {
    const bad = join(dir, "not-a-db.db");
    writeFileSync(bad, "this is not sqlite ".repeat(100));
    await expect(openStore({ url: `sqlite:${bad}` })).rejects.toMatchObject({ code: "STORE_UNAVAILABLE" });
  });

  it("rejects an unsupported URL with a hint", async () => {
    await expect(openStore({ url: "mysql://x" })).rejects.toMatchObject({ code: "CONFIG_INVALID" });
  });

  it("reports an unreachable PostgreSQL URL clearly", async () => {
    const err = await openStore({ url: "postgres://nobody:secret@127.0.0.1:1/nothing" }).catch((e) => e);
    expect(err.code).toBe("STORE_UNAVAILABLE");
    expect(err.message).toContain("127.0.0.1:1");
    expect(err.message).not.toContain("secret");
    expect(err.hint).toMatch(/QUINTET_DB_URL/);
  });
});
