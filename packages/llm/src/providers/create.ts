import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { EmbeddingModelV3, LanguageModelV3 } from "@ai-sdk/provider";
import { QuintetError, ValidationError } from "@quintet/core";
import { z } from "zod";
import { findPrice, type PriceTable, resolvePrices } from "../pricing/prices.js";
import type { LocalLlmClient, LocalLlmOptions } from "./local/index.js";
import { RetryOptionsSchema } from "./retry.js";
import { SdkLlmClient } from "./sdk-client.js";
import { defaultSpanRunner, type SpanRunner, TracedLlmClient } from "./traced.js";
import type {
  EmbedRequest,
  EmbedResult,
  GenerateRequest,
  GenerateResult,
  LlmCapabilities,
  LlmClient,
  StreamEvent,
} from "./types.js";
import { parseModelUri } from "./uri.js";

const OptionsSchema = z
  .object({
    apiKey: z.string().min(1).optional(),
    baseURL: z.string().url().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    fetch: z.custom<typeof globalThis.fetch>((v) => typeof v === "function").optional(),
    retry: RetryOptionsSchema.optional(),
    /** Per attempt; for streams, the longest silence between two chunks. */
    timeoutMs: z.number().int().min(1).default(60_000),
    prices: z.custom<PriceTable>((v) => typeof v === "object" && v !== null).optional(),
    env: z.record(z.string(), z.string().optional()).optional(),
    /** Model for `embed` when the URI names a chat model (default: the URI's model). */
    embeddingModel: z.string().min(1).optional(),
    /** openai-compatible/ollama: whether the server accepts `response_format: json_schema` (default true). */
    structuredOutputs: z.boolean().optional(),
    /** Options for `llama:` models (node-llama-cpp). */
    local: z.custom<LocalLlmOptions>((v) => typeof v === "object" && v !== null).optional(),
    /** Runs each call inside a trace span (core's `withSpan`). */
    tracer: z.custom<SpanRunner>((v) => typeof v === "function").optional(),
  })
  .strict();

export type CreateLlmOptions = z.input<typeof OptionsSchema>;

interface Wire {
  language: LanguageModelV3;
  embedding?: EmbeddingModelV3;
  capabilities: LlmCapabilities;
  keyEnv?: string;
}

function notConfigured(uri: string, envVar: string, what = "an API key"): QuintetError {
  return new QuintetError("PROVIDER_NOT_CONFIGURED", `${uri} needs ${what}, and ${envVar} is not set`, {
    hint: `Set ${envVar} (or pass it in the options to createLlm), or choose another model with QUINTET_LLM (e.g. ollama:qwen2.5, llama:./model.gguf).`,
    details: { uri, env: envVar },
  });
}

function trimSlash(u: string): string {
  return u.replace(/\/+$/, "");
}

function openAiCompatibleWire(
  name: string,
  model: string,
  baseURL: string,
  o: z.output<typeof OptionsSchema>,
  extra: { apiKey?: string; headers?: Record<string, string>; queryParams?: Record<string, string> },
): Wire {
  const provider = createOpenAICompatible({
    name,
    baseURL: trimSlash(baseURL),
    ...(extra.apiKey ? { apiKey: extra.apiKey } : {}),
    headers: { ...extra.headers, ...o.headers },
    ...(extra.queryParams ? { queryParams: extra.queryParams } : {}),
    ...(o.fetch ? { fetch: o.fetch } : {}),
    includeUsage: true,
    supportsStructuredOutputs: o.structuredOutputs ?? true,
  });
  return {
    language: provider.chatModel(model),
    embedding: provider.embeddingModel(o.embeddingModel ?? model),
    capabilities: { jsonSchema: o.structuredOutputs ?? true, tools: true, embeddings: true },
  };
}

function wireFor(provider: string, model: string, uri: string, o: z.output<typeof OptionsSchema>): Wire {
  const env = o.env ?? process.env;
  switch (provider) {
    case "openai": {
      const apiKey = o.apiKey ?? env.OPENAI_API_KEY;
      if (!apiKey) throw notConfigured(uri, "OPENAI_API_KEY");
      const baseURL = o.baseURL ?? env.OPENAI_BASE_URL;
      const p = createOpenAI({
        apiKey,
        ...(baseURL ? { baseURL: trimSlash(baseURL) } : {}),
        ...(o.headers ? { headers: o.headers } : {}),
        ...(o.fetch ? { fetch: o.fetch } : {}),
      });
      // Chat Completions rather than Responses: it is what every OpenAI-compatible server speaks.
      return {
        language: p.chat(model),
        embedding: p.embedding(o.embeddingModel ?? model),
        capabilities: { jsonSchema: true, tools: true, embeddings: true },
        keyEnv: "OPENAI_API_KEY",
      };
    }
    case "azure": {
      const apiKey = o.apiKey ?? env.AZURE_OPENAI_API_KEY;
      if (!apiKey) throw notConfigured(uri, "AZURE_OPENAI_API_KEY");
      const endpoint =
        o.baseURL ??
        (env.AZURE_OPENAI_ENDPOINT ? `${trimSlash(env.AZURE_OPENAI_ENDPOINT)}/openai/v1` : undefined) ??
        (env.AZURE_OPENAI_RESOURCE_NAME
          ? `https://${env.AZURE_OPENAI_RESOURCE_NAME}.openai.azure.com/openai/v1`
          : undefined);
      if (!endpoint) throw notConfigured(uri, "AZURE_OPENAI_ENDPOINT", "the resource endpoint");
      // Azure's v1 API takes the deployment name as the model and the key in `api-key`.
      const version = env.AZURE_OPENAI_API_VERSION;
      return {
        ...openAiCompatibleWire("azure", model, endpoint, o, {
          headers: { "api-key": apiKey },
          ...(version ? { queryParams: { "api-version": version } } : {}),
        }),
        keyEnv: "AZURE_OPENAI_API_KEY",
      };
    }
    case "ollama": {
      const host = env.OLLAMA_HOST
        ? `${trimSlash(env.OLLAMA_HOST.startsWith("http") ? env.OLLAMA_HOST : `http://${env.OLLAMA_HOST}`)}/v1`
        : undefined;
      const baseURL = o.baseURL ?? env.OLLAMA_BASE_URL ?? host ?? "http://127.0.0.1:11434/v1";
      return openAiCompatibleWire("ollama", model, baseURL, o, o.apiKey ? { apiKey: o.apiKey } : {});
    }
    case "openai-compatible": {
      const baseURL = o.baseURL ?? env.QUINTET_LLM_BASE_URL;
      if (!baseURL) throw notConfigured(uri, "QUINTET_LLM_BASE_URL", "a base URL (e.g. http://127.0.0.1:8000/v1)");
      const apiKey = o.apiKey ?? env.QUINTET_LLM_API_KEY;
      return {
        ...openAiCompatibleWire("openai-compatible", model, baseURL, o, apiKey ? { apiKey } : {}),
        keyEnv: "QUINTET_LLM_API_KEY",
      };
    }
    case "anthropic": {
      const apiKey = o.apiKey ?? env.ANTHROPIC_API_KEY;
      if (!apiKey) throw notConfigured(uri, "ANTHROPIC_API_KEY");
      const baseURL = o.baseURL ?? env.ANTHROPIC_BASE_URL;
      const p = createAnthropic({
        apiKey,
        ...(baseURL ? { baseURL: trimSlash(baseURL) } : {}),
        ...(o.headers ? { headers: o.headers } : {}),
        ...(o.fetch ? { fetch: o.fetch } : {}),
      });
      return {
        language: p.messages(model),
        capabilities: { jsonSchema: true, tools: true, embeddings: false },
        keyEnv: "ANTHROPIC_API_KEY",
      };
    }
    default:
      throw new ValidationError(`no wire protocol for provider ${provider}`);
  }
}

/**
 * A `llama:` client that loads node-llama-cpp and the model on first use, so that merely
 * creating (or configuring) one costs nothing and the native module stays unloaded
 * for users of remote providers.
 */
class LazyLocalClient implements LlmClient {
  readonly capabilities: LlmCapabilities = { jsonSchema: true, tools: true, embeddings: true };
  private client: Promise<LocalLlmClient> | undefined;

  constructor(
    readonly uri: string,
    private readonly path: string,
    private readonly options: LocalLlmOptions | undefined,
  ) {}

  private open(): Promise<LocalLlmClient> {
    this.client ??= import("./local/index.js").then((m) => m.createLocalLlm(this.path, this.options ?? {}));
    // A failed load (missing file) is not cached, so fixing the path and retrying works.
    this.client.catch(() => {
      this.client = undefined;
    });
    return this.client;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    return (await this.open()).generate(request);
  }

  async *stream(request: GenerateRequest): AsyncGenerator<StreamEvent> {
    yield* (await this.open()).stream(request);
  }

  async embed(request: EmbedRequest): Promise<EmbedResult> {
    return (await this.open()).embed(request);
  }

  /** Frees the model's contexts if it was loaded. */
  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await (await c).close();
  }
}

/**
 * A client for a model URI: `openai:<model>`, `azure:<deployment>`, `anthropic:<model>`,
 * `ollama:<model>`, `openai-compatible:<model>` (with a base URL) or `llama:<path.gguf>`.
 * Keys and endpoints come from the options, else the environment (see docs/llm.md).
 *
 * @throws ValidationError for an unknown scheme; QuintetError(PROVIDER_NOT_CONFIGURED) naming the variable to set.
 */
export function createLlm(uri: string, options: CreateLlmOptions = {}): LlmClient {
  const parsedUri = parseModelUri(uri);
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid createLlm options: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      { hint: "See CreateLlmOptions: apiKey, baseURL, headers, fetch, retry, timeoutMs, prices, env." },
    );
  }
  const o = parsed.data;
  const tracer = o.tracer ?? defaultSpanRunner;
  if (parsedUri.provider === "llama") {
    return new TracedLlmClient(new LazyLocalClient(parsedUri.uri, parsedUri.model, o.local), tracer);
  }
  const wire = wireFor(parsedUri.provider, parsedUri.model, parsedUri.uri, o);
  const prices = resolvePrices(o.prices, o.env ?? process.env);
  const client = new SdkLlmClient({
    target: { uri: parsedUri.uri, provider: parsedUri.provider, ...(wire.keyEnv ? { keyEnv: wire.keyEnv } : {}) },
    language: wire.language,
    ...(wire.embedding ? { embedding: wire.embedding } : {}),
    capabilities: wire.capabilities,
    retry: RetryOptionsSchema.parse(o.retry ?? {}),
    timeoutMs: o.timeoutMs,
    price: findPrice(prices, parsedUri.provider, parsedUri.model),
    embeddingPrice: findPrice(prices, parsedUri.provider, o.embeddingModel ?? parsedUri.model),
  });
  return new TracedLlmClient(client, tracer);
}

/**
 * The model configured by `QUINTET_LLM` (e.g. `openai:gpt-4o-mini`, `ollama:qwen2.5`,
 * `llama:./model.gguf`), for features that need generation but were given no client.
 *
 * @throws QuintetError(PROVIDER_NOT_CONFIGURED) saying how to configure one when unset.
 */
export function createLlmFromEnv(options: CreateLlmOptions = {}): LlmClient {
  const env = options.env ?? process.env;
  const uri = env.QUINTET_LLM?.trim();
  if (!uri) {
    throw new QuintetError("PROVIDER_NOT_CONFIGURED", "no language model is configured (QUINTET_LLM is not set)", {
      hint: "Set QUINTET_LLM to a model URI: openai:gpt-4o-mini (with OPENAI_API_KEY), anthropic:claude-3-5-haiku-latest (with ANTHROPIC_API_KEY), ollama:qwen2.5, or llama:./model.gguf.",
    });
  }
  return createLlm(uri, options);
}
