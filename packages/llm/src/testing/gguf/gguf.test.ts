import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QuintetError } from "@quintet/core";
import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildByteBpeVocab,
  gpt2ByteToUnicode,
  toHalf,
  writeGgufFile,
  writeTinyLlamaGguf,
  writeTinyLoraGguf,
} from "./index.js";

// node-llama-cpp's GGUF reader is pure JavaScript and independent of this writer, so
// reading our files back with it checks the layout without trusting our own parser.

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "quintet-gguf-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("writeGgufFile", () => {
  it("round-trips every metadata type and aligned tensors through an independent reader", async () => {
    const path = join(dir, "kv.gguf");
    writeGgufFile(path, {
      metadata: {
        "general.architecture": { kind: "string", value: "llama" },
        "t.u8": { kind: "u8", value: 200 },
        "t.i16": { kind: "i16", value: -1234 },
        "t.u32": { kind: "u32", value: 4_000_000_000 },
        "t.i32": { kind: "i32", value: -7 },
        "t.f32": { kind: "f32", value: 0.5 },
        "t.f64": { kind: "f64", value: Math.PI },
        "t.bool": { kind: "bool", value: true },
        "t.u64": { kind: "u64", value: 2n ** 40n },
        "t.str": { kind: "string", value: "héllo 静" },
        "t.strs": { kind: "array", of: "string", values: ["a", "", "Ġb c"] },
        "t.ints": { kind: "array", of: "i32", values: [1, -2, 3] },
      },
      tensors: [
        { name: "odd", dims: [3], type: "F32", data: new Float32Array([1, 2, 3]) },
        { name: "half", dims: [2, 2], type: "F16", data: new Float32Array([1, -2, 0.5, 65504]) },
      ],
    });
    const info = await readGgufFileInfo(path, { sourceType: "filesystem", readTensorInfo: true, logWarnings: false });
    expect(info.version).toBe(3);
    const m = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(m.general!.architecture).toBe("llama");
    expect(m.t).toMatchObject({
      u8: 200,
      i16: -1234,
      u32: 4_000_000_000,
      i32: -7,
      f32: 0.5,
      bool: true,
      str: "héllo 静",
      strs: ["a", "", "Ġb c"],
      ints: [1, -2, 3],
    });
    expect(m.t!.f64).toBeCloseTo(Math.PI, 12);
    expect(BigInt(m.t!.u64 as bigint | number)).toBe(2n ** 40n);
    const tensors = info.fullTensorInfo!;
    expect(tensors.map((t) => [t.name, t.dimensions.map(Number), Number(t.offset)])).toEqual([
      ["odd", [3], 0],
      ["half", [2, 2], 32], // 12 bytes of F32, padded to the default alignment of 32
    ]);
  });

  it("refuses inconsistent tensors", () => {
    const bad = () =>
      writeGgufFile(join(dir, "bad.gguf"), {
        metadata: {},
        tensors: [{ name: "x", dims: [2, 2], type: "F32", data: new Float32Array(3) }],
      });
    expect(bad).toThrow(QuintetError);
    expect(bad).toThrow(/4/);
  });
});

describe("toHalf", () => {
  it("encodes IEEE binary16 with rounding, subnormals and infinities", () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(0.5)).toBe(0x3800);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // rounds up past the largest finite half
    expect(toHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalf(2 ** -26)).toBe(0x0000);
    expect(toHalf(-0)).toBe(0x8000);
    expect(toHalf(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(toHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie rounds to even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });
});

describe("byte-level BPE vocabulary", () => {
  it("covers all 256 bytes with printable, distinct symbols and learns merges", () => {
    const table = gpt2ByteToUnicode();
    expect(new Set(table).size).toBe(256);
    expect(table[0x20]).toBe("Ġ"); // GPT-2 spells a space as U+0120
    expect(table[0x41]).toBe("A");
    const vocab = buildByteBpeVocab("the cat and the hat and the bat", 10, ["<|end|>"]);
    expect(vocab.merges.length).toBeGreaterThan(0);
    expect(vocab.merges[0]).toMatch(/^\S+ \S+$/);
    expect(vocab.tokens).toContain("Ġthe");
    expect(vocab.tokens[vocab.special["<|end|>"]!]).toBe("<|end|>");
    expect(vocab.tokens.length).toBe(vocab.tokenTypes.length);
  });
});

describe("writeTinyLlamaGguf / writeTinyLoraGguf", () => {
  it("writes the llama hyperparameters, tokenizer and tensor shapes llama.cpp expects", async () => {
    const path = join(dir, "m.gguf");
    const model = writeTinyLlamaGguf(path, {
      seed: 1,
      nLayers: 1,
      nEmbd: 32,
      nHead: 4,
      nHeadKv: 2,
      nFf: 64,
      ctx: 128,
      type: "F16",
    });
    const info = await readGgufFileInfo(path, { sourceType: "filesystem", readTensorInfo: true, logWarnings: false });
    const m = info.metadata as unknown as Record<string, any>;
    expect(m.general.architecture).toBe("llama");
    expect(m.llama).toMatchObject({
      context_length: 128,
      embedding_length: 32,
      block_count: 1,
      feed_forward_length: 64,
      attention: { head_count: 4, head_count_kv: 2 },
      rope: { dimension_count: 8 },
      vocab_size: model.nVocab,
    });
    expect(m.tokenizer.ggml.model).toBe("gpt2");
    expect(m.tokenizer.ggml.tokens).toHaveLength(model.nVocab);
    expect(m.tokenizer.ggml.merges.length).toBeGreaterThan(50); // every pair seen twice in the built-in corpus
    expect(m.tokenizer.chat_template).toContain("<|im_start|>");
    const shapes = Object.fromEntries(info.fullTensorInfo!.map((t) => [t.name, t.dimensions.map(Number)]));
    expect(shapes["token_embd.weight"]).toEqual([32, model.nVocab]);
    expect(shapes["blk.0.attn_k.weight"]).toEqual([32, 16]); // 2 KV heads of 8
    expect(shapes["blk.0.ffn_down.weight"]).toEqual([64, 32]);
    expect(info.fullTensorInfo!.find((t) => t.name === "blk.0.attn_q.weight")!.ggmlType).toBe(1); // F16

    const lora = writeTinyLoraGguf(join(dir, "l.gguf"), model, { seed: 2, rank: 2, targets: ["attn_k", "ffn_down"] });
    const li = await readGgufFileInfo(lora.path, {
      sourceType: "filesystem",
      readTensorInfo: true,
      logWarnings: false,
    });
    const lm = li.metadata as unknown as Record<string, any>;
    expect(lm.general.type).toBe("adapter");
    expect(lm.adapter).toMatchObject({ type: "lora", lora: { alpha: 2 } });
    const ls = Object.fromEntries(li.fullTensorInfo!.map((t) => [t.name, t.dimensions.map(Number)]));
    expect(ls).toEqual({
      "blk.0.attn_k.weight.lora_a": [32, 2],
      "blk.0.attn_k.weight.lora_b": [2, 16],
      "blk.0.ffn_down.weight.lora_a": [64, 2],
      "blk.0.ffn_down.weight.lora_b": [2, 32],
    });
  });
});
