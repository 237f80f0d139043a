import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, SpanQuery } from "@quintet/core";
import { type FakeOpenAI, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { run } from "../program.js";

// The real CLI entry (`run`) in-process, against the fake OpenAI server, in a temp project.
let fake: FakeOpenAI;
let root: string;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
  root = mkdtempSync(join(tmpdir(), "quintet-cli-llm-"));
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
  rmSync(root, { recursive: true, force: true });
});

let projects = 0;
function project(): string {
  const dir = join(root, `p${++projects}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function quintet(args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  let out = "";
  let err = "";
  const code = await run(["node", "quintet", ...args], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: { NO_COLOR: "1", ...(o.env ?? { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: "test" }) },
    cwd: o.cwd ?? project(),
  });
  return { code, out, err };
}

describe("quintet llm chat", () => {
  it("streams the answer to stdout, then model, tokens, cost, latency and trace id to stderr", async () => {
    fake.script.chat({ content: "Hello there, friend.", usage: { inputTokens: 1000, outputTokens: 200 } });
    const dir = project();
    const args = ["llm", "chat", "--model", "openai:gpt-4o-mini", "--system", "Be brief.", "-t", "0.2", "Hi!"];
    const r = await quintet(args, { cwd: dir });
    expect(r.err).toMatch(
      /^openai:gpt-4o-mini · 1000 in \/ 200 out tokens · \$0\.00027 · \d+ ms · trace [0-9a-f]{32}\n$/,
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe("Hello there, friend.\n");
    const sent = fake.chatRequests()[0];
    expect(sent).toMatchObject({
      model: "gpt-4o-mini",
      stream: true,
      temperature: 0.2,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi!" },
      ],
    });
    // The call is in the project trace, under the id printed.
    const traceId = /trace ([0-9a-f]{32})/.exec(r.err)![1]!;
    const store = await openStore({ url: `sqlite:${join(dir, ".quintet", "quintet.db")}` });
    try {
      const spans = await new SpanQuery(store).trace(traceId);
      expect(spans).toHaveLength(1);
      expect(spans[0]).toMatchObject({
        kind: "llm.call",
        inputTokens: 1000,
        outputTokens: 200,
        attributes: { provider: "openai", model: "gpt-4o-mini", operation: "stream", temperature: 0.2 },
      });
    } finally {
      await store.close();
    }
    fake.script.chat({ content: "quiet" });
    const untraced = await quintet(["llm", "chat", "--no-trace", "-m", "openai:gpt-4o-mini", "x"]);
    expect(untraced.code).toBe(0);
    expect(untraced.err).not.toContain("trace");
  });

  it("takes the model as the first argument and the message from --message or the words after it", async () => {
    fake.script.chat({ content: "one" });
    fake.script.chat({ content: "two" });
    const a = await quintet(["llm", "chat", "openai:gpt-4o-mini", "--message", "Hello there", "--no-trace"]);
    expect(a).toMatchObject({ code: 0, out: "one\n" });
    const b = await quintet(["llm", "chat", "openai:gpt-4o-mini", "Hello", "again", "--no-trace"]);
    expect(b).toMatchObject({ code: 0, out: "two\n" });
    const sent = fake.chatRequests().map((r) => [r.model, (r.messages as { content: string }[]).at(-1)!.content]);
    expect(sent).toEqual([
      ["gpt-4o-mini", "Hello there"],
      ["gpt-4o-mini", "Hello again"],
    ]);
    const twice = await quintet(["llm", "chat", "openai:gpt-4o-mini", "hi", "--message", "hi"]);
    expect(twice.code).toBe(2);
    expect(twice.err).toContain("the message is given twice");
  });

  it("prints the whole result as JSON with --json, taking the model from QUINTET_LLM or the config file", async () => {
    fake.script.chat([
      { content: "4", usage: { inputTokens: 10, outputTokens: 1 } },
      { content: "also 4", usage: { inputTokens: 10, outputTokens: 2 } },
    ]);
    const env = { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: "test" };
    const r = await quintet(["--json", "llm", "chat", "2+2?", "--max-tokens", "5"], {
      env: { ...env, QUINTET_LLM: "openai:gpt-4o" },
    });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out);
    expect(result).toMatchObject({
      traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
      text: "4",
      model: "openai:gpt-4o",
      finishReason: "stop",
      usage: { inputTokens: 10, outputTokens: 1, totalTokens: 11 },
      toolCalls: [],
    });
    expect(result.costUsd).toBeCloseTo((10 * 2.5 + 1 * 10) / 1e6, 12);
    expect(fake.chatRequests()[0]).toMatchObject({ model: "gpt-4o", max_tokens: 5 });

    const dir = project();
    writeFileSync(join(dir, "quintet.config.json"), JSON.stringify({ llm: { default: "openai:gpt-4o-mini" } }));
    const fromFile = await quintet(["llm", "chat", "again", "--json"], { cwd: dir, env });
    expect(JSON.parse(fromFile.out)).toMatchObject({ text: "also 4", model: "openai:gpt-4o-mini" });
  });

  it("says how to configure a model when none is, and names a missing key (exit 4)", async () => {
    const none = await quintet(["llm", "chat", "hello"], { env: {} });
    expect(none.code).toBe(4);
    expect(none.out).toBe("");
    expect(none.err.trim().split("\n")).toHaveLength(1);
    expect(none.err).toMatch(
      /^error\[PROVIDER_NOT_CONFIGURED\]: no language model is configured .*--model.*QUINTET_LLM.*llm\.default/,
    );

    const noKey = await quintet(["llm", "chat", "-m", "openai:gpt-4o-mini", "hello"], { env: {} });
    expect(noKey.code).toBe(4);
    expect(noKey.err).toContain("OPENAI_API_KEY is not set");
    expect(fake.requests).toEqual([]);
  });

  it("rejects bad flags and arguments with exit 2 before calling anything", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["llm", "chat", "-t", "5", "x"], /temperature must be a number from 0 to 2/],
      [["llm", "chat", "--max-tokens", "0", "x"], /--max-tokens must be a whole number >= 1/],
      [["llm", "chat", "--model", "gpt-4o", "x"], /expected provider:model/],
      [["llm", "chat", "--model", "acme:big", "x"], /unknown model provider "acme"/],
      [["llm", "chat", "  "], /the message is empty/],
      [["llm", "chat"], /the message is empty/],
      [["llm", "models", "--provider", "acme"], /unknown provider "acme".*Use one of openai/],
    ];
    for (const [args, message] of cases) {
      const r = await quintet(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.err, args.join(" ")).toMatch(message);
    }
    expect(fake.requests).toEqual([]);
  });

  it("reports provider failures as one typed error line (exit 1), without partial output", async () => {
    fake.script.chat({ status: 401, message: "Incorrect API key provided." });
    const denied = await quintet(["llm", "chat", "-m", "openai:gpt-4o-mini", "hi"]);
    expect(denied.code).toBe(1);
    expect(denied.out).toBe("");
    expect(denied.err).toMatch(/^error\[UNAUTHORIZED\]: .*Incorrect API key/);

    // A storm of 429s: bounded retries honouring retry-after-ms, then RATE_LIMITED.
    fake.script.chat(() => ({ status: 429, retryAfterMs: 1 }));
    const limited = await quintet(["llm", "chat", "-m", "openai:gpt-4o-mini", "hi"]);
    expect(limited.code).toBe(1);
    expect(limited.err).toMatch(/^error\[RATE_LIMITED\]/);
    expect(fake.chatRequests()).toHaveLength(1 + 1 + 3);
  });

  it("prints help for the group and each command", async () => {
    for (const args of [
      ["llm", "--help"],
      ["llm", "chat", "--help"],
      ["llm", "models", "--help"],
    ]) {
      const r = await quintet(args);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Usage: quintet llm/);
    }
    expect((await quintet(["llm", "chat", "--help"])).out).toContain("--system <text>");
  });
});

describe("quintet llm models", () => {
  it("lists priced models, filters by provider, and includes QUINTET_PRICES entries", async () => {
    const human = await quintet(["llm", "models"]);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^MODEL\s+INPUT\s+CACHED\s+OUTPUT\s+SOURCE\n/);
    expect(human.out).toMatch(/openai:gpt-4o-mini\*\s+0\.15\s+0\.075\s+0\.6\n/);
    expect(human.out).toContain("anthropic:");

    const dir = project();
    const prices = join(dir, "prices.json");
    writeFileSync(prices, JSON.stringify({ "openai-compatible:my-llama": { input: 0.1, output: 0.2 } }));
    const json = await quintet(["llm", "models", "--provider", "openai-compatible", "--json"], {
      cwd: dir,
      env: { QUINTET_PRICES: prices },
    });
    expect(json.code).toBe(0);
    const data = JSON.parse(json.out);
    expect(data.unit).toBe("USD per million tokens");
    expect(data.models).toEqual([
      { model: "openai-compatible:my-llama", input: 0.1, output: 0.2, source: "QUINTET_PRICES" },
    ]);

    const broken = await quintet(["llm", "models"], { cwd: dir, env: { QUINTET_PRICES: join(dir, "missing.json") } });
    expect(broken.code).toBe(3);
    expect(broken.err).toMatch(/^error\[CONFIG_INVALID\]: cannot read price file/);
  });
});
