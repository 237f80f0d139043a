import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { countTokens } from "./embeddings.js";
import type { CompletionReply, ErrorReply } from "./replies.js";

export function newId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString("hex")}`;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function errorHeaders(reply: ErrorReply): Record<string, string> {
  return {
    ...(reply.retryAfter !== undefined ? { "retry-after": String(reply.retryAfter) } : {}),
    ...(reply.retryAfterMs !== undefined ? { "retry-after-ms": String(reply.retryAfterMs) } : {}),
    ...reply.headers,
  };
}

/** Default OpenAI error `type` for a status, as the real API names them. */
export function openAiErrorType(status: number): string {
  if (status === 401) return "invalid_request_error";
  if (status === 404) return "invalid_request_error";
  if (status === 429) return "rate_limit_exceeded";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** Text cut into stream deltas: the scripted chunks, else one word and its trailing space at a time. */
export function textChunks(reply: CompletionReply): string[] {
  if (reply.chunks) return reply.chunks;
  const text = reply.content ?? "";
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/** JSON arguments as the model would send them: a scripted string verbatim, anything else serialised. */
export function argumentsText(args: unknown): string {
  return typeof args === "string" ? args : JSON.stringify(args ?? {});
}

/** Splits a string into fragments of at most `size` characters (tool-argument deltas). */
export function fragments(s: string, size = 7): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out.length ? out : [""];
}

export function completionTokens(reply: CompletionReply): number {
  let n = countTokens(reply.content ?? "");
  for (const c of reply.toolCalls ?? []) n += countTokens(c.name) + countTokens(argumentsText(c.arguments));
  return n;
}

/**
 * Writes server-sent events, pausing between them as scripted, and stopping (without
 * ending the response) when the script says to hang. Resolves false if the client left.
 */
export class SseWriter {
  private sent = 0;
  constructor(
    private readonly res: ServerResponse,
    private readonly reply: CompletionReply,
  ) {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    res.flushHeaders();
  }

  /** Sends one event; returns false when the stream must stop here (client gone or scripted hang). */
  async send(data: string, event?: string): Promise<boolean> {
    if (this.res.destroyed || this.res.writableEnded) return false;
    if (this.reply.hangAfterChunks !== undefined && this.sent >= this.reply.hangAfterChunks) return false;
    if (this.sent > 0 && this.reply.chunkDelayMs) await sleep(this.reply.chunkDelayMs);
    if (this.res.destroyed) return false;
    this.res.write(`${event ? `event: ${event}\n` : ""}data: ${data}\n\n`);
    this.sent++;
    return true;
  }

  end(): void {
    if (!this.res.destroyed) this.res.end();
  }
}
