import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The CLI runs through its real entry, from source, as a child process in a temp folder.
const main = fileURLToPath(new URL("./main.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const root = mkdtempSync(join(tmpdir(), "quintet-cli-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("QUINTET_") && !k.endsWith("_API_KEY")) env[k] = v;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

function start(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ["--conditions=source", "--import", tsx, main, ...args], {
    cwd,
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function quintet(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const child = start(args, cwd, env);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    err += d;
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, err })));
}

function project(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe("quintet CLI", () => {
  it("prints help for the program and every command, and its version", async () => {
    const dir = project("help");
    const top = await quintet(["--help"], dir);
    expect(top.code).toBe(0);
    for (const cmd of ["init", "doctor", "up"]) expect(top.out).toContain(cmd);
    expect(top.out).toContain("Exit codes");
    const each = await Promise.all(["init", "doctor", "up"].map((c) => quintet([c, "--help"], dir)));
    for (const r of each) {
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Usage: quintet (init|doctor|up)/);
    }
    expect(each[2]!.out).toContain("--port");
    const version = await quintet(["--version"], dir);
    expect(version.code).toBe(0);
    expect(version.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("rejects an unknown flag or command with one line and exit 2", async () => {
    const dir = project("usage");
    const flag = await quintet(["doctor", "--frobnicate"], dir);
    expect(flag.code).toBe(2);
    expect(flag.out).toBe("");
    expect(flag.err.trim().split("\n")).toHaveLength(1);
    expect(flag.err).toMatch(/^error\[VALIDATION_FAILED\]: unknown option '--frobnicate'.*quintet doctor --help/);
    const command = await quintet(["frobnicate"], dir);
    expect(command.code).toBe(2);
    expect(command.err.trim()).toMatch(/^error\[VALIDATION_FAILED\]: unknown command 'frobnicate'/);
    const port = await quintet(["up", "--port", "eighty"], dir);
    expect(port.code).toBe(2);
    expect(port.err).toContain("expected a port number");
  });

  it("init creates the project, refuses to overwrite without --force, and keeps .gitignore tidy", async () => {
    const parent = project("init");
    const fresh = await quintet(["init", "new/nested"], parent);
    expect(fresh.code).toBe(0);
    expect(readFileSync(join(parent, "new", "nested", ".gitignore"), "utf8")).toBe(".quintet/\n");

    mkdirSync(join(parent, "app"));
    writeFileSync(join(parent, "app", ".gitignore"), "node_modules");
    const first = await quintet(["init", "app"], parent);
    expect(first.err).not.toContain("error[");
    expect(first.code).toBe(0);
    const app = join(parent, "app");
    const config = JSON.parse(readFileSync(join(app, "quintet.config.json"), "utf8"));
    expect(config).toMatchObject({ home: ".quintet", server: { host: "127.0.0.1", port: 7400 } });
    expect(existsSync(join(app, ".quintet", "quintet.db"))).toBe(true);
    expect(readFileSync(join(app, ".gitignore"), "utf8")).toBe("node_modules\n.quintet/\n");
    expect(first.out).toContain("Next steps");
    expect(first.out).toContain("quintet doctor");

    writeFileSync(join(app, "quintet.config.json"), '{ "home": "mine" }');
    const second = await quintet(["init", "app"], parent);
    expect(second.code).toBe(1);
    expect(second.err.trim().split("\n")).toHaveLength(1);
    expect(second.err).toMatch(/^error\[CONFLICT\]: .*quintet\.config\.json already exists \(fix: .*--force/);
    expect(readFileSync(join(app, "quintet.config.json"), "utf8")).toBe('{ "home": "mine" }');

    writeFileSync(join(app, ".gitignore"), "node_modules\n.quintet/\n");
    const forced = await quintet(["--json", "init", "app", "--force"], parent);
    expect(forced.code).toBe(0);
    const result = JSON.parse(forced.out);
    expect(result).toMatchObject({ dir: app, home: join(app, ".quintet"), gitignore: "present" });
    expect(result.store).toBe(`sqlite:${join(app, ".quintet", "quintet.db")}`);
    expect(readFileSync(join(app, ".gitignore"), "utf8")).toBe("node_modules\n.quintet/\n");
    expect(JSON.parse(readFileSync(join(app, "quintet.config.json"), "utf8")).home).toBe(".quintet");
  });

  it("init writes nothing when the environment holds an invalid value (exit 3)", async () => {
    const parent = project("init-bad");
    const r = await quintet(["init", "app"], parent, { QUINTET_DB_URL: "mysql://nope" });
    expect(r.code).toBe(3);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain("QUINTET_DB_URL");
    expect(existsSync(join(parent, "app", "quintet.config.json"))).toBe(false);
    expect(existsSync(join(parent, "app", ".quintet"))).toBe(false);
  });

  it("an invalid quintet.config.json value exits 3 with one line naming the field", async () => {
    const dir = project("bad-config");
    writeFileSync(join(dir, "quintet.config.json"), JSON.stringify({ server: { port: "eighty" } }));
    const r = await quintet(["up"], dir);
    expect(r.code).toBe(3);
    expect(r.out).toBe("");
    const lines = r.err.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^error\[CONFIG_INVALID\]: .*quintet\.config\.json: "server\.port" .*\(fix: Correct "server\.port"/,
    );
  });

  it("doctor --json reports every check and exits 0 on a healthy install", async () => {
    const dir = project("doctor-ok");
    const r = await quintet(["doctor", "--json"], dir);
    const report = JSON.parse(r.out);
    expect(r.err).toBe("");
    expect(report.ok).toBe(true);
    expect(r.code).toBe(0);
    const names = report.checks.map((c: { name: string }) => c.name);
    expect(names).toEqual([
      "node",
      "config",
      "better-sqlite3",
      "@duckdb/node-api",
      "@lancedb/lancedb",
      "node-llama-cpp",
      "store",
      "redis",
      "llm provider",
      "home",
    ]);
    for (const c of report.checks) {
      expect(Object.keys(c).sort()).toEqual(expect.arrayContaining(["detail", "name", "required", "status"]));
      expect(["ok", "skip"]).toContain(c.status);
      if (c.required) expect(c.status).toBe("ok");
    }
    const byName = Object.fromEntries(report.checks.map((c: { name: string }) => [c.name, c]));
    expect(byName["@duckdb/node-api"].detail).toContain("select 42");
    expect(byName.redis.status).toBe("skip");
    expect(byName["llm provider"].status).toBe("skip");
  });

  it("doctor reports an unreachable PostgreSQL store with a fix line and exit 4, and names a missing API key", async () => {
    const dir = project("doctor-pg");
    const env = { QUINTET_DB_URL: "postgres://quintet:s3cret@127.0.0.1:1/x", QUINTET_LLM: "anthropic:claude-haiku" };
    const human = await quintet(["doctor"], dir, env);
    expect(human.code).toBe(4);
    expect(human.out).not.toContain("s3cret");
    const storeLine = human.out.split("\n").findIndex((l) => /✗ store/.test(l));
    expect(storeLine).toBeGreaterThan(0);
    expect(human.out.split("\n")[storeLine]).toContain(
      "cannot reach PostgreSQL at postgres://quintet:***@127.0.0.1:1/x",
    );
    expect(human.out.split("\n")[storeLine + 1]).toMatch(/^\s+fix: Start PostgreSQL or fix QUINTET_DB_URL/);
    expect(human.out).toMatch(
      /✗ llm provider\s+anthropic:claude-haiku needs an API key, and ANTHROPIC_API_KEY is not set/,
    );

    const json = await quintet(["--json", "doctor"], dir, { ...env, ANTHROPIC_API_KEY: "set" });
    expect(json.code).toBe(4);
    const report = JSON.parse(json.out);
    expect(report.ok).toBe(false);
    const store = report.checks.find((c: { name: string }) => c.name === "store");
    expect(store).toMatchObject({ status: "fail", required: true });
    expect(store.fix).toContain("QUINTET_DB_URL");
    expect(report.checks.find((c: { name: string }) => c.name === "llm provider").status).toBe("ok");
  });

  it("up --port 0 serves /healthz and exits 0 on SIGTERM", async () => {
    const dir = project("up");
    const child = start(["--json", "up", "--port", "0"], dir);
    let err = "";
    child.stderr?.on("data", (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    const first = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout?.on("data", (d) => {
        out += d;
        if (out.includes("\n")) resolve(out.split("\n")[0]!);
      });
      child.on("close", (code) => reject(new Error(`quintet up exited ${code}: ${err}`)));
    });
    const info = JSON.parse(first);
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.docs).toBe(`${info.url}/docs`);
    const health = await fetch(`${info.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });
    const ready = await fetch(`${info.url}/readyz`);
    expect(ready.status).toBe(200);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    // logs went to stderr as JSON lines, including the shutdown
    const logs = err
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(logs.some((l) => l.msg === "shutting down: finishing in-flight requests" && l.signal === "SIGTERM")).toBe(
      true,
    );
    expect(existsSync(join(dir, ".quintet", "quintet.db"))).toBe(true);
  });
});
