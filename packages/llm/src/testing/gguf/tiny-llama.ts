import { ValidationError } from "@quintet/core";
import { z } from "zod";
import { buildByteBpeVocab, TINY_CORPUS } from "./byte-bpe.js";
import { type GgmlTypeName, type GgufTensor, type GgufValue, writeGgufFile } from "./gguf-writer.js";
import { createRng, gaussian } from "./random.js";

/**
 * Tiny but real `llama`-architecture GGUF models with random weights, for proving the
 * local inference path end to end without downloading anything.
 */

const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const;

const TinyLlamaOptionsSchema = z
  .object({
    seed: z.number().int(),
    /** At most this many BPE merges, learned from pairs seen at least twice in the corpus (vocabulary = 256 + merges + 3). */
    merges: z.number().int().min(0).max(2000).default(200),
    corpus: z.string().min(1).optional(),
    nLayers: z.number().int().min(1).max(4).default(2),
    nEmbd: z.number().int().min(16).max(256).default(64),
    nHead: z.number().int().min(1).max(16).default(4),
    nHeadKv: z.number().int().min(1).max(16).optional(),
    nFf: z.number().int().min(16).max(1024).default(128),
    ctx: z.number().int().min(64).max(4096).default(256),
    type: z.enum(["F32", "F16"]).default("F32"),
  })
  .strict()
  .refine((o) => o.nEmbd % o.nHead === 0, { message: "nEmbd must be divisible by nHead" })
  .refine((o) => (o.nEmbd / o.nHead) % 2 === 0, { message: "the head size nEmbd/nHead must be even (RoPE)" })
  .refine((o) => o.nHead % (o.nHeadKv ?? o.nHead) === 0, { message: "nHead must be divisible by nHeadKv" });

export type TinyLlamaOptions = z.input<typeof TinyLlamaOptionsSchema>;

/** What was written: enough to build a matching LoRA adapter and to check the tokenizer. */
export interface TinyLlamaInfo {
  path: string;
  bytes: number;
  nVocab: number;
  nEmbd: number;
  nFf: number;
  nLayers: number;
  nHead: number;
  nHeadKv: number;
  ctx: number;
  /** Tensor name -> ggml dims (ne[0] first), for the LoRA writer. */
  shapes: Record<string, number[]>;
  specialTokens: Record<(typeof SPECIAL_TOKENS)[number], number>;
}

function parse<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ValidationError(`${what}: ${issue.path.join(".") || "options"} ${issue.message}.`, {
      hint: "Fix the option named in the message.",
      details: { issues: r.error.issues },
    });
  }
  return r.data;
}

/**
 * Write a random-weight llama model with a byte-level BPE tokenizer and a ChatML chat
 * template to `path`. Same options, same bytes.
 */
export function writeTinyLlamaGguf(path: string, options: TinyLlamaOptions): TinyLlamaInfo {
  const o = parse(TinyLlamaOptionsSchema, options, "writeTinyLlamaGguf");
  const nHeadKv = o.nHeadKv ?? o.nHead;
  const headDim = o.nEmbd / o.nHead;
  const nEmbdKv = headDim * nHeadKv;
  const vocab = buildByteBpeVocab(o.corpus ?? TINY_CORPUS, o.merges, SPECIAL_TOKENS);
  const nVocab = vocab.tokens.length;
  const rng = createRng(o.seed);
  const type: GgmlTypeName = o.type;

  const tensors: GgufTensor[] = [];
  const add = (name: string, dims: number[], data: Float32Array): void => {
    tensors.push({ name, dims, type: name.endsWith("norm.weight") ? "F32" : type, data });
  };
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
  // Scaled like a real initialisation (1/sqrt(fan_in)) so activations neither vanish
  // nor blow up and the next-token distribution is varied rather than degenerate.
  const linear = (fanIn: number, fanOut: number): Float32Array => gaussian(rng, fanIn * fanOut, 1 / Math.sqrt(fanIn));

  add("token_embd.weight", [o.nEmbd, nVocab], gaussian(rng, o.nEmbd * nVocab, 1));
  for (let b = 0; b < o.nLayers; b++) {
    add(`blk.${b}.attn_norm.weight`, [o.nEmbd], ones(o.nEmbd));
    add(`blk.${b}.attn_q.weight`, [o.nEmbd, o.nEmbd], linear(o.nEmbd, o.nEmbd));
    add(`blk.${b}.attn_k.weight`, [o.nEmbd, nEmbdKv], linear(o.nEmbd, nEmbdKv));
    add(`blk.${b}.attn_v.weight`, [o.nEmbd, nEmbdKv], linear(o.nEmbd, nEmbdKv));
    add(`blk.${b}.attn_output.weight`, [o.nEmbd, o.nEmbd], linear(o.nEmbd, o.nEmbd));
    add(`blk.${b}.ffn_norm.weight`, [o.nEmbd], ones(o.nEmbd));
    add(`blk.${b}.ffn_gate.weight`, [o.nEmbd, o.nFf], linear(o.nEmbd, o.nFf));
    add(`blk.${b}.ffn_up.weight`, [o.nEmbd, o.nFf], linear(o.nEmbd, o.nFf));
    add(`blk.${b}.ffn_down.weight`, [o.nFf, o.nEmbd], linear(o.nFf, o.nEmbd));
  }
  add("output_norm.weight", [o.nEmbd], ones(o.nEmbd));
  add("output.weight", [o.nEmbd, nVocab], linear(o.nEmbd, nVocab));

  const u32 = (value: number): GgufValue => ({ kind: "u32", value });
  const metadata: Record<string, GgufValue> = {
    "general.architecture": { kind: "string", value: "llama" },
    "general.type": { kind: "string", value: "model" },
    "general.name": { kind: "string", value: `quintet-tiny-llama-s${o.seed}` },
    "general.alignment": u32(32),
    // LLAMA_FTYPE_ALL_F32 = 0, MOSTLY_F16 = 1
    "general.file_type": u32(type === "F32" ? 0 : 1),
    "llama.context_length": u32(o.ctx),
    "llama.embedding_length": u32(o.nEmbd),
    "llama.block_count": u32(o.nLayers),
    "llama.feed_forward_length": u32(o.nFf),
    "llama.attention.head_count": u32(o.nHead),
    "llama.attention.head_count_kv": u32(nHeadKv),
    "llama.attention.layer_norm_rms_epsilon": { kind: "f32", value: 1e-5 },
    "llama.rope.dimension_count": u32(headDim),
    "llama.rope.freq_base": { kind: "f32", value: 10000 },
    "llama.vocab_size": u32(nVocab),
    "tokenizer.ggml.model": { kind: "string", value: "gpt2" },
    "tokenizer.ggml.pre": { kind: "string", value: "default" },
    "tokenizer.ggml.tokens": { kind: "array", of: "string", values: vocab.tokens },
    "tokenizer.ggml.token_type": { kind: "array", of: "i32", values: vocab.tokenTypes },
    "tokenizer.ggml.merges": { kind: "array", of: "string", values: vocab.merges },
    "tokenizer.ggml.bos_token_id": u32(vocab.special["<|endoftext|>"]!),
    "tokenizer.ggml.eos_token_id": u32(vocab.special["<|im_end|>"]!),
    "tokenizer.ggml.padding_token_id": u32(vocab.special["<|endoftext|>"]!),
    "tokenizer.ggml.add_bos_token": { kind: "bool", value: false },
    "tokenizer.chat_template": { kind: "string", value: CHATML_TEMPLATE },
  };

  const { bytes } = writeGgufFile(path, { metadata, tensors });
  const shapes: Record<string, number[]> = {};
  for (const t of tensors) shapes[t.name] = [...t.dims];
  return {
    path,
    bytes,
    nVocab,
    nEmbd: o.nEmbd,
    nFf: o.nFf,
    nLayers: o.nLayers,
    nHead: o.nHead,
    nHeadKv,
    ctx: o.ctx,
    shapes,
    specialTokens: {
      "<|endoftext|>": vocab.special["<|endoftext|>"]!,
      "<|im_start|>": vocab.special["<|im_start|>"]!,
      "<|im_end|>": vocab.special["<|im_end|>"]!,
    },
  };
}

const LoraOptionsSchema = z
  .object({
    seed: z.number().int(),
    rank: z.number().int().min(1).max(64).default(4),
    alpha: z.number().positive().optional(),
    /** Which projections get an adapter (the usual LoRA targets). */
    targets: z
      .array(z.enum(["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]))
      .min(1)
      .default(["attn_q", "attn_v"]),
    /** Standard deviation of both factors; real adapters start with B = 0, but a zero adapter proves nothing. */
    std: z.number().positive().default(0.5),
  })
  .strict();

export type TinyLoraOptions = z.input<typeof LoraOptionsSchema>;

export interface TinyLoraInfo {
  path: string;
  bytes: number;
  rank: number;
  alpha: number;
  tensors: string[];
}

/**
 * Write a LoRA adapter GGUF for a model written by {@link writeTinyLlamaGguf}: for each
 * target weight W with ggml dims [in, out], `lora_a` is [in, rank] and `lora_b` is
 * [rank, out], which is the layout llama.cpp's adapter loader checks.
 */
export function writeTinyLoraGguf(path: string, base: TinyLlamaInfo, options: TinyLoraOptions): TinyLoraInfo {
  const o = parse(LoraOptionsSchema, options, "writeTinyLoraGguf");
  const alpha = o.alpha ?? o.rank;
  const rng = createRng(o.seed);
  const tensors: GgufTensor[] = [];
  for (let b = 0; b < base.nLayers; b++) {
    for (const target of o.targets) {
      const name = `blk.${b}.${target}.weight`;
      const shape = base.shapes[name];
      if (shape?.length !== 2) {
        throw new ValidationError(`The base model has no 2-D tensor "${name}" to adapt.`, {
          hint: "Pass the TinyLlamaInfo returned by writeTinyLlamaGguf for the model this adapter is for.",
        });
      }
      const [nIn, nOut] = shape as [number, number];
      tensors.push({
        name: `${name}.lora_a`,
        dims: [nIn, o.rank],
        type: "F32",
        data: gaussian(rng, nIn * o.rank, o.std),
      });
      tensors.push({
        name: `${name}.lora_b`,
        dims: [o.rank, nOut],
        type: "F32",
        data: gaussian(rng, o.rank * nOut, o.std),
      });
    }
  }
  const metadata: Record<string, GgufValue> = {
    "general.architecture": { kind: "string", value: "llama" },
    "general.type": { kind: "string", value: "adapter" },
    "general.name": { kind: "string", value: `quintet-tiny-lora-s${o.seed}` },
    "general.alignment": { kind: "u32", value: 32 },
    "adapter.type": { kind: "string", value: "lora" },
    "adapter.lora.alpha": { kind: "f32", value: alpha },
  };
  const { bytes } = writeGgufFile(path, { metadata, tensors });
  return { path, bytes, rank: o.rank, alpha, tensors: tensors.map((t) => t.name) };
}
