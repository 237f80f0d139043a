import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QuintetError } from "@quintet/core";
import { afterAll, describe, expect, it } from "vitest";
import { writeTinyLlamaGguf } from "../testing/gguf/index.js";
import { createLlm } from "./create.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-llama-uri-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("llama: URIs delegate to the local provider", () => {
  it("loads the GGUF on first use and generates", async () => {
    const path = join(dir, "tiny.gguf");
    writeTinyLlamaGguf(path, { seed: 3, nLayers: 1, nEmbd: 32, nHead: 2, nFf: 64, ctx: 256 });
    const llm = createLlm(`llama:${path}`, { local: { threads: 1, contextSize: 256, seed: 1 } });
    expect(llm.uri).toBe(`llama:${path}`);
    const r = await llm.generate({ messages: [{ role: "user", content: "hi" }], maxOutputTokens: 4, temperature: 0 });
    expect(r.usage.outputTokens).toBeGreaterThan(0);
    expect(r.usage.outputTokens).toBeLessThanOrEqual(4);
    await (llm as unknown as { close(): Promise<void> }).close();
  });

  it("creating a client for a missing file costs nothing; using it fails with a typed error", async () => {
    const llm = createLlm(`llama:${join(dir, "missing.gguf")}`);
    const err = await llm.generate({ messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(err).toBeInstanceOf(QuintetError);
    expect(err.message).toContain("missing.gguf");
  });
});
