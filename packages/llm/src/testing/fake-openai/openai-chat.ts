import type { ServerResponse } from "node:http";
import { countTokens } from "./embeddings.js";
import type { CompletionReply } from "./replies.js";
import { argumentsText, completionTokens, fragments, newId, SseWriter, sendJson, textChunks } from "./sse.js";

/** Token count of a chat-completions request body (messages, and tool definitions). */
export function chatPromptTokens(body: Record<string, unknown>): number {
  let n = 0;
  for (const m of (body.messages as { content?: unknown }[] | undefined) ?? []) {
    n += 3 + countTokens(typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? ""));
  }
  if (body.tools) n += countTokens(JSON.stringify(body.tools));
  return n;
}

function finishReason(reply: CompletionReply): string {
  return reply.finishReason ?? (reply.toolCalls?.length ? "tool_calls" : "stop");
}

function usageOf(body: Record<string, unknown>, reply: CompletionReply) {
  const prompt = reply.usage?.inputTokens ?? chatPromptTokens(body);
  const completion = reply.usage?.outputTokens ?? completionTokens(reply);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

interface WireToolCall {
  id: string;
  name: string;
  args: string;
}

function wireToolCalls(reply: CompletionReply): WireToolCall[] {
  return (reply.toolCalls ?? []).map((c) => ({
    id: c.id ?? newId("call_"),
    name: c.name,
    args: argumentsText(c.arguments),
  }));
}

/** A non-streamed `chat.completion` object. */
export function sendChatCompletion(res: ServerResponse, body: Record<string, unknown>, reply: CompletionReply): void {
  const calls = wireToolCalls(reply);
  sendJson(res, 200, {
    id: newId("chatcmpl-"),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: String(body.model),
    system_fingerprint: "fp_quintet_fake",
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: reply.content ?? null,
          refusal: null,
          annotations: [],
          ...(calls.length
            ? {
                tool_calls: calls.map((c) => ({
                  id: c.id,
                  type: "function",
                  function: { name: c.name, arguments: c.args },
                })),
              }
            : {}),
        },
        logprobs: null,
        finish_reason: finishReason(reply),
      },
    ],
    usage: usageOf(body, reply),
    service_tier: "default",
  });
}

/**
 * A streamed completion in OpenAI's chunk format: a role chunk, content deltas, tool-call
 * deltas (the first fragment of each call carries index, id, type and name; the rest only
 * index and an arguments fragment), a finish chunk, the usage chunk with empty choices
 * when `stream_options.include_usage` is set, then `data: [DONE]`.
 */
export async function streamChatCompletion(
  res: ServerResponse,
  body: Record<string, unknown>,
  reply: CompletionReply,
): Promise<void> {
  const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
  const base = {
    id: newId("chatcmpl-"),
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model: String(body.model),
    system_fingerprint: "fp_quintet_fake",
    service_tier: "default",
  };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    JSON.stringify({
      ...base,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    });

  const w = new SseWriter(res, reply);
  if (!(await w.send(chunk({ role: "assistant", content: "", refusal: null })))) return;
  for (const piece of textChunks(reply)) {
    if (!(await w.send(chunk({ content: piece })))) return;
  }
  const calls = wireToolCalls(reply);
  for (const [index, c] of calls.entries()) {
    const head = { index, id: c.id, type: "function", function: { name: c.name, arguments: "" } };
    if (!(await w.send(chunk({ tool_calls: [head] })))) return;
    for (const frag of fragments(c.args)) {
      if (!(await w.send(chunk({ tool_calls: [{ index, function: { arguments: frag } }] })))) return;
    }
  }
  if (!(await w.send(chunk({}, finishReason(reply))))) return;
  if (includeUsage && !(await w.send(JSON.stringify({ ...base, choices: [], usage: usageOf(body, reply) })))) return;
  if (!(await w.send("[DONE]"))) return;
  w.end();
}
