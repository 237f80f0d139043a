/**
 * The one span model of the stack. Every training run, prediction, LLM call, retrieval,
 * tool call, agent step, workflow step and HTTP request is recorded as a span with these
 * fields, whatever produced it.
 */

/** The kinds Quintet itself records; any other non-empty string is allowed too. */
export type KnownSpanKind =
  | "ml.train"
  | "ml.predict"
  | "llm.call"
  | "llm.embed"
  | "retrieval"
  | "tool"
  | "agent.step"
  | "workflow.step"
  | "http";

/** A span kind: one of {@link KnownSpanKind} or a free string such as `"eval.case"`. */
export type SpanKind = KnownSpanKind | (string & {});

/** A value that can be stored as a span attribute. Objects are kept as JSON text. */
export type SpanAttributeValue = string | number | boolean | null | undefined | readonly unknown[] | object;

/** Attributes given to {@link withSpan} or {@link SpanHandle.setAttributes}. */
export type SpanAttributes = Record<string, SpanAttributeValue>;

export type SpanStatus = "ok" | "error";

/** A persisted span, as the query API returns it. */
export interface SpanRecord {
  /** 32 hex characters; shared by every span of one trace. */
  traceId: string;
  /** 16 hex characters. */
  spanId: string;
  /** The enclosing span, or null for a root span. */
  parentId: string | null;
  kind: SpanKind;
  name: string;
  /** Attributes set on the span (without the reserved `quintet.*` and usage keys). */
  attributes: Record<string, unknown>;
  inputTokens: number | null;
  outputTokens: number | null;
  costUsd: number | null;
  /** Start, epoch milliseconds with sub-millisecond precision. */
  startMs: number;
  endMs: number;
  durationMs: number;
  status: SpanStatus;
  /** Set when status is "error": the QuintetError code (INTERNAL for other errors) and message. */
  error: { code: string; message: string } | null;
}

/**
 * Attribute keys the exporter lifts into their own columns. Token counts use the
 * OpenTelemetry GenAI semantic convention names so other exporters understand them.
 */
export const ATTR = {
  kind: "quintet.kind",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  costUsd: "quintet.cost_usd",
  errorCode: "quintet.error.code",
} as const;

export const RESERVED_ATTRS: ReadonlySet<string> = new Set(Object.values(ATTR));

/** Row of the `spans` table. */
export type SpanRow = {
  trace_id: string;
  span_id: string;
  parent_id: string | null;
  kind: string;
  name: string;
  attributes: string;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: number | null;
  start_ms: number;
  end_ms: number;
  duration_ms: number;
  status: string;
  error_code: string | null;
  error_message: string | null;
};

// Type aliases, not interfaces: Kysely's withTables wants an index-signature-compatible shape.
export type TracingTables = {
  spans: SpanRow;
};

export function rowToRecord(row: SpanRow): SpanRecord {
  return {
    traceId: row.trace_id,
    spanId: row.span_id,
    parentId: row.parent_id,
    kind: row.kind,
    name: row.name,
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
    inputTokens: row.input_tokens === null ? null : Number(row.input_tokens),
    outputTokens: row.output_tokens === null ? null : Number(row.output_tokens),
    costUsd: row.cost_usd === null ? null : Number(row.cost_usd),
    startMs: Number(row.start_ms),
    endMs: Number(row.end_ms),
    durationMs: Number(row.duration_ms),
    status: row.status === "error" ? "error" : "ok",
    error: row.status === "error" ? { code: row.error_code ?? "INTERNAL", message: row.error_message ?? "" } : null,
  };
}
