import { ConfigError, ConflictError, QuintetError, UnavailableError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { EXIT, exitCodeFor, UsageError } from "./exit-codes.js";
import { run } from "./program.js";

describe("exit codes", () => {
  it("maps errors to the documented codes", () => {
    expect(exitCodeFor(new UsageError("bad flag"))).toBe(EXIT.USAGE);
    expect(exitCodeFor(new ConfigError("bad value"))).toBe(EXIT.CONFIG);
    expect(exitCodeFor(new UnavailableError("STORE_UNAVAILABLE", "down"))).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor(new UnavailableError("REDIS_UNAVAILABLE", "down"))).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor(new QuintetError("PROVIDER_NOT_CONFIGURED", "no llm"))).toBe(EXIT.UNAVAILABLE);
    expect(exitCodeFor(new ConflictError("exists"))).toBe(EXIT.FAILURE);
    expect(exitCodeFor(new Error("boom"))).toBe(EXIT.FAILURE);
    expect(exitCodeFor("a string")).toBe(EXIT.FAILURE);
  });

  it("run() reports a usage error on one line, with the stack only under QUINTET_DEBUG", async () => {
    const io = (env: NodeJS.ProcessEnv) => {
      const out: string[] = [];
      const err: string[] = [];
      return {
        io: {
          stdout: { write: (s: string) => out.push(s) },
          stderr: { write: (s: string) => err.push(s) },
          env,
          cwd: "/",
        },
        out,
        err,
      };
    };
    const plain = io({});
    expect(await run(["node", "quintet", "up", "--port", "-1"], plain.io)).toBe(EXIT.USAGE);
    expect(plain.out).toEqual([]);
    expect(plain.err.join("")).toMatch(
      /^error\[VALIDATION_FAILED\]: option '-p, --port <n>' argument '-1' is invalid\. expected a port number from 0 to 65535 \(fix: Run `quintet up --help` to see the usage\.\)\n$/,
    );

    const debug = io({ QUINTET_DEBUG: "1" });
    expect(await run(["node", "quintet", "--bogus"], debug.io)).toBe(EXIT.USAGE);
    expect(debug.err.join("").split("\n").length).toBeGreaterThan(2);
  });
});
