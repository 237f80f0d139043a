import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CheckResult } from "./types.js";

// Each native module is imported inside its own check, so one that fails to load (wrong ABI,
// missing prebuilt binary) is reported as a failed row instead of breaking the CLI.

const abi = `Node ${process.versions.node} (ABI ${process.versions.modules}, ${process.platform}-${process.arch})`;

function failure(name: string, err: unknown, fix: string, required = true): CheckResult {
  const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
  return { name, status: "fail", required, detail: message ?? "failed", fix };
}

function isMissing(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}

export async function checkBetterSqlite3(): Promise<CheckResult> {
  const name = "better-sqlite3";
  try {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(":memory:");
    try {
      const row = db.prepare("select sqlite_version() as v, 6 * 7 as answer").get() as { v: string; answer: number };
      if (row.answer !== 42) throw new Error(`select 6 * 7 returned ${row.answer}`);
      return { name, status: "ok", required: true, detail: `SQLite ${row.v}, in-memory database works` };
    } finally {
      db.close();
    }
  } catch (err) {
    return failure(name, err, `Run \`npm rebuild better-sqlite3\` so its native build matches ${abi}.`);
  }
}

export async function checkDuckDb(): Promise<CheckResult> {
  const name = "@duckdb/node-api";
  try {
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const instance = await DuckDBInstance.create(":memory:");
    const conn = await instance.connect();
    try {
      const reader = await conn.runAndReadAll("select 42 as answer, version() as v");
      const [row] = reader.getRowObjects() as { answer: number; v: string }[];
      if (Number(row?.answer) !== 42) throw new Error(`select 42 returned ${String(row?.answer)}`);
      return { name, status: "ok", required: true, detail: `DuckDB ${row?.v}, select 42 works` };
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  } catch (err) {
    return failure(
      name,
      err,
      `Reinstall it (\`npm install @duckdb/node-api\`) so the prebuilt binding for ${process.platform}-${process.arch} is present.`,
    );
  }
}

export async function checkLanceDb(): Promise<CheckResult> {
  const name = "@lancedb/lancedb";
  const dir = mkdtempSync(join(tmpdir(), "quintet-doctor-lance-"));
  try {
    const lancedb = await import("@lancedb/lancedb");
    const db = await lancedb.connect(dir);
    try {
      const table = await db.createTable("doctor", [{ id: 1, vector: [0.5, 0.25] }]);
      const rows = await table.countRows();
      table.close();
      if (rows !== 1) throw new Error(`wrote 1 row, read back ${rows}`);
      return { name, status: "ok", required: true, detail: "created and read a table in a temp folder" };
    } finally {
      db.close();
    }
  } catch (err) {
    return failure(
      name,
      err,
      `Reinstall it (\`npm install @lancedb/lancedb@0.31.0\`) so the prebuilt binary for ${process.platform}-${process.arch} is present.`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Optional: only `llama:` models need it. Absent is fine; present but broken is reported. */
export async function checkNodeLlamaCpp(requiredByConfig: boolean): Promise<CheckResult> {
  const name = "node-llama-cpp";
  let nlc: typeof import("node-llama-cpp");
  try {
    nlc = await import("node-llama-cpp");
  } catch (err) {
    if (isMissing(err)) {
      return requiredByConfig
        ? {
            name,
            status: "fail",
            required: true,
            detail: "not installed, but the configured LLM is a llama: model",
            fix: "Run `npm install node-llama-cpp@3.21.1`, or choose a hosted provider in QUINTET_LLM.",
          }
        : { name, status: "skip", required: false, detail: "not installed (optional; only llama: models need it)" };
    }
    return failure(name, err, "Reinstall it with `npm install node-llama-cpp@3.21.1`.", requiredByConfig);
  }
  try {
    // build: "never" — doctor must not start a compiler or download anything.
    const llama = await nlc.getLlama({
      gpu: false,
      build: "never",
      usePrebuiltBinaries: true,
      skipDownload: true,
      progressLogs: false,
      logLevel: nlc.LlamaLogLevel.error,
    });
    await llama.dispose();
    return { name, status: "ok", required: requiredByConfig, detail: "prebuilt llama.cpp binary loads (CPU)" };
  } catch (err) {
    return failure(
      name,
      err,
      `Reinstall node-llama-cpp@3.21.1 so its prebuilt binary for ${process.platform}-${process.arch} is present.`,
      requiredByConfig,
    );
  }
}
