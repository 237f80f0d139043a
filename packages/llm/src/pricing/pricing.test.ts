import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QuintetError } from "@quintet/core";
import { describe, expect, it } from "vitest";
import { costOf, definePrices, findPrice, resolvePrices } from "./prices.js";

describe("price table", () => {
  const table = resolvePrices(undefined, {});

  it("finds exact keys, then the longest * pattern", () => {
    expect(findPrice(table, "openai", "gpt-4o-mini")).toMatchObject({ input: 0.15, output: 0.6 });
    expect(findPrice(table, "openai", "gpt-4o-mini-2024-07-18")).toMatchObject({ input: 0.15 });
    expect(findPrice(table, "openai", "gpt-4o-2024-08-06")).toMatchObject({ input: 2.5 });
    expect(findPrice(table, "anthropic", "claude-opus-4-5-20251101")).toMatchObject({ input: 5 });
    expect(findPrice(table, "anthropic", "claude-opus-4-1-20250805")).toMatchObject({ input: 15 });
    expect(findPrice(table, "ollama", "qwen2.5:7b")).toEqual({ input: 0, output: 0 });
    expect(findPrice(table, "openai-compatible", "mystery")).toBeUndefined();
    // an Azure deployment named like an OpenAI model is priced like it
    expect(findPrice(table, "azure", "gpt-4o-mini")).toMatchObject({ input: 0.15 });
  });

  it("charges cached and cache-write tokens at their own rates", () => {
    const p = { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 };
    expect(costOf(p, { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(18);
    expect(costOf(p, { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 500_000 })).toBe(1.65);
    expect(costOf(p, { inputTokens: 1_000_000, outputTokens: 0, cacheWriteTokens: 1_000_000 })).toBe(3.75);
  });

  it("merges overrides and a QUINTET_PRICES file over the defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), "quintet-prices-"));
    const file = join(dir, "prices.json");
    writeFileSync(
      file,
      JSON.stringify({
        "openai:gpt-4o-mini": { input: 1, output: 2 },
        "openai-compatible:m*": { input: 9, output: 9 },
      }),
    );
    const t = resolvePrices(definePrices({ "azure:prod": { input: 4, output: 5 } }), { QUINTET_PRICES: file });
    expect(findPrice(t, "openai", "gpt-4o-mini")).toEqual({ input: 1, output: 2 });
    expect(findPrice(t, "openai-compatible", "mistral")).toEqual({ input: 9, output: 9 });
    expect(findPrice(t, "azure", "prod")).toEqual({ input: 4, output: 5 });
    expect(findPrice(t, "openai", "gpt-4o")).toMatchObject({ input: 2.5 });
  });

  it("rejects malformed prices with a hint", () => {
    expect(() => definePrices({ "gpt-4o": { input: 1, output: 1 } })).toThrow(/provider:model/);
    expect(() => definePrices({ "openai:x": { input: -1, output: 1 } })).toThrow(QuintetError);
    const dir = mkdtempSync(join(tmpdir(), "quintet-prices-"));
    writeFileSync(join(dir, "bad.json"), "{ not json");
    try {
      resolvePrices(undefined, { QUINTET_PRICES: join(dir, "bad.json") });
      expect.unreachable();
    } catch (e) {
      expect((e as QuintetError).code).toBe("CONFIG_INVALID");
      expect((e as QuintetError).hint).toContain("QUINTET_PRICES");
    }
  });
});
