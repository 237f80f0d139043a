import { ValidationError } from "@quintet/core";
import type { ChatMessage } from "../providers/types.js";

/** One line of an OpenAI chat fine-tuning file: `{"messages":[…]}`. */
export interface ChatExample {
  messages: Array<{ role: "system" | "user" | "assistant"; content: string; weight?: 0 | 1 }>;
}

/** An example with where it came from (kept out of the JSONL, used for stratified splits). */
export interface SourcedExample extends ChatExample {
  source: "trace" | "feedback" | "eval" | "file";
  /** Trace/span id, feedback id or eval case id. */
  ref?: string;
}

/**
 * The span attributes {@link examplesFromTraces} reads from `llm.call` spans:
 * - `llm.request.messages`: the request messages, as a JSON string or an array of ChatMessage;
 * - `llm.response.text`: the assistant's reply text;
 * - `llm.finish_reason` (optional): rows with `length`, `error` or `content-filter` are skipped.
 */
export const TRACE_ATTRIBUTES = {
  messages: "llm.request.messages",
  response: "llm.response.text",
  finishReason: "llm.finish_reason",
} as const;

/** The fields of a trace span row this module needs (structural, so any SpanQuery row fits). */
export interface TraceRow {
  kind: string;
  spanId?: string;
  traceId?: string;
  status?: string;
  attributes: Record<string, unknown>;
}

function toTrainingMessages(messages: readonly ChatMessage[]): ChatExample["messages"] | undefined {
  const out: ChatExample["messages"] = [];
  for (const m of messages) {
    // Tool turns and tool calls are not part of the plain chat format; such conversations are skipped.
    if (m.role === "tool" || (m.role === "assistant" && m.toolCalls?.length)) return undefined;
    out.push({ role: m.role, content: m.content });
  }
  return out;
}

function parseMessages(value: unknown): ChatMessage[] | undefined {
  let v = value;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(v)) return undefined;
  const ok = v.every(
    (m) =>
      m &&
      typeof m === "object" &&
      typeof (m as { role?: unknown }).role === "string" &&
      (typeof (m as { content?: unknown }).content === "string" || (m as { role: string }).role === "tool"),
  );
  return ok ? (v as ChatMessage[]) : undefined;
}

export interface FromTracesResult {
  examples: SourcedExample[];
  skipped: Array<{ ref: string | undefined; reason: string }>;
}

/**
 * Builds examples from traced LLM calls: request messages + the reply as the final assistant
 * turn. Skips failed calls, truncated replies, tool conversations and rows missing the
 * attributes in {@link TRACE_ATTRIBUTES}, reporting why.
 */
export function examplesFromTraces(
  rows: readonly TraceRow[],
  options: { filter?: (row: TraceRow) => boolean } = {},
): FromTracesResult {
  const examples: SourcedExample[] = [];
  const skipped: FromTracesResult["skipped"] = [];
  for (const row of rows) {
    const ref = row.spanId ?? row.traceId;
    if (row.kind !== "llm.call") continue;
    if (options.filter && !options.filter(row)) continue;
    if (row.status === "error") {
      skipped.push({ ref, reason: "the call failed" });
      continue;
    }
    const finish = row.attributes[TRACE_ATTRIBUTES.finishReason];
    if (finish === "length" || finish === "error" || finish === "content-filter") {
      skipped.push({ ref, reason: `finish reason ${finish}` });
      continue;
    }
    const messages = parseMessages(row.attributes[TRACE_ATTRIBUTES.messages]);
    const response = row.attributes[TRACE_ATTRIBUTES.response];
    if (!messages) {
      skipped.push({ ref, reason: `missing or malformed ${TRACE_ATTRIBUTES.messages}` });
      continue;
    }
    if (typeof response !== "string" || !response.trim()) {
      skipped.push({ ref, reason: `missing ${TRACE_ATTRIBUTES.response}` });
      continue;
    }
    const train = toTrainingMessages(messages);
    if (!train) {
      skipped.push({ ref, reason: "tool-call conversations are not supported in chat fine-tuning files" });
      continue;
    }
    examples.push({
      messages: [...train, { role: "assistant", content: response }],
      source: "trace",
      ...(ref ? { ref } : {}),
    });
  }
  return { examples, skipped };
}

export interface FeedbackRecord {
  id?: string;
  messages: ChatMessage[];
  output: string;
  /** `good`/`bad`, thumbs (true/false), or a 1–5 score. */
  rating: "good" | "bad" | boolean | number;
  /** A corrected output; makes a badly rated record usable. */
  correction?: string;
}

/** Keeps well-rated replies (good, thumbs up, or score ≥ `minScore`, default 4) and corrected bad ones. */
export function examplesFromFeedback(
  records: readonly FeedbackRecord[],
  options: { minScore?: number } = {},
): SourcedExample[] {
  const minScore = options.minScore ?? 4;
  const out: SourcedExample[] = [];
  for (const r of records) {
    const good = r.rating === "good" || r.rating === true || (typeof r.rating === "number" && r.rating >= minScore);
    const output = r.correction?.trim() ? r.correction : good ? r.output : undefined;
    if (!output) continue;
    const train = toTrainingMessages(r.messages);
    if (!train) continue;
    out.push({
      messages: [...train, { role: "assistant", content: output }],
      source: "feedback",
      ...(r.id ? { ref: r.id } : {}),
    });
  }
  return out;
}

export interface EvalFailure {
  id?: string;
  /** The input: a user message, or the full conversation. */
  input: string | ChatMessage[];
  system?: string;
  /** The corrected (expected) output the model should have given. */
  corrected: string;
}

/** Turns failed eval cases with corrected outputs into examples that teach the fix. */
export function examplesFromEvalFailures(failures: readonly EvalFailure[]): SourcedExample[] {
  return failures.flatMap((f) => {
    const base: ChatMessage[] = typeof f.input === "string" ? [{ role: "user", content: f.input }] : f.input;
    const withSystem: ChatMessage[] =
      f.system && base[0]?.role !== "system" ? [{ role: "system", content: f.system }, ...base] : base;
    const train = toTrainingMessages(withSystem);
    if (!train || !f.corrected.trim()) return [];
    return [
      {
        messages: [...train, { role: "assistant" as const, content: f.corrected }],
        source: "eval" as const,
        ...(f.id ? { ref: f.id } : {}),
      },
    ];
  });
}

/** Serialises examples as JSONL, one `{"messages":[…]}` per line (source metadata is dropped). */
export function toJsonl(examples: readonly ChatExample[]): string {
  return examples.map((e) => JSON.stringify({ messages: e.messages })).join("\n") + (examples.length ? "\n" : "");
}

export interface JsonlLine {
  line: number;
  value: unknown;
  error?: string;
}

/** Parses JSONL keeping 1-based line numbers; blank lines are skipped, bad JSON is reported per line. */
export function parseJsonl(text: string): JsonlLine[] {
  if (typeof text !== "string")
    throw new ValidationError("JSONL input must be a string", { hint: "Read the file as UTF-8 text." });
  const out: JsonlLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (!raw.trim()) return;
    try {
      out.push({ line: i + 1, value: JSON.parse(raw) });
    } catch (err) {
      out.push({ line: i + 1, value: undefined, error: `invalid JSON: ${(err as Error).message}` });
    }
  });
  return out;
}
