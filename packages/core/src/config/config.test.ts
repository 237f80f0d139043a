import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../errors/errors.js";
import { loadConfig } from "./config.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "quintet-config-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("loadConfig", () => {
  it("resolves defaults relative to the working directory", () => {
    const c = loadConfig({ cwd: dir, env: {} });
    expect(c.home).toBe(join(dir, ".quintet"));
    expect(c.db).toEqual({
      url: `sqlite:${join(dir, ".quintet", "quintet.db")}`,
      dialect: "sqlite",
      sqlitePath: join(dir, ".quintet", "quintet.db"),
    });
    expect(c.server).toEqual({ host: "127.0.0.1", port: 7400 });
    expect(c.redis.url).toBeUndefined();
    expect(c.llm.default).toBeUndefined();
    expect(c.configFile).toBeUndefined();
  });

  it("layers defaults < file < environment < overrides", () => {
    writeFileSync(
      join(dir, "quintet.config.json"),
      JSON.stringify({
        home: "state",
        server: { port: 8000, host: "0.0.0.0" },
        llm: { default: "openai:gpt-4o-mini" },
      }),
    );
    const c = loadConfig({
      cwd: dir,
      env: { QUINTET_PORT: "9000", QUINTET_DB_URL: "postgres://u@localhost:5432/q" },
      overrides: { server: { port: 9100 } },
    });
    expect(c.home).toBe(join(dir, "state"));
    expect(c.server).toEqual({ host: "0.0.0.0", port: 9100 });
    expect(c.db).toEqual({ url: "postgres://u@localhost:5432/q", dialect: "postgres" });
    expect(c.llm.default).toBe("openai:gpt-4o-mini");
    expect(c.configFile).toBe(join(dir, "quintet.config.json"));
  });

  it("names the field and the file for an invalid value", () => {
    writeFileSync(join(dir, "quintet.config.json"), JSON.stringify({ server: { port: "eighty" } }));
    const err = (() => {
      try {
        loadConfig({ cwd: dir, env: {} });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.code).toBe("CONFIG_INVALID");
    expect(err?.message).toContain("server.port");
    expect(err?.message).toContain("quintet.config.json");
    expect(err?.hint).toContain("server.port");
  });

  it("rejects unknown keys, so typos do not pass silently", () => {
    writeFileSync(join(dir, "quintet.config.json"), JSON.stringify({ servr: { port: 1 } }));
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrow(/servr|Unrecognized/);
  });

  it("reports malformed JSON with the file path", () => {
    writeFileSync(join(dir, "quintet.config.json"), "{ not json");
    expect(() => loadConfig({ cwd: dir, env: {} })).toThrow(/quintet.config.json is not valid JSON/);
  });

  it("validates environment values and names the variable", () => {
    expect(() => loadConfig({ cwd: dir, env: { QUINTET_DB_URL: "mysql://x" } })).toThrow(/QUINTET_DB_URL/);
    expect(() => loadConfig({ cwd: dir, env: { QUINTET_REDIS_URL: "localhost:6379" } })).toThrow(/QUINTET_REDIS_URL/);
    expect(() => loadConfig({ cwd: dir, env: { QUINTET_LLM: "gpt-4o" } })).toThrow(/QUINTET_LLM.*provider:model/);
    expect(() => loadConfig({ cwd: dir, env: { QUINTET_PORT: "70000" } })).toThrow(/QUINTET_PORT/);
    expect(() => loadConfig({ cwd: dir, env: { QUINTET_LOG_LEVEL: "loud" } })).toThrow(/QUINTET_LOG_LEVEL/);
  });

  it("fails clearly when QUINTET_CONFIG points nowhere", () => {
    expect(() => loadConfig({ cwd: dir, env: { QUINTET_CONFIG: "missing.json" } })).toThrow(/does not exist/);
  });

  it("validates overrides from flags", () => {
    expect(() => loadConfig({ cwd: dir, env: {}, overrides: { server: { port: -1 } } })).toThrow(/server.port/);
  });
});
