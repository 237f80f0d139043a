import type { ServerResponse } from "node:http";
import { countTokens } from "./embeddings.js";
import type { CompletionReply } from "./replies.js";
import { argumentsText, completionTokens, fragments, newId, SseWriter, sendJson, textChunks } from "./sse.js";

function promptTokens(body: Record<string, unknown>): number {
  let n = 0;
  if (body.system) n += countTokens(typeof body.system === "string" ? body.system : JSON.stringify(body.system));
  for (const m of (body.messages as { content?: unknown }[] | undefined) ?? []) {
    n += 3 + countTokens(typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? ""));
  }
  if (body.tools) n += countTokens(JSON.stringify(body.tools));
  return n;
}

const STOP_REASON: Record<string, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  content_filter: "refusal",
};

function stopReason(reply: CompletionReply): string {
  if (reply.finishReason) return STOP_REASON[reply.finishReason]!;
  return reply.toolCalls?.length ? "tool_use" : "end_turn";
}

/** Anthropic's error `type` for an HTTP status. */
export function anthropicErrorType(status: number): string {
  if (status === 400) return "invalid_request_error";
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413) return "request_too_large";
  if (status === 429) return "rate_limit_error";
  if (status === 529) return "overloaded_error";
  return "api_error";
}

function toolInput(args: unknown): unknown {
  if (typeof args !== "string") return args ?? {};
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

export function sendMessage(res: ServerResponse, body: Record<string, unknown>, reply: CompletionReply): void {
  const content: unknown[] = [];
  if (reply.content) content.push({ type: "text", text: reply.content });
  for (const c of reply.toolCalls ?? []) {
    content.push({ type: "tool_use", id: c.id ?? newId("toolu_"), name: c.name, input: toolInput(c.arguments) });
  }
  sendJson(res, 200, {
    id: newId("msg_"),
    type: "message",
    role: "assistant",
    model: String(body.model),
    content,
    stop_reason: stopReason(reply),
    stop_sequence: null,
    usage: {
      input_tokens: reply.usage?.inputTokens ?? promptTokens(body),
      output_tokens: reply.usage?.outputTokens ?? completionTokens(reply),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
  });
}

/**
 * Anthropic's event stream: message_start, per content block a start, deltas
 * (`text_delta` / `input_json_delta`) and a stop, then message_delta with the stop
 * reason and output tokens, then message_stop.
 */
export async function streamMessage(
  res: ServerResponse,
  body: Record<string, unknown>,
  reply: CompletionReply,
): Promise<void> {
  const w = new SseWriter(res, reply);
  const ev = (type: string, data: Record<string, unknown>) => w.send(JSON.stringify({ type, ...data }), type);
  const message = {
    id: newId("msg_"),
    type: "message",
    role: "assistant",
    model: String(body.model),
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: reply.usage?.inputTokens ?? promptTokens(body), output_tokens: 1 },
  };
  if (!(await ev("message_start", { message }))) return;
  if (!(await ev("ping", {}))) return;
  let index = 0;
  const chunks = textChunks(reply);
  if (chunks.length) {
    if (!(await ev("content_block_start", { index, content_block: { type: "text", text: "" } }))) return;
    for (const text of chunks) {
      if (!(await ev("content_block_delta", { index, delta: { type: "text_delta", text } }))) return;
    }
    if (!(await ev("content_block_stop", { index }))) return;
    index++;
  }
  for (const c of reply.toolCalls ?? []) {
    const block = { type: "tool_use", id: c.id ?? newId("toolu_"), name: c.name, input: {} };
    if (!(await ev("content_block_start", { index, content_block: block }))) return;
    for (const partial_json of fragments(argumentsText(c.arguments))) {
      if (!(await ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } }))) return;
    }
    if (!(await ev("content_block_stop", { index }))) return;
    index++;
  }
  const output = reply.usage?.outputTokens ?? completionTokens(reply);
  if (
    !(await ev("message_delta", {
      delta: { stop_reason: stopReason(reply), stop_sequence: null },
      usage: { output_tokens: output },
    }))
  )
    return;
  if (!(await ev("message_stop", {}))) return;
  w.end();
}
