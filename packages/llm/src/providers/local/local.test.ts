import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { QuintetError } from "@quintet/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type TinyLlamaInfo, writeTinyLlamaGguf, writeTinyLoraGguf } from "../../testing/gguf/index.js";
import type { GenerateRequest, StreamEvent } from "../types.js";
import { createLocalLlm, type LocalLlmClient, unloadLocalModels } from "./index.js";

// One thread per evaluation: CI has 2 cores shared with other test files, and ggml's
// spinning worker threads slow down by orders of magnitude when oversubscribed.
const THREADS = 1;

let dir: string;
let info: TinyLlamaInfo;
let modelPath: string;
let loraPath: string;
let base: LocalLlmClient;
let adapted: LocalLlmClient;

const ask = (content: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [
    { role: "system", content: "You are a tiny random model." },
    { role: "user", content },
  ],
  temperature: 0,
  maxOutputTokens: 24,
  ...extra,
});

async function errorOf(p: Promise<unknown>): Promise<QuintetError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(QuintetError);
    return err as QuintetError;
  }
  throw new Error("expected the promise to reject");
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "quintet-local-llm-"));
  modelPath = join(dir, "tiny.gguf");
  loraPath = join(dir, "tiny-lora.gguf");
  info = writeTinyLlamaGguf(modelPath, { seed: 7, nLayers: 2, nEmbd: 64, nHead: 4, nFf: 128, ctx: 1024 });
  writeTinyLoraGguf(loraPath, info, { seed: 11, rank: 4, targets: ["attn_q", "attn_v", "ffn_up"] });
  base = await createLocalLlm(modelPath, { contextSize: 1024, threads: THREADS, parallel: 2 });
  adapted = await createLocalLlm(modelPath, { contextSize: 256, threads: THREADS, lora: [{ path: loraPath }] });
});

afterAll(async () => {
  await base?.close();
  await adapted?.close();
  await unloadLocalModels();
  rmSync(dir, { recursive: true, force: true });
});

describe("the generated tiny GGUF", () => {
  it("is a GGUF v3 file whose bytes are a pure function of the seed", () => {
    const bytes = readFileSync(modelPath);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("GGUF");
    expect(bytes.readUInt32LE(4)).toBe(3);
    expect(Number(bytes.readBigUInt64LE(8))).toBe(2 + 2 * 9 + 1); // embd, output norm, output, 9 per block
    expect(bytes.length).toBe(info.bytes);
    expect(bytes.length).toBeLessThan(4 * 1024 * 1024);

    const again = join(dir, "again.gguf");
    const other = join(dir, "other.gguf");
    writeTinyLlamaGguf(again, { seed: 7, nLayers: 2, nEmbd: 64, nHead: 4, nFf: 128, ctx: 1024 });
    writeTinyLlamaGguf(other, { seed: 8, nLayers: 2, nEmbd: 64, nHead: 4, nFf: 128, ctx: 1024 });
    const hash = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
    expect(hash(again)).toBe(hash(modelPath));
    expect(hash(other)).not.toBe(hash(modelPath));
  });

  it("rejects shapes llama.cpp could not run", () => {
    expect(() => writeTinyLlamaGguf(join(dir, "bad.gguf"), { seed: 1, nEmbd: 60, nHead: 8 })).toThrow(/divisible/);
  });
});

describe("createLocalLlm on the tiny model", () => {
  it("loads with the model's tokenizer: byte-level BPE round trips any text and merges common words", () => {
    expect(base.uri).toBe(`llama:${modelPath}`);
    expect(base.contextSize).toBeGreaterThanOrEqual(1024);
    expect(adapted.contextSize).toBeGreaterThanOrEqual(256);
    for (const text of [
      "Hello, world! The quick brown fox jumps over the lazy dog.",
      "naïve café — 静かな夜 🦊\n\ttabs",
    ]) {
      const tokens = base.tokenize(text);
      expect(tokens.every((t) => Number.isInteger(t) && t >= 0 && t < info.nVocab)).toBe(true);
      expect(base.detokenize(tokens)).toBe(text);
    }
    const english = "the model reads the tokens and the tokenizer splits the text";
    expect(base.tokenize(english).length).toBeLessThan(Buffer.byteLength(english) / 2);
  });

  it("generates the same text twice at temperature 0, with usage and finish reason", async () => {
    const a = await base.generate(ask("Say something."));
    const b = await base.generate(ask("Say something."));
    expect(a.text.length).toBeGreaterThan(0);
    expect(b.text).toBe(a.text);
    expect(a.model).toBe(`llama:${modelPath}`);
    expect(a.costUsd).toBe(0);
    expect(a.toolCalls).toEqual([]);
    expect(["length", "stop"]).toContain(a.finishReason);
    expect(a.usage.outputTokens).toBeGreaterThan(0);
    expect(a.usage.outputTokens).toBeLessThanOrEqual(24);
    if (a.finishReason === "length") expect(a.usage.outputTokens).toBe(24);
    // The prompt is the ChatML rendering of both messages, so it is longer than their text.
    const messageTokens = base.tokenize("You are a tiny random model.").length + base.tokenize("Say something.").length;
    expect(a.usage.inputTokens).toBeGreaterThan(messageTokens);
    expect(a.usage.totalTokens).toBe(a.usage.inputTokens + a.usage.outputTokens);

    const other = await base.generate(ask("A completely different question about foxes?"));
    expect(other.text).not.toBe(a.text);
  });

  it("samples reproducibly by seed at temperature 1", async () => {
    const req = (seed: number) => ask("Tell me a story.", { temperature: 1, seed, maxOutputTokens: 16 });
    const s1 = await base.generate(req(1));
    const s1again = await base.generate(req(1));
    const s2 = await base.generate(req(2));
    const s3 = await base.generate(req(3));
    expect(s1again.text).toBe(s1.text);
    expect(new Set([s1.text, s2.text, s3.text]).size).toBeGreaterThan(1);
  });

  it("stops at a stop sequence", async () => {
    const full = await base.generate(ask("Say something.", { maxOutputTokens: 40 }));
    // Stop on a piece of text the model is known to produce, a few characters in.
    const stop = full.text.slice(6, 9);
    expect(stop.length).toBe(3);
    const cut = await base.generate(ask("Say something.", { maxOutputTokens: 40, stop: [stop] }));
    expect(cut.finishReason).toBe("stop");
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
  });

  it("streams deltas that concatenate to the generated text", async () => {
    const expected = await base.generate(ask("Stream this."));
    const events: StreamEvent[] = [];
    for await (const e of base.stream(ask("Stream this."))) events.push(e);
    const deltas = events.filter((e) => e.type === "text-delta").map((e) => e.delta);
    expect(deltas.length).toBeGreaterThan(1);
    const last = events.at(-1)!;
    expect(last.type).toBe("finish");
    if (last.type !== "finish") return;
    expect(deltas.join("")).toBe(last.result.text);
    expect(last.result.text).toBe(expected.text);
    expect(last.result.usage).toEqual(expected.usage);
  });

  it("keeps concurrent requests apart (two sequences, results as if run alone)", async () => {
    const [x, y] = await Promise.all([
      base.generate(ask("First prompt.")),
      base.generate(ask("Second, unrelated prompt!")),
    ]);
    const [x1, y1] = [await base.generate(ask("First prompt.")), await base.generate(ask("Second, unrelated prompt!"))];
    expect(x.text).toBe(x1.text);
    expect(y.text).toBe(y1.text);
    // More requests than sequences queue instead of failing.
    const many = await Promise.all([1, 2, 3, 4].map(() => base.generate(ask("First prompt."))));
    expect(new Set(many.map((m) => m.text))).toEqual(new Set([x.text]));
  });

  it("constrains output to a JSON schema with a grammar, even with random weights", async () => {
    const Person = z
      .object({
        name: z.string().max(16),
        age: z.number().int(),
        member: z.boolean(),
        plan: z.enum(["free", "pro", "team"]),
        tags: z.array(z.enum(["a", "b", "c"])).max(3),
        score: z.number(),
      })
      .strict();
    const schema = z.toJSONSchema(Person) as Record<string, unknown>;
    // maxLength bounds the string in the grammar, but llama.cpp counts what it decodes
    // while random weights emit stray UTF-8 bytes that JavaScript turns into extra U+FFFD
    // characters, so the length is checked by the grammar alone, everything else by zod.
    const Parsed = Person.extend({ name: z.string() });
    const plans = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await base.generate(
        ask("Reply with a person as JSON.", {
          temperature: 1,
          seed,
          maxOutputTokens: 200,
          responseFormat: { type: "json", schema },
        }),
      );
      expect(r.finishReason).toBe("stop");
      const value = Parsed.parse(JSON.parse(r.text));
      plans.add(value.plan);
    }
    // Not one canned answer: sampling still chooses among the values the grammar allows.
    expect(plans.size).toBeGreaterThan(1);

    const anyJson = await base.generate(ask("JSON please.", { maxOutputTokens: 60, responseFormat: { type: "json" } }));
    if (anyJson.finishReason === "stop") expect(() => JSON.parse(anyJson.text)).not.toThrow();
  });

  it("applies a LoRA adapter: it loads onto the base model and changes the greedy output", async () => {
    const plain = await base.generate(ask("Say something."));
    const tuned = await adapted.generate(ask("Say something."));
    const tunedAgain = await adapted.generate(ask("Say something."));
    expect(tuned.text.length).toBeGreaterThan(0);
    expect(tunedAgain.text).toBe(tuned.text);
    expect(tuned.text).not.toBe(plain.text);

    // The scale reaches llama.cpp: at 0 the same adapter leaves the base model's answer.
    const muted = await createLocalLlm(modelPath, {
      contextSize: 256,
      threads: THREADS,
      lora: [{ path: loraPath, scale: 0 }],
    });
    try {
      expect((await muted.generate(ask("Say something."))).text).toBe(plain.text);
    } finally {
      await muted.close();
    }
  });

  it("cancels through AbortSignal: before the start and in the middle of a stream", async () => {
    const pre = new AbortController();
    pre.abort();
    expect((await errorOf(base.generate(ask("x", { signal: pre.signal })))).code).toBe("CANCELLED");

    const mid = new AbortController();
    const deltas: string[] = [];
    const consume = async () => {
      for await (const e of base.stream(ask("Go on.", { maxOutputTokens: 200, signal: mid.signal }))) {
        if (e.type === "text-delta") {
          deltas.push(e.delta);
          if (deltas.length === 2) mid.abort();
        }
      }
    };
    expect((await errorOf(consume())).code).toBe("CANCELLED");
    expect(deltas.length).toBeLessThan(20);

    // A consumer that stops reading frees its sequence for the next request.
    for await (const e of base.stream(ask("Go on.", { maxOutputTokens: 200 }))) if (e.type === "text-delta") break;
    const after = await base.generate(ask("Say something."));
    expect(after.text.length).toBeGreaterThan(0);
  });

  it("renders tools and earlier tool calls with their results into the prompt", async () => {
    const tools = [
      {
        name: "get_weather",
        description: "Current weather for a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    ];
    const question = { role: "user" as const, content: "Weather in Paris?" };
    const plain = await base.generate({ messages: [question], maxOutputTokens: 8, temperature: 0 });
    const withTools = await base.generate({ messages: [question], maxOutputTokens: 8, temperature: 0, tools });
    // The chat wrapper documents the function in the prompt.
    expect(withTools.usage.inputTokens).toBeGreaterThan(plain.usage.inputTokens + 10);
    const noneChosen = await base.generate({
      messages: [question],
      maxOutputTokens: 8,
      temperature: 0,
      tools,
      toolChoice: "none",
    });
    expect(noneChosen.usage.inputTokens).toBe(plain.usage.inputTokens);

    const answered = await base.generate({
      messages: [
        question,
        {
          role: "assistant",
          content: "",
          toolCalls: [{ id: "c1", name: "get_weather", arguments: { city: "Paris" } }],
        },
        { role: "tool", toolCallId: "c1", name: "get_weather", content: "sunny, 21C" },
      ],
      maxOutputTokens: 8,
      temperature: 0,
      tools,
    });
    expect(answered.usage.inputTokens).toBeGreaterThan(
      withTools.usage.inputTokens + base.tokenize("sunny, 21C").length,
    );
    expect(answered.usage.outputTokens).toBeGreaterThan(0);

    const orphan = await errorOf(
      base.generate({ messages: [question, { role: "tool", toolCallId: "zz", name: "get_weather", content: "?" }] }),
    );
    expect(orphan.code).toBe("VALIDATION_FAILED");
    expect(orphan.message).toContain('"zz"');
    const forced = await errorOf(base.generate({ messages: [question], tools, toolChoice: "required" }));
    expect(forced.code).toBe("UNSUPPORTED");
  });

  it("refuses a prompt that does not fit the context instead of silently cutting it", async () => {
    const long = "word ".repeat(400);
    expect(base.tokenize(long).length).toBeGreaterThan(256);
    const e = await errorOf(adapted.generate({ messages: [{ role: "user", content: long }], maxOutputTokens: 8 }));
    expect(e.code).toBe("VALIDATION_FAILED");
    expect(e.message).toMatch(/context of \d+ tokens/);
    const fits = await base.generate({ messages: [{ role: "user", content: long }], maxOutputTokens: 8 });
    expect(fits.usage.inputTokens).toBeGreaterThan(400);
  });

  it("embeds texts into model-sized vectors, deterministically", async () => {
    const r = await base.embed({ texts: ["hello world", "the lazy dog", "hello world"] });
    expect(r.vectors).toHaveLength(3);
    for (const v of r.vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(info.nEmbd);
      expect(v.every(Number.isFinite)).toBe(true);
    }
    expect([...r.vectors[2]!]).toEqual([...r.vectors[0]!]);
    expect([...r.vectors[1]!]).not.toEqual([...r.vectors[0]!]);
    expect(r.usage.inputTokens).toBe(base.tokenize("hello world").length * 2 + base.tokenize("the lazy dog").length);
    expect((await errorOf(base.embed({ texts: ["ok", ""] }))).code).toBe("VALIDATION_FAILED");
  });

  it("runs a model stored in F16 as well", async () => {
    const f16Path = join(dir, "tiny-f16.gguf");
    writeTinyLlamaGguf(f16Path, { seed: 7, nLayers: 1, nEmbd: 32, nHead: 2, nFf: 64, ctx: 256, type: "F16" });
    const f16 = await createLocalLlm(f16Path, { contextSize: 256, threads: THREADS });
    try {
      const a = await f16.generate(ask("Hi.", { maxOutputTokens: 8 }));
      const b = await f16.generate(ask("Hi.", { maxOutputTokens: 8 }));
      expect(a.usage.outputTokens).toBe(8);
      expect(b.text).toBe(a.text);
    } finally {
      await f16.close();
    }
  });

  it("fails clearly once closed", async () => {
    const extra = await createLocalLlm(modelPath, { contextSize: 128, threads: THREADS });
    expect((await extra.generate(ask("Hi.", { maxOutputTokens: 4 }))).usage.outputTokens).toBeGreaterThan(0);
    await extra.close();
    const e = await errorOf(extra.generate(ask("Hi.")));
    expect(e.message).toContain("closed");
    // The shared model is still loaded for the other clients.
    expect((await base.generate(ask("Hi.", { maxOutputTokens: 4 }))).text.length).toBeGreaterThan(0);
  });
});

describe("createLocalLlm with bad input", () => {
  it("names a missing file", async () => {
    const e = await errorOf(createLocalLlm(join(dir, "nope.gguf")));
    expect(e.code).toBe("NOT_FOUND");
    expect(e.message).toContain("nope.gguf");
  });

  it("rejects a file that is not GGUF before any native code sees it", async () => {
    const junk = join(dir, "junk.gguf");
    writeFileSync(junk, "PK\u0003\u0004 this is a zip, not a model");
    const e = await errorOf(createLocalLlm(junk));
    expect(e.code).toBe("VALIDATION_FAILED");
    expect(e.message).toContain(junk);
    expect(e.message).toContain('"GGUF"');
  });

  it("reports a truncated GGUF as corrupt", async () => {
    const cut = join(dir, "cut.gguf");
    writeFileSync(cut, readFileSync(modelPath).subarray(0, Math.floor(info.bytes / 2)));
    const e = await errorOf(createLocalLlm(cut, { threads: THREADS }));
    expect(e.code).toBe("ARTIFACT_CORRUPT");
    expect(e.message).toContain(cut);
  });

  it("rejects a LoRA adapter made for a different base model", async () => {
    const otherBase = writeTinyLlamaGguf(join(dir, "wide.gguf"), { seed: 3, nLayers: 1, nEmbd: 32, nHead: 2, nFf: 64 });
    const wrongLora = join(dir, "wrong-lora.gguf");
    writeTinyLoraGguf(wrongLora, otherBase, { seed: 1 });
    const e = await errorOf(
      createLocalLlm(modelPath, { contextSize: 256, threads: THREADS, lora: [{ path: wrongLora }] }),
    );
    expect(e.code).toBe("PROVIDER_ERROR");
    expect(e.hint).toMatch(/LoRA/);
  });

  it("rejects invalid options and sampling parameters", async () => {
    const e = await errorOf(createLocalLlm(modelPath, { parallel: 0 }));
    expect(e.code).toBe("VALIDATION_FAILED");
    expect(e.message).toContain("parallel");
    const t = await errorOf(base.generate(ask("x", { temperature: -1 })));
    expect(t.code).toBe("VALIDATION_FAILED");
    expect(t.message).toContain("temperature");
    expect((await errorOf(base.generate(ask("x", { maxOutputTokens: 0 })))).code).toBe("VALIDATION_FAILED");
    expect((await errorOf(base.generate({ messages: [] }))).code).toBe("VALIDATION_FAILED");
  });

  it("says how to install node-llama-cpp when it is missing", async () => {
    // A loader hook makes node-llama-cpp unresolvable in a child process, exactly as in
    // an install without the optional peer.
    const hooks = join(dir, "hide-nlc.mjs");
    writeFileSync(
      hooks,
      `export async function resolve(specifier, context, next) {
  if (specifier === "node-llama-cpp") {
    const err = new Error("Cannot find package 'node-llama-cpp'");
    err.code = "ERR_MODULE_NOT_FOUND";
    throw err;
  }
  return next(specifier, context);
}
`,
    );
    const register = join(dir, "register.mjs");
    writeFileSync(
      register,
      `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
    const script = join(dir, "child.mts");
    const entry = pathToFileURL(fileURLToPath(new URL("./index.ts", import.meta.url))).href;
    writeFileSync(
      script,
      `import { createLocalLlm } from ${JSON.stringify(entry)};
try { await createLocalLlm(${JSON.stringify(modelPath)}); console.log(JSON.stringify({ ok: true })); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })); }
`,
    );
    const out = await new Promise<string>((resolvePromise, reject) => {
      const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "--import", register, script], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) =>
        code === 0 ? resolvePromise(stdout) : reject(new Error(`child exited ${code}: ${stderr}`)),
      );
    });
    const result = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(result.code).toBe("PROVIDER_NOT_CONFIGURED");
    expect(result.hint).toContain("npm install node-llama-cpp@3.21.1");
  });
});
