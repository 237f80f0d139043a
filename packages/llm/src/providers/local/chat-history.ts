import { ValidationError } from "@quintet/core";
import type { ChatHistoryItem, ChatModelFunctionCall } from "node-llama-cpp";
import type { ChatMessage } from "../types.js";

/**
 * Map provider-neutral messages onto node-llama-cpp's chat history, ending with an open
 * model turn for the answer. Tool results are attached to the call they answer, because
 * node-llama-cpp renders a call and its result together through the model's chat wrapper.
 */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  if (messages.length === 0) {
    throw new ValidationError("A generate request needs at least one message.", {
      hint: 'Pass messages: [{ role: "user", content: "..." }].',
    });
  }
  const history: ChatHistoryItem[] = [];
  const pendingCalls = new Map<string, ChatModelFunctionCall>();
  for (const [i, m] of messages.entries()) {
    switch (m.role) {
      case "system":
        history.push({ type: "system", text: m.content });
        break;
      case "user":
        history.push({ type: "user", text: m.content });
        break;
      case "assistant": {
        const response: (string | ChatModelFunctionCall)[] = [];
        if (m.content) response.push(m.content);
        for (const call of m.toolCalls ?? []) {
          const item: ChatModelFunctionCall = {
            type: "functionCall",
            name: call.name,
            params: call.arguments,
            result: "",
          };
          pendingCalls.set(call.id, item);
          response.push(item);
        }
        history.push({ type: "model", response });
        break;
      }
      case "tool": {
        const call = pendingCalls.get(m.toolCallId);
        if (!call) {
          throw new ValidationError(
            `messages[${i}] is a tool result for call "${m.toolCallId}", but no earlier assistant message made that call.`,
            { hint: "Send the assistant message with its toolCalls before the tool results that answer them." },
          );
        }
        call.result = m.content;
        pendingCalls.delete(m.toolCallId);
        break;
      }
    }
  }
  // A trailing model turn is continued: after tool results that is how node-llama-cpp
  // lets the model answer them, and after plain text it is a prefill.
  if (history.at(-1)?.type !== "model") history.push({ type: "model", response: [] });
  return history;
}
