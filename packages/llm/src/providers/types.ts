/**
 * The contract between Quintet and any language-model provider. Everything above the LLM
 * layer (structured output, tools, guards, RAG, agents, the gateway) talks to a model
 * only through {@link LlmClient}.
 */

export type Role = "system" | "user" | "assistant" | "tool";

export interface ToolCall {
  /** Provider-assigned id that the tool result must echo. */
  id: string;
  name: string;
  /** Parsed JSON arguments as the model sent them (not yet validated). */
  arguments: unknown;
}

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: ToolCall[] }
  | { role: "tool"; toolCallId: string; name: string; content: string };

/** A tool as the model sees it: name, description and JSON Schema of its arguments. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface GenerateRequest {
  messages: ChatMessage[];
  tools?: ToolSpec[];
  toolChoice?: "auto" | "none" | "required" | { name: string };
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stop?: string[];
  seed?: number;
  /** Ask for JSON; with a schema, providers that support it constrain the output to it. */
  responseFormat?: { type: "text" } | { type: "json"; schema?: Record<string, unknown>; name?: string };
  signal?: AbortSignal;
  /** Free-form labels copied onto the trace span (prompt version, caller). */
  metadata?: Record<string, string>;
}

export type FinishReason = "stop" | "length" | "tool-calls" | "content-filter" | "error" | "other";

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  /** Of `inputTokens`, how many the provider served from its prompt cache (priced lower). */
  cachedInputTokens?: number;
}

export interface GenerateResult {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
  /** Cost in US dollars from the price table; undefined when the model has no price. */
  costUsd: number | undefined;
  /** The model URI that answered, e.g. `openai:gpt-4o-mini`. */
  model: string;
  latencyMs: number;
  /** HTTP attempts this call took (1 when no retry was needed). */
  attempts?: number;
}

export type StreamEvent =
  | { type: "text-delta"; delta: string }
  | { type: "tool-call"; toolCall: ToolCall }
  | { type: "finish"; result: GenerateResult };

export interface EmbedRequest {
  texts: string[];
  signal?: AbortSignal;
}

export interface EmbedResult {
  vectors: Float32Array[];
  usage: { inputTokens: number };
  model: string;
  /** Cost in US dollars from the price table; undefined when the model has no price. */
  costUsd?: number;
  /** HTTP attempts this call took, summed over batches. */
  attempts?: number;
}

/** What a client can do natively; callers (structured output) pick their strategy from it. */
export interface LlmCapabilities {
  /** Output constrained to a JSON Schema (`responseFormat: { type: "json", schema }`). */
  jsonSchema: boolean;
  /** Function/tool calling. */
  tools: boolean;
  embeddings: boolean;
}

/** One configured model, chosen by a URI such as `openai:gpt-4o-mini` or `llama:./m.gguf`. */
export interface LlmClient {
  readonly uri: string;
  /** Absent means unknown: callers should fall back to prompting. */
  readonly capabilities?: LlmCapabilities;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  stream(request: GenerateRequest): AsyncIterable<StreamEvent>;
  /** Present when the provider offers embeddings. */
  embed?(request: EmbedRequest): Promise<EmbedResult>;
}
