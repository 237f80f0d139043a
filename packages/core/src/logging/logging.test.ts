import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/config.js";
import { QuintetError } from "../errors/errors.js";
import { createLogger } from "./logger.js";
import { formatPrettyLine } from "./pretty.js";
import { redactSecrets, redactString } from "./redact.js";

function capture() {
  const chunks: string[] = [];
  return {
    stream: { write: (s: string) => void chunks.push(s) },
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, any>),
    raw: () => chunks.join(""),
  };
}

describe("createLogger", () => {
  it("writes one JSON object per line with level, ISO time and message", () => {
    const out = capture();
    const log = createLogger({ level: "info", destination: out.stream, name: "test" });
    log.info({ runId: "r1", n: 3 }, "training started");
    log.debug("hidden at info");
    log.warn("second");
    const lines = out.lines();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 30, name: "test", runId: "r1", n: 3, msg: "training started" });
    expect(new Date(lines[0]!.time).toISOString()).toBe(lines[0]!.time);
    expect(lines[1]).toMatchObject({ level: 40, msg: "second" });
    expect(out.raw().split("\n").filter(Boolean)).toHaveLength(2);
  });

  it("takes its level from a resolved config", () => {
    const out = capture();
    const config = loadConfig({ cwd: "/tmp", env: { QUINTET_LOG_LEVEL: "warn" } });
    const log = createLogger(config);
    expect(log.level).toBe("warn");
    const child = createLogger({ level: config.log.level, destination: out.stream });
    child.info("dropped");
    child.error("kept");
    expect(out.lines().map((l) => l.msg)).toEqual(["kept"]);
  });

  it("never writes secrets: sensitive keys, URL passwords, bearer tokens, API keys", () => {
    const out = capture();
    const log = createLogger({ level: "info", destination: out.stream });
    const headers = { authorization: "Bearer abc.def.ghi", "content-type": "application/json" };
    const input = {
      headers,
      apiKey: "sk-live-1234567890abcdef",
      provider: { openaiApiKey: "sk-proj-abcdefghijklmnopqrstuv", model: "gpt" },
      db: { url: "postgres://admin:hunter2@db.internal:5432/q", password: "hunter2" },
      list: [{ client_secret: "s3cr3t" }],
    };
    log.info(input, "connecting to postgres://admin:hunter2@db.internal:5432/q");
    log.child({ password: "childpw" }).warn("child");
    log.error(new Error("auth failed for redis://:topsecret@cache:6379 with Bearer xyz123token"));
    const text = out.raw();
    for (const secret of ["abc.def.ghi", "sk-live-1234567890abcdef", "abcdefghijklmnopqrstuv", "hunter2", "s3cr3t"]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toContain("childpw");
    expect(text).not.toContain("topsecret");
    expect(text).not.toContain("xyz123token");
    const [first, second, third] = out.lines();
    expect(first!.headers).toEqual({ authorization: "[redacted]", "content-type": "application/json" });
    expect(first!.db.url).toBe("postgres://admin:***@db.internal:5432/q");
    expect(first!.msg).toBe("connecting to postgres://admin:***@db.internal:5432/q");
    expect(first!.provider.model).toBe("gpt");
    expect(second!.password).toBe("[redacted]");
    expect(third!.err.message).toContain("redis://:***@cache:6379");
    expect(third!.err.stack).toContain("Error: auth failed");
    // the caller's objects are left untouched
    expect(headers.authorization).toBe("Bearer abc.def.ghi");
  });

  it("serialises Quintet errors with code and hint, and survives cycles", () => {
    const out = capture();
    const log = createLogger({ destination: out.stream });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    log.error({ err: new QuintetError("STORE_UNAVAILABLE", "down", { hint: "start it" }), cyclic }, "store failed");
    const [line] = out.lines();
    expect(line!.err).toMatchObject({
      type: "QuintetError",
      code: "STORE_UNAVAILABLE",
      message: "down",
      hint: "start it",
    });
    expect(line!.cyclic).toEqual({ a: 1, self: "[Circular]" });
  });

  it("renders human-readable lines when pretty", () => {
    const chunks: string[] = [];
    const log = createLogger({ pretty: true, destination: { write: (s: string) => void chunks.push(s) } });
    log.info({ status: 200, route: "/healthz" }, "request completed");
    expect(chunks.join("")).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}request completed status=200 route=\/healthz\n$/);
  });
});

describe("redaction helpers", () => {
  it("masks only the credential part of strings", () => {
    expect(redactString("postgresql://u:p%40ss@h/db and redis://h:6379")).toBe(
      "postgresql://u:***@h/db and redis://h:6379",
    );
    expect(redactString("Authorization: Bearer eyJhbGciOi.x.y")).toBe("Authorization: Bearer ***");
    expect(redactString("short")).toBe("short");
  });

  it("keeps non-plain values and empty secrets as they are", () => {
    const d = new Date(0);
    expect(redactSecrets({ when: d, password: "", token_count: 5 })).toEqual({ when: d, password: "", token_count: 5 });
  });

  it("passes non-JSON lines through the pretty formatter", () => {
    expect(formatPrettyLine("plain text", false)).toBe("plain text\n");
  });
});
