import { createHash } from "node:crypto";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArtifactStore, openStore, QuintetError, type Store } from "@quintet/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalLlm, unloadLocalModels } from "../providers/local/index.js";
import type { GenerateRequest } from "../providers/types.js";
import { type TinyLlamaInfo, writeTinyLlamaGguf, writeTinyLoraGguf } from "../testing/gguf/index.js";
import { type AdapterStores, listAdapters, registerAdapter, resolveAdapter } from "./index.js";

// One thread: the machine has 2 cores shared with other test files.
const THREADS = 1;

let dir: string;
let store: Store;
let stores: AdapterStores;
let base: TinyLlamaInfo;
let basePath: string;
let loraA: string;
let loraB: string;

const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

async function errorOf(p: Promise<unknown>): Promise<QuintetError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(QuintetError);
    return err as QuintetError;
  }
  throw new Error("expected the promise to reject");
}

const ask: GenerateRequest = {
  messages: [{ role: "user", content: "Say something." }],
  temperature: 0,
  maxOutputTokens: 16,
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "quintet-adapters-"));
  store = await openStore({ url: `sqlite:${join(dir, "home", "quintet.db")}` });
  stores = { store, artifacts: await ArtifactStore.open({ home: join(dir, "home"), store }) };
  basePath = join(dir, "base.gguf");
  base = writeTinyLlamaGguf(basePath, { seed: 5, nLayers: 2, nEmbd: 64, nHead: 4, nFf: 128, ctx: 512 });
  loraA = join(dir, "support-a.gguf");
  loraB = join(dir, "support-b.gguf");
  writeTinyLoraGguf(loraA, base, { seed: 21, rank: 4, targets: ["attn_q", "attn_v", "ffn_up"] });
  writeTinyLoraGguf(loraB, base, { seed: 22, rank: 2, targets: ["attn_k"] });
});

afterAll(async () => {
  await store?.close();
  await unloadLocalModels();
  rmSync(dir, { recursive: true, force: true });
});

describe("adapter registry", () => {
  it("registers GGUF LoRA adapters as artifacts, versioned by content and checked against their base model", async () => {
    const first = await registerAdapter(stores, {
      name: "support",
      path: loraA,
      baseModel: `llama:${basePath}`,
      description: "tickets v1",
    });
    expect(first).toMatchObject({
      name: "support",
      version: sha(loraA),
      digest: `sha256:${sha(loraA)}`,
      baseModel: `llama:${basePath}`,
      sourcePath: loraA,
      architecture: "llama",
      alpha: 4,
      scale: 1,
      description: "tickets v1",
      created: true,
    });
    // Same bytes again: the same version, nothing new.
    const again = await registerAdapter(stores, { name: "support", path: loraA, baseModel: `llama:${basePath}` });
    expect(again).toMatchObject({ version: first.version, created: false, description: "tickets v1" });

    await new Promise((r) => setTimeout(r, 5)); // distinct creation times order the versions
    const second = await registerAdapter(stores, {
      name: "support",
      path: "support-b.gguf",
      cwd: dir,
      baseModel: "llama:base.gguf",
      scale: 0.5,
    });
    expect(second).toMatchObject({
      version: sha(loraB),
      sourcePath: loraB,
      baseModel: `llama:${basePath}`,
      scale: 0.5,
    });
    // The file served is the artifact's copy, inside the home, with the same bytes.
    expect(second.path.startsWith(join(dir, "home", "artifacts"))).toBe(true);
    expect(sha(second.path)).toBe(second.version);
    const stored = await stores.artifacts.stat(second.digest);
    expect(stored).toMatchObject({ name: "support.gguf", labels: { kind: "lora-adapter", architecture: "llama" } });

    expect((await listAdapters(stores, "support")).map((a) => a.version)).toEqual([second.version, first.version]);
    expect((await resolveAdapter(stores, "support")).version).toBe(second.version);
    const pinned = await resolveAdapter(stores, `support@${first.version.slice(0, 8)}`);
    expect(pinned.version).toBe(first.version);
    expect(pinned.lora).toEqual({ path: first.path, scale: 1 });
    expect((await resolveAdapter(stores, "support", { scale: 0.25 })).lora).toEqual({ path: second.path, scale: 0.25 });
  });

  it("serves a resolved adapter through the local provider", async () => {
    await registerAdapter(stores, { name: "served", path: loraA, baseModel: `llama:${basePath}` });
    const adapter = await resolveAdapter(stores, "served");
    const plain = await createLocalLlm(basePath, { contextSize: 256, threads: THREADS });
    const tuned = await createLocalLlm(basePath, { contextSize: 256, threads: THREADS, lora: [adapter.lora] });
    try {
      const a = await plain.generate(ask);
      const b = await tuned.generate(ask);
      expect(b.text.length).toBeGreaterThan(0);
      expect(b.text).not.toBe(a.text);
      expect((await tuned.generate(ask)).text).toBe(b.text);
    } finally {
      await plain.close();
      await tuned.close();
    }
  });

  it("refuses files that are not LoRA adapters, adapters for another base, and bad input", async () => {
    const notAdapter = await errorOf(registerAdapter(stores, { name: "x", path: basePath, baseModel: "some-model" }));
    expect(notAdapter.code).toBe("VALIDATION_FAILED");
    expect(notAdapter.message).toMatch(/is not a LoRA adapter \(general\.type is "model"/);

    const otherBasePath = join(dir, "wide.gguf");
    const otherBase = writeTinyLlamaGguf(otherBasePath, { seed: 3, nLayers: 2, nEmbd: 32, nHead: 2, nFf: 64 });
    const foreign = join(dir, "foreign.gguf");
    writeTinyLoraGguf(foreign, otherBase, { seed: 1 });
    const misfit = await errorOf(
      registerAdapter(stores, { name: "foreign", path: foreign, baseModel: `llama:${basePath}` }),
    );
    expect(misfit.code).toBe("VALIDATION_FAILED");
    expect(misfit.message).toMatch(
      /does not fit the base model .*blk\.0\.attn_q\.weight\.lora_a is \[32, 4\] but blk\.0\.attn_q\.weight is \[64, 64\]/,
    );
    // An id that is not a local file cannot be checked, and is recorded as given.
    const remote = await registerAdapter(stores, { name: "foreign", path: foreign, baseModel: "Qwen/Qwen2.5-0.5B" });
    expect(remote.baseModel).toBe("Qwen/Qwen2.5-0.5B");
    const conflict = await errorOf(
      registerAdapter(stores, { name: "foreign", path: foreign, baseModel: `llama:${otherBasePath}` }),
    );
    expect(conflict.code).toBe("CONFLICT");

    expect((await errorOf(registerAdapter(stores, { name: "bad name", path: loraA, baseModel: "m" }))).code).toBe(
      "VALIDATION_FAILED",
    );
    expect((await errorOf(registerAdapter(stores, { name: "y", path: loraA, baseModel: " " }))).message).toMatch(
      /baseModel is required/,
    );
    expect(
      (await errorOf(registerAdapter(stores, { name: "y", path: join(dir, "nope.gguf"), baseModel: "m" }))).code,
    ).toBe("NOT_FOUND");
    expect((await errorOf(resolveAdapter(stores, "unknown"))).code).toBe("NOT_FOUND");
    expect((await errorOf(resolveAdapter(stores, "support@ffffffff"))).message).toMatch(/has no version ffffffff/);
    expect((await errorOf(resolveAdapter(stores, "support@xyz"))).code).toBe("VALIDATION_FAILED");
  });

  it("keeps serving after the source file is gone, and notices a damaged or missing artifact", async () => {
    const path = join(dir, "fragile.gguf");
    writeTinyLoraGguf(path, base, { seed: 40 });
    const rec = await registerAdapter(stores, { name: "fragile", path, baseModel: `llama:${basePath}` });
    rmSync(path);
    const resolved = await resolveAdapter(stores, "fragile");
    expect(resolved.version).toBe(rec.version);

    appendFileSync(resolved.path, Buffer.from([0]));
    const changed = await errorOf(resolveAdapter(stores, "fragile"));
    expect(changed.code).toBe("ARTIFACT_CORRUPT");
    expect(changed.message).toContain("no longer matches its registered hash");
    expect((await resolveAdapter(stores, "fragile", { verify: false })).version).toBe(rec.version);

    rmSync(resolved.path);
    const gone = await errorOf(resolveAdapter(stores, "fragile"));
    expect(gone.code).toBe("NOT_FOUND");
    expect(gone.hint).toContain(`Register it again from ${path}`);
    // Registering the same bytes again restores the artifact under the same version.
    writeTinyLoraGguf(path, base, { seed: 40 });
    const again = await registerAdapter(stores, { name: "fragile", path, baseModel: `llama:${basePath}` });
    expect(again).toMatchObject({ version: rec.version, created: false });
    expect((await resolveAdapter(stores, "fragile")).path).toBe(resolved.path);
  });
});
