import type {
  JSONSchema7,
  LanguageModelV3CallOptions,
  LanguageModelV3Content,
  LanguageModelV3FinishReason,
  LanguageModelV3Message,
  LanguageModelV3Prompt,
  LanguageModelV3Usage,
} from "@ai-sdk/provider";
import { ValidationError } from "@quintet/core";
import type { ChatMessage, FinishReason, GenerateRequest, ToolCall, Usage } from "./types.js";

/** Our chat messages in the AI SDK's provider-level prompt format. Consecutive tool results share one message. */
export function toPrompt(messages: ChatMessage[]): LanguageModelV3Prompt {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new ValidationError("a generate request needs at least one message", {
      hint: 'Pass messages: [{ role: "user", content: "..." }].',
    });
  }
  const prompt: LanguageModelV3Prompt = [];
  for (const [i, m] of messages.entries()) {
    switch (m.role) {
      case "system":
        prompt.push({ role: "system", content: m.content });
        break;
      case "user":
        prompt.push({ role: "user", content: [{ type: "text", text: m.content }] });
        break;
      case "assistant": {
        const content: Extract<LanguageModelV3Message, { role: "assistant" }>["content"] = [];
        if (m.content) content.push({ type: "text", text: m.content });
        for (const c of m.toolCalls ?? []) {
          content.push({ type: "tool-call", toolCallId: c.id, toolName: c.name, input: c.arguments ?? {} });
        }
        prompt.push({ role: "assistant", content });
        break;
      }
      case "tool": {
        const part = {
          type: "tool-result" as const,
          toolCallId: m.toolCallId,
          toolName: m.name,
          output: { type: "text" as const, value: m.content },
        };
        const last = prompt.at(-1);
        if (last?.role === "tool") last.content.push(part);
        else prompt.push({ role: "tool", content: [part] });
        break;
      }
      default:
        throw new ValidationError(`message ${i} has unknown role "${(m as { role: unknown }).role}"`, {
          hint: "Roles are system, user, assistant and tool.",
        });
    }
  }
  return prompt;
}

/** The provider-independent call options for a request (everything but the abort signal). */
export function toCallOptions(req: GenerateRequest): Omit<LanguageModelV3CallOptions, "abortSignal"> {
  const opts: Omit<LanguageModelV3CallOptions, "abortSignal"> = { prompt: toPrompt(req.messages) };
  if (req.temperature !== undefined) opts.temperature = req.temperature;
  if (req.topP !== undefined) opts.topP = req.topP;
  if (req.maxOutputTokens !== undefined) opts.maxOutputTokens = req.maxOutputTokens;
  if (req.stop?.length) opts.stopSequences = req.stop;
  if (req.seed !== undefined) opts.seed = req.seed;
  if (req.tools?.length) {
    // No `execute` anywhere: the SDK only carries the calls back; we run tools ourselves.
    opts.tools = req.tools.map((t) => ({
      type: "function" as const,
      name: t.name,
      description: t.description,
      inputSchema: t.parameters as JSONSchema7,
    }));
  }
  if (req.toolChoice !== undefined) {
    opts.toolChoice =
      typeof req.toolChoice === "string" ? { type: req.toolChoice } : { type: "tool", toolName: req.toolChoice.name };
  }
  if (req.responseFormat?.type === "json") {
    opts.responseFormat = {
      type: "json",
      ...(req.responseFormat.schema ? { schema: req.responseFormat.schema as JSONSchema7 } : {}),
      ...(req.responseFormat.name ? { name: req.responseFormat.name } : {}),
    };
  }
  return opts;
}

/** Tool-call arguments parsed from the model's JSON text; unparseable text is kept as the raw string so callers can report it. */
export function parseArguments(input: string): unknown {
  if (input.trim() === "") return {};
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

export function fromContent(content: LanguageModelV3Content[]): { text: string; toolCalls: ToolCall[] } {
  let text = "";
  const toolCalls: ToolCall[] = [];
  for (const part of content) {
    if (part.type === "text") text += part.text;
    else if (part.type === "tool-call" && !part.providerExecuted) {
      toolCalls.push({ id: part.toolCallId, name: part.toolName, arguments: parseArguments(part.input) });
    }
  }
  return { text, toolCalls };
}

export function fromFinishReason(r: LanguageModelV3FinishReason | undefined): FinishReason {
  return r?.unified ?? "other";
}

/** Usage in our shape, plus the cache-write count the price table needs. */
export function fromUsage(u: LanguageModelV3Usage | undefined): Usage & { cacheWriteTokens?: number } {
  const input = u?.inputTokens.total ?? 0;
  const output = u?.outputTokens.total ?? 0;
  const usage: Usage & { cacheWriteTokens?: number } = {
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output,
  };
  if (u?.inputTokens.cacheRead) usage.cachedInputTokens = u.inputTokens.cacheRead;
  if (u?.inputTokens.cacheWrite) usage.cacheWriteTokens = u.inputTokens.cacheWrite;
  return usage;
}
