import { ValidationError } from "@quintet/core";
import { type ChatMessage, countChatTokens } from "@quintet/llm";

export interface WorkingMemoryOptions {
  /** The context budget: above this many tokens, older messages are summarised. */
  maxTokens: number;
  /** Messages at the end that are never summarised (default 6). */
  keepRecent?: number;
  /** Model name or URI whose tokenizer counts tokens (default gpt-4o-mini). */
  tokenizer?: string;
}

/** A decision to condense `messages[start, end)` into one summary message. */
export interface CompactionPlan {
  start: number;
  end: number;
  /** The condensed part as text, for the summariser. */
  transcript: string;
  tokensBefore: number;
}

export const SUMMARY_PREFIX = "Summary of the earlier part of this conversation (condensed to fit the context):";

/** The system prompt for the summariser call. */
export const SUMMARISER_INSTRUCTIONS =
  "You condense an agent's working history so it can continue its task. Keep every fact it learned (names, numbers, ids, results of tool calls), the decisions made and why, what failed, and what is left to do. Write plain sentences, no preamble, at most 200 words.";

function render(m: ChatMessage): string {
  if (m.role === "tool") return `[tool ${m.name} result] ${m.content}`;
  if (m.role === "assistant" && m.toolCalls?.length) {
    const calls = m.toolCalls.map((c) => `${c.name}(${JSON.stringify(c.arguments)})`).join(", ");
    return `[assistant] ${m.content ? `${m.content} ` : ""}called ${calls}`;
  }
  return `[${m.role}] ${m.content}`;
}

/**
 * Working memory: the messages an agent sends to its model, kept within a token budget.
 * When the conversation grows past `maxTokens`, the older middle of it (after the
 * instructions and the task, before the most recent messages) is summarised by the model
 * into one message. A tool call and its results are never separated.
 */
export class WorkingMemory {
  readonly maxTokens: number;
  readonly keepRecent: number;
  private readonly tokenizer: string;

  constructor(options: WorkingMemoryOptions) {
    if (!Number.isInteger(options.maxTokens) || options.maxTokens < 64) {
      throw new ValidationError(`working memory maxTokens must be an integer >= 64, got ${options.maxTokens}`, {
        hint: "Set it below the model's context window, e.g. 8000.",
      });
    }
    const keep = options.keepRecent ?? 6;
    if (!Number.isInteger(keep) || keep < 1) {
      throw new ValidationError(`working memory keepRecent must be a positive integer, got ${keep}`, {
        hint: "The default is 6 messages.",
      });
    }
    this.maxTokens = options.maxTokens;
    this.keepRecent = keep;
    this.tokenizer = options.tokenizer ?? "gpt-4o-mini";
  }

  /** Tokens of a conversation as the model is billed for it (tool calls counted by their JSON). */
  tokens(messages: readonly ChatMessage[]): number {
    return countChatTokens(
      messages.map((m) => ({
        role: m.role,
        content:
          m.role === "assistant" && m.toolCalls?.length ? `${m.content}${JSON.stringify(m.toolCalls)}` : m.content,
      })),
      this.tokenizer,
    );
  }

  /** What to condense, or undefined when the messages fit (or nothing can be condensed). */
  plan(messages: readonly ChatMessage[]): CompactionPlan | undefined {
    const tokensBefore = this.tokens(messages);
    if (tokensBefore <= this.maxTokens) return undefined;
    let start = 0;
    while (start < messages.length && messages[start]!.role === "system") start++;
    // The task itself stays verbatim; an earlier summary right after it is folded into the new one.
    if (messages[start]?.role === "user" && !messages[start]!.content.startsWith(SUMMARY_PREFIX)) start++;
    let end = messages.length - this.keepRecent;
    // Never cut between an assistant's tool calls and their results.
    while (end > start && messages[end]?.role === "tool") end--;
    if (end - start < 2) return undefined;
    const transcript = messages.slice(start, end).map(render).join("\n");
    return { start, end, transcript, tokensBefore };
  }

  /** The messages with the planned span replaced by the summary. */
  apply(messages: readonly ChatMessage[], plan: CompactionPlan, summary: string): ChatMessage[] {
    return [
      ...messages.slice(0, plan.start),
      { role: "user", content: `${SUMMARY_PREFIX}\n${summary}` },
      ...messages.slice(plan.end),
    ];
  }
}
