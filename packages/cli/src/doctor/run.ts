import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { QuintetConfig } from "@quintet/core";
import { checkLlm } from "./llm.js";
import { checkBetterSqlite3, checkDuckDb, checkLanceDb, checkNodeLlamaCpp } from "./native.js";
import type { CheckResult } from "./types.js";

/** Oldest Node.js Quintet supports (matches `engines`). */
export const MIN_NODE = [20, 19, 0] as const;

export interface DoctorReport {
  /** True when every required check passed. */
  ok: boolean;
  checks: CheckResult[];
}

export interface DoctorInput {
  /** The resolved config, or the error that stopped it from resolving. */
  config: QuintetConfig | { error: unknown };
  env: NodeJS.ProcessEnv;
  nodeVersion?: string;
  /** Bound on each network check (store, Redis). */
  timeoutMs?: number;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err);
}

function hintOf(err: unknown, fallback: string): string {
  const hint = (err as { hint?: unknown }).hint;
  return typeof hint === "string" && hint ? hint : fallback;
}

async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function checkNode(version = process.versions.node): CheckResult {
  const parts = version.split(".").map(Number);
  let ok = true;
  for (let i = 0; i < 3; i++) {
    const have = parts[i] ?? 0;
    const need = MIN_NODE[i] ?? 0;
    if (have !== need) {
      ok = have > need;
      break;
    }
  }
  const need = MIN_NODE.join(".");
  return ok
    ? { name: "node", status: "ok", required: true, detail: `v${version} (needs >= ${need})` }
    : {
        name: "node",
        status: "fail",
        required: true,
        detail: `v${version} is older than ${need}`,
        fix: `Install Node.js ${need} or newer (e.g. \`nvm install 20\`).`,
      };
}

async function checkStore(config: QuintetConfig, timeoutMs: number): Promise<CheckResult> {
  const { openStore, redact } = await import("@quintet/core");
  const where =
    config.db.dialect === "sqlite" ? `SQLite ${config.db.sqlitePath}` : `PostgreSQL ${redact(config.db.url)}`;
  let store: Awaited<ReturnType<typeof openStore>> | undefined;
  let gaveUp = false;
  try {
    const opening = openStore({ url: config.db.url, cwd: config.cwd });
    // If the timeout wins, close the store whenever it does open so no pool is left behind.
    opening.then(
      (s) => (gaveUp ? s.close() : undefined),
      () => {},
    );
    store = await within(timeoutMs, where, opening).catch((err) => {
      gaveUp = true;
      throw err;
    });
    await within(timeoutMs, where, store.ping());
    return { name: "store", status: "ok", required: true, detail: `${where} (migrations applied, ping ok)` };
  } catch (err) {
    return {
      name: "store",
      status: "fail",
      required: true,
      detail: messageOf(err),
      fix: hintOf(err, "Check QUINTET_DB_URL, or unset it to use the embedded SQLite store."),
    };
  } finally {
    await store?.close().catch(() => {});
  }
}

async function checkRedis(url: string, timeoutMs: number): Promise<CheckResult> {
  const { redact } = await import("@quintet/core");
  const { createRedisProbe } = await import("@quintet/server");
  const probe = createRedisProbe(url);
  try {
    await within(timeoutMs, `Redis at ${redact(url)}`, probe.ping());
    return { name: "redis", status: "ok", required: true, detail: `${redact(url)} answers PING` };
  } catch (err) {
    return {
      name: "redis",
      status: "fail",
      required: true,
      detail: `cannot reach Redis at ${redact(url)}: ${messageOf(err)}`,
      fix: "Start Redis (redis-server) or fix QUINTET_REDIS_URL (redis://host:6379); unset it to use the in-process job runner.",
    };
  } finally {
    await probe.close();
  }
}

function checkHome(home: string): CheckResult {
  const probe = join(home, `.doctor-${process.pid}.tmp`);
  try {
    mkdirSync(home, { recursive: true });
    writeFileSync(probe, "ok");
    renameSync(probe, `${probe}.renamed`);
    rmSync(`${probe}.renamed`);
    return { name: "home", status: "ok", required: true, detail: `${home} is writable` };
  } catch (err) {
    rmSync(probe, { force: true });
    return {
      name: "home",
      status: "fail",
      required: true,
      detail: `${home} is not writable: ${messageOf(err)}`,
      fix: "Fix the folder's permissions, or point QUINTET_HOME (or --home) at a writable folder.",
    };
  }
}

/**
 * Runs every check concurrently and returns them in a fixed order. Checks that need the
 * configuration are skipped (not failed) when it is invalid, since the config row says why.
 */
export async function runDoctor(input: DoctorInput): Promise<DoctorReport> {
  const timeoutMs = input.timeoutMs ?? 3000;
  const config = "error" in input.config ? undefined : input.config;
  const configRow: CheckResult = config
    ? {
        name: "config",
        status: "ok",
        required: true,
        detail: config.configFile ?? "defaults (no quintet.config.json here)",
      }
    : {
        name: "config",
        status: "fail",
        required: true,
        detail: messageOf((input.config as { error: unknown }).error),
        fix: hintOf((input.config as { error: unknown }).error, "Fix quintet.config.json or the QUINTET_* variables."),
      };
  const needsConfig = (name: string): CheckResult => ({
    name,
    status: "skip",
    required: false,
    detail: "needs a valid configuration",
  });
  const llmUri = config?.llm.default;
  const rows = await Promise.all([
    checkNode(input.nodeVersion),
    configRow,
    checkBetterSqlite3(),
    checkDuckDb(),
    checkLanceDb(),
    checkNodeLlamaCpp(Boolean(llmUri?.startsWith("llama:"))),
    config ? checkStore(config, timeoutMs) : needsConfig("store"),
    config?.redis.url
      ? checkRedis(config.redis.url, timeoutMs)
      : config
        ? ({ name: "redis", status: "skip", required: false, detail: "not configured (QUINTET_REDIS_URL)" } as const)
        : needsConfig("redis"),
    config ? checkLlm(llmUri, input.env, config.cwd) : needsConfig("llm provider"),
    config ? checkHome(config.home) : needsConfig("home"),
  ]);
  return { ok: rows.every((r) => r.status !== "fail" || !r.required), checks: rows };
}
