import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { CancelledError, QuintetError, ValidationError } from "@quintet/core";
import type {
  ChatModelFunctions,
  ChatWrapper,
  LlamaChat,
  LlamaChatResponse,
  LlamaContext,
  LlamaEmbeddingContext,
  LlamaGrammar,
} from "node-llama-cpp";
import { z } from "zod";
import type {
  EmbedRequest,
  EmbedResult,
  FinishReason,
  GenerateRequest,
  GenerateResult,
  LlmClient,
  StreamEvent,
  ToolCall,
} from "../types.js";
import { getLlamaBackend, getModel, loadNodeLlamaCpp } from "./binding.js";
import { toChatHistory } from "./chat-history.js";
import { assertGgufFile } from "./gguf-header.js";
import { createJsonGrammar } from "./json-grammar.js";

const LocalLlmOptionsSchema = z
  .object({
    /** Tokens the context holds (prompt + answer). Default: the model's trained length, capped at 4096. */
    contextSize: z.number().int().min(16).optional(),
    /** `false` (the default) runs on the CPU; otherwise a node-llama-cpp GPU backend. */
    gpu: z.union([z.literal(false), z.enum(["auto", "cuda", "vulkan", "metal"])]).default(false),
    /** CPU threads per evaluation. Default: node-llama-cpp's choice (the math cores). */
    threads: z.number().int().min(1).optional(),
    /** LoRA adapters (GGUF) applied to this client's context. */
    lora: z.array(z.object({ path: z.string().min(1), scale: z.number().default(1) }).strict()).default([]),
    /** Seed for requests that do not carry one, so sampling is reproducible. */
    seed: z.number().int().optional(),
    /** How many requests may generate at once (one context sequence each); the rest wait. */
    parallel: z.number().int().min(1).max(64).default(1),
  })
  .strict();

export type LocalLlmOptions = z.input<typeof LocalLlmOptionsSchema>;

// The sampling knobs node-llama-cpp would otherwise take at face value (a negative
// temperature or a zero token limit are mistakes, not requests).
const SamplingSchema = z.object({
  temperature: z.number().min(0).max(2).optional(),
  topP: z.number().gt(0).max(1).optional(),
  maxOutputTokens: z.number().int().min(1).optional(),
  seed: z.number().int().optional(),
  stop: z.array(z.string().min(1)).optional(),
});

/** A local GGUF model: the {@link LlmClient} contract plus its tokenizer and a way to free it. */
export interface LocalLlmClient extends LlmClient {
  embed(request: EmbedRequest): Promise<EmbedResult>;
  /** Token ids for `text` with the model's own tokenizer (no BOS added). */
  tokenize(text: string): number[];
  detokenize(tokens: readonly number[]): string;
  /** The context size actually allocated (llama.cpp may round it up). */
  readonly contextSize: number;
  /** Free this client's contexts; the model stays cached for other clients of the same file. */
  close(): Promise<void>;
}

interface Slot {
  chat: LlamaChat;
}

/** Hands out context sequences one request at a time, in arrival order. */
class SlotPool {
  private readonly free: Slot[];
  private readonly waiters: { grant: (s: Slot) => void; reject: (e: unknown) => void }[] = [];

  constructor(slots: Slot[]) {
    this.free = [...slots];
  }

  acquire(signal: AbortSignal | undefined): Promise<Slot> {
    if (signal?.aborted) return Promise.reject(cancelled(signal));
    const slot = this.free.pop();
    if (slot) return Promise.resolve(slot);
    return new Promise<Slot>((resolvePromise, reject) => {
      const waiter = {
        grant: (s: Slot) => {
          signal?.removeEventListener("abort", onAbort);
          resolvePromise(s);
        },
        reject,
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(cancelled(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(slot: Slot): void {
    const next = this.waiters.shift();
    if (next) next.grant(slot);
    else this.free.push(slot);
  }
}

function cancelled(signal: AbortSignal): CancelledError {
  const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : "";
  return new CancelledError(`The local generation was cancelled${reason}.`, { cause: signal.reason });
}

const FINISH: Record<string, FinishReason> = {
  eogToken: "stop",
  stopGenerationTrigger: "stop",
  customStopTrigger: "stop",
  functionCalls: "tool-calls",
  maxTokens: "length",
  abort: "other",
};

/**
 * Open a local GGUF model through node-llama-cpp (an optional peer, imported only here).
 * The file is checked first, the native backend and the model are loaded once per
 * process, and each client gets its own context so LoRA adapters stay per client.
 *
 * @throws QuintetError PROVIDER_NOT_CONFIGURED when node-llama-cpp is not installed,
 *   NOT_FOUND / VALIDATION_FAILED for a missing or non-GGUF file, ARTIFACT_CORRUPT when
 *   llama.cpp rejects the file.
 */
export async function createLocalLlm(path: string, options: LocalLlmOptions = {}): Promise<LocalLlmClient> {
  const parsed = LocalLlmOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`Invalid local model option ${issue.path.join(".")}: ${issue.message}.`, {
      hint: "See LocalLlmOptions: contextSize, gpu, threads, lora, seed, parallel.",
      details: { issues: parsed.error.issues },
    });
  }
  const o = parsed.data;
  const modelPath = resolve(path);
  await assertGgufFile(modelPath);
  const loraPaths = o.lora.map((l) => ({ filePath: resolve(l.path), scale: l.scale }));
  for (const l of loraPaths) await assertGgufFile(l.filePath);

  const nlc = await loadNodeLlamaCpp();
  const llama = await getLlamaBackend(o.gpu);
  const model = await getModel(o.gpu, modelPath);
  const contextSize = o.contextSize ?? Math.min(model.trainContextSize, 4096);

  let context: LlamaContext;
  try {
    context = await model.createContext({
      contextSize,
      sequences: o.parallel,
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      ...(loraPaths.length > 0 ? { lora: { adapters: loraPaths } } : {}),
    });
  } catch (err) {
    throw new QuintetError(
      "PROVIDER_ERROR",
      `Could not create a llama.cpp context for "${modelPath}": ${(err as Error).message}`,
      {
        hint: "Lower contextSize or parallel, and check that each LoRA adapter was trained for this base model.",
        cause: err,
      },
    );
  }
  // Resolving the chat wrapper parses the model's Jinja template, so do it once and share it.
  const first = new nlc.LlamaChat({ contextSequence: context.getSequence() });
  const chatWrapper: ChatWrapper = first.chatWrapper;
  const slots: Slot[] = [{ chat: first }];
  for (let i = 1; i < o.parallel; i++) {
    slots.push({ chat: new nlc.LlamaChat({ contextSequence: context.getSequence(), chatWrapper }) });
  }
  const pool = new SlotPool(slots);
  const uri = `llama:${path}`;
  const grammars = new Map<string, Promise<LlamaGrammar>>();
  let embeddingContext: Promise<LlamaEmbeddingContext> | undefined;
  let embedQueue: Promise<unknown> = Promise.resolve();
  let closed = false;

  const grammarFor = (format: GenerateRequest["responseFormat"]): Promise<LlamaGrammar> | undefined => {
    if (format?.type !== "json") return undefined;
    const key = JSON.stringify(format.schema ?? null);
    let g = grammars.get(key);
    if (!g) {
      g = createJsonGrammar(nlc, llama, format.schema).catch((err: unknown) => {
        grammars.delete(key);
        throw new QuintetError(
          "UNSUPPORTED",
          `This JSON schema cannot be turned into a llama.cpp grammar: ${(err as Error).message}`,
          {
            hint: "Use the JSON Schema subset node-llama-cpp supports (object, array, string, number, integer, boolean, enum, const, anyOf).",
            cause: err,
          },
        );
      });
      grammars.set(key, g);
    }
    return g;
  };

  const run = async (request: GenerateRequest, onDelta?: (delta: string) => void): Promise<GenerateResult> => {
    if (closed) throw new QuintetError("PROVIDER_ERROR", `The local model client for ${uri} is closed.`);
    const started = Date.now();
    const sampling = SamplingSchema.safeParse(request);
    if (!sampling.success) {
      const issue = sampling.error.issues[0]!;
      throw new ValidationError(`Invalid generate request: ${issue.path.join(".")} ${issue.message}.`, {
        hint: "temperature is 0-2, topP in (0, 1], maxOutputTokens a positive integer, stop strings non-empty.",
        details: { issues: sampling.error.issues },
      });
    }
    const history = toChatHistory(request.messages);
    const grammar = await grammarFor(request.responseFormat);
    const useTools = request.tools !== undefined && request.tools.length > 0 && request.toolChoice !== "none";
    if (useTools && (request.toolChoice === "required" || typeof request.toolChoice === "object")) {
      throw new QuintetError(
        "UNSUPPORTED",
        "The local provider cannot force a tool call (toolChoice required / named).",
        {
          hint: 'Use toolChoice "auto" with local models, or a hosted provider that supports forced tool calls.',
        },
      );
    }
    if (useTools && grammar) {
      throw new QuintetError("UNSUPPORTED", "The local provider cannot combine tools with a JSON response format.", {
        hint: "Ask for either tools or a JSON schema in one request.",
      });
    }
    const functions: ChatModelFunctions | undefined = useTools
      ? Object.fromEntries(
          request.tools!.map((t) => [t.name, { description: t.description, params: t.parameters as never }]),
        )
      : undefined;

    const inputTokens = chatWrapper
      .generateContextState({ chatHistory: history, ...(functions ? { availableFunctions: functions } : {}) })
      .contextText.tokenize(model.tokenizer).length;
    // node-llama-cpp would silently drop the start of the conversation to make it fit;
    // a hosted API refuses instead, and so does this provider, so that callers see it.
    const room = context.contextSize - inputTokens;
    if (room < (request.maxOutputTokens ?? 1)) {
      throw new ValidationError(
        `The prompt is ${inputTokens} tokens and ${uri} has a context of ${context.contextSize} tokens, leaving ${Math.max(room, 0)} for an answer of up to ${request.maxOutputTokens ?? 1}.`,
        {
          hint: "Shorten the messages or tool descriptions, lower maxOutputTokens, or open the model with a larger contextSize.",
        },
      );
    }

    const slot = await pool.acquire(request.signal);
    try {
      // The sequence's meter counts every sampled token, including ones a stop trigger or
      // the token limit kept out of the text; that is what the model produced.
      const meterBefore = slot.chat.sequence.tokenMeter.getState();
      const seed = request.seed ?? o.seed;
      const common = {
        ...(request.signal ? { signal: request.signal } : {}),
        ...(request.maxOutputTokens !== undefined ? { maxTokens: request.maxOutputTokens } : {}),
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        ...(request.topP !== undefined ? { topP: request.topP } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(request.stop && request.stop.length > 0 ? { customStopTriggers: request.stop } : {}),
        ...(onDelta ? { onTextChunk: onDelta } : {}),
      };
      let response: LlamaChatResponse<ChatModelFunctions | undefined>;
      try {
        response = functions
          ? await slot.chat.generateResponse(history, { ...common, functions })
          : await slot.chat.generateResponse(history, { ...common, ...(grammar ? { grammar } : {}) });
      } catch (err) {
        if (request.signal?.aborted) throw cancelled(request.signal);
        throw new QuintetError("PROVIDER_ERROR", `Local generation with ${uri} failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const outputTokens = slot.chat.sequence.tokenMeter.diff(meterBefore).usedOutputTokens;
      const toolCalls: ToolCall[] = (response.functionCalls ?? []).map((c, i) => ({
        id: `call_${randomBytes(8).toString("hex")}_${i}`,
        name: c.functionName,
        arguments: c.params,
      }));
      return {
        text: response.response,
        toolCalls,
        finishReason: FINISH[response.metadata.stopReason] ?? "other",
        usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
        costUsd: 0,
        model: uri,
        latencyMs: Date.now() - started,
      };
    } finally {
      pool.release(slot);
    }
  };

  const client: LocalLlmClient = {
    uri,
    contextSize: context.contextSize,

    generate: (request) => run(request),

    async *stream(request): AsyncIterable<StreamEvent> {
      // Native generation pushes chunks; the consumer pulls. A queue bridges the two, and
      // an early `break` by the consumer aborts the generation instead of leaking it.
      const stop = new AbortController();
      const signal = request.signal ? AbortSignal.any([request.signal, stop.signal]) : stop.signal;
      const queue: string[] = [];
      let wake: (() => void) | undefined;
      let done = false;
      let failure: unknown;
      let result: GenerateResult | undefined;
      run({ ...request, signal }, (delta) => {
        queue.push(delta);
        wake?.();
      }).then(
        (r) => {
          result = r;
          done = true;
          wake?.();
        },
        (err: unknown) => {
          failure = err;
          done = true;
          wake?.();
        },
      );
      try {
        while (true) {
          if (queue.length > 0) {
            const delta = queue.shift()!;
            if (delta) yield { type: "text-delta", delta };
            continue;
          }
          if (done) break;
          await new Promise<void>((r) => {
            wake = r;
          });
          wake = undefined;
        }
        if (failure !== undefined) {
          if (request.signal?.aborted) throw cancelled(request.signal);
          throw failure;
        }
        for (const toolCall of result!.toolCalls) yield { type: "tool-call", toolCall };
        yield { type: "finish", result: result! };
      } finally {
        if (!done) stop.abort(new CancelledError("The stream consumer stopped reading."));
      }
    },

    async embed(request: EmbedRequest): Promise<EmbedResult> {
      if (closed) throw new QuintetError("PROVIDER_ERROR", `The local model client for ${uri} is closed.`);
      embeddingContext ??= model
        .createEmbeddingContext({
          contextSize,
          ...(o.threads !== undefined ? { threads: o.threads } : {}),
        })
        .catch((err: unknown) => {
          embeddingContext = undefined;
          throw new QuintetError("UNSUPPORTED", `${uri} cannot produce embeddings: ${(err as Error).message}`, {
            hint: "Use an embedding model (for example a BERT- or nomic-style GGUF) or a hosted embedder.",
            cause: err,
          });
        });
      // One embedding context evaluates one text at a time; queue callers behind each other.
      const job = embedQueue.then(async () => {
        const empty = request.texts.findIndex((t) => t.length === 0);
        if (empty >= 0) {
          throw new ValidationError(`texts[${empty}] is empty; an empty text has no tokens to embed.`, {
            hint: "Drop empty texts before embedding.",
          });
        }
        const ctx = await embeddingContext!;
        const vectors: Float32Array[] = [];
        let inputTokens = 0;
        for (const text of request.texts) {
          if (request.signal?.aborted) throw cancelled(request.signal);
          const tokens = model.tokenize(text);
          inputTokens += tokens.length;
          const e = await ctx.getEmbeddingFor(tokens);
          vectors.push(Float32Array.from(e.vector));
        }
        return { vectors, usage: { inputTokens }, model: uri };
      });
      embedQueue = job.catch(() => undefined);
      return job;
    },

    tokenize: (text) => [...model.tokenize(text)],
    detokenize: (tokens) => model.detokenize(tokens as never),

    async close() {
      if (closed) return;
      closed = true;
      const emb = await embeddingContext?.catch(() => undefined);
      await emb?.dispose();
      await context.dispose();
    },
  };
  return client;
}
