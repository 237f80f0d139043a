/**
 * What a scripted fake-server reply can be. One shape serves both the OpenAI chat
 * completions endpoint and the Anthropic Messages endpoint: the server renders it in the
 * wire format of whichever endpoint was called, streamed or not as the client asked.
 */

/** A tool call the fake model makes. `arguments` may be a value (sent as JSON) or a raw string (sent verbatim, so tests can send broken JSON). */
export interface ScriptedToolCall {
  name: string;
  arguments: unknown;
  /** Default: a fresh `call_…` / `toolu_…` id. */
  id?: string;
}

/** A successful completion. */
export interface CompletionReply {
  content?: string;
  toolCalls?: ScriptedToolCall[];
  /** OpenAI spelling (`stop`, `length`, `tool_calls`, `content_filter`); default from the content. */
  finishReason?: "stop" | "length" | "tool_calls" | "content_filter";
  /** Token counts to report; default: counted from the request and the reply. */
  usage?: { inputTokens: number; outputTokens: number };
  /** How streamed text is cut into deltas; default: one word (with its following space) per chunk. */
  chunks?: string[];
  /** Pause between streamed chunks. */
  chunkDelayMs?: number;
  /** Streaming only: send this many chunks, then hold the connection open until the client leaves or the server closes. */
  hangAfterChunks?: number;
}

/** An HTTP error in the provider's error shape (`{ error: { message, type, code } }` for OpenAI). */
export interface ErrorReply {
  status: number;
  message?: string;
  type?: string;
  code?: string | null;
  /** The request parameter the error is about (OpenAI's `error.param`). */
  param?: string | null;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** Milliseconds, sent as `retry-after-ms` (OpenAI's header). */
  retryAfterMs?: number;
  headers?: Record<string, string>;
}

/** Never answer: the request stays open until the client gives up or the server closes. */
export interface HangReply {
  hang: true;
}

/** An arbitrary body, e.g. a 200 whose body is not JSON. */
export interface RawReply {
  raw: string;
  status?: number;
  contentType?: string;
}

export type ChatReply = CompletionReply | ErrorReply | HangReply | RawReply;

/** An embeddings reply: vectors computed by the server (default), or an error/hang/raw body. */
export type EmbeddingsReply = { vectors: number[][] } | ErrorReply | HangReply | RawReply;

/** The scripted outcome of the next fine-tuning job created. */
export interface FineTuneScript {
  /** Default `succeeded`. */
  outcome?: "succeeded" | "failed";
  error?: { code: string; message: string; param?: string | null };
  /** Polls (GET /fine_tuning/jobs/:id) spent in each of queued and running; default 1. */
  pollsPerStage?: number;
  /** Training steps, each reported as a metrics event spread over the running polls; default 1. */
  steps?: number;
}

export function isErrorReply(r: object): r is ErrorReply {
  return typeof (r as ErrorReply).status === "number" && !("raw" in r);
}

export function isHangReply(r: object): r is HangReply {
  return (r as HangReply).hang === true;
}

export function isRawReply(r: object): r is RawReply {
  return typeof (r as RawReply).raw === "string";
}
