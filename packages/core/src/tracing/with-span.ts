import { performance } from "node:perf_hooks";
import {
  type Attributes,
  type AttributeValue,
  context,
  INVALID_SPANID,
  INVALID_TRACEID,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { QuintetError, ValidationError } from "../errors/errors.js";
import { epochMs } from "./clock.js";
import { ATTR, type SpanAttributes, type SpanKind } from "./model.js";
import { currentTracer } from "./tracer.js";

/** Token usage and cost of the work a span covers (an LLM call, an embedding batch). */
export interface SpanUsage {
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

/** The running span, as the function given to {@link withSpan} sees it. */
export interface SpanHandle {
  /** 32 hex characters; all zeros when tracing is off. */
  readonly traceId: string;
  /** 16 hex characters; all zeros when tracing is off. */
  readonly spanId: string;
  /** False when tracing is off and nothing is recorded. */
  readonly recording: boolean;
  /** Adds or replaces attributes. Objects are stored as JSON text. */
  setAttributes(attrs: SpanAttributes): void;
  /** Sets token counts and cost (fields left out keep their value). */
  setUsage(usage: SpanUsage): void;
  /**
   * Marks the span failed with this error (code from a QuintetError, else INTERNAL).
   * Recording the same error again does nothing, so code may record an error and
   * rethrow it through withSpan safely.
   */
  recordError(err: unknown): void;
}

const NOOP_HANDLE: SpanHandle = Object.freeze({
  traceId: INVALID_TRACEID,
  spanId: INVALID_SPANID,
  recording: false,
  setAttributes() {},
  setUsage() {},
  recordError() {},
});

function isPrimitiveArray(v: readonly unknown[]): boolean {
  if (v.length === 0) return true;
  const t = typeof v[0];
  if (t !== "string" && t !== "number" && t !== "boolean") return false;
  for (let i = 1; i < v.length; i++) if (v[i] !== null && v[i] !== undefined && typeof v[i] !== t) return false;
  return true;
}

function toJsonText(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)) ?? String(v);
  } catch {
    // Cycles: keep something readable rather than losing the attribute or throwing.
    return String(v);
  }
}

function toAttributeValue(v: unknown): AttributeValue | undefined {
  switch (typeof v) {
    case "string":
    case "number":
    case "boolean":
      return v;
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "bigint":
      return v.toString();
    default:
      if (v === null) return undefined;
      if (Array.isArray(v) && isPrimitiveArray(v)) return v as AttributeValue;
      return toJsonText(v);
  }
}

function copyAttributes(into: Attributes, attrs: SpanAttributes): void {
  for (const key in attrs) {
    const v = toAttributeValue(attrs[key]);
    if (v !== undefined) into[key] = v;
  }
}

class RecordingHandle implements SpanHandle {
  readonly traceId: string;
  readonly spanId: string;
  readonly recording = true;
  failed = false;
  private readonly span: Span;
  private readonly recorded: unknown[] = [];

  constructor(span: Span) {
    this.span = span;
    const ctx = span.spanContext();
    this.traceId = ctx.traceId;
    this.spanId = ctx.spanId;
  }

  setAttributes(attrs: SpanAttributes): void {
    const out: Attributes = {};
    copyAttributes(out, attrs);
    this.span.setAttributes(out);
  }

  setUsage(usage: SpanUsage): void {
    const out: Attributes = {};
    if (isCount(usage.inputTokens)) out[ATTR.inputTokens] = usage.inputTokens;
    if (isCount(usage.outputTokens)) out[ATTR.outputTokens] = usage.outputTokens;
    if (typeof usage.costUsd === "number" && Number.isFinite(usage.costUsd) && usage.costUsd >= 0) {
      out[ATTR.costUsd] = usage.costUsd;
    }
    this.span.setAttributes(out);
  }

  recordError(err: unknown): void {
    if (this.recorded.includes(err)) return;
    this.recorded.push(err);
    this.failed = true;
    const message = err instanceof Error ? err.message : String(err);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
    this.span.setAttribute(ATTR.errorCode, err instanceof QuintetError ? err.code : "INTERNAL");
    if (err instanceof Error) this.span.setAttribute("error.type", err.name);
    this.span.recordException(err instanceof Error ? err : message);
  }
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

/**
 * Runs `fn` inside a span of `kind` named `name`. Spans started inside `fn` (also across
 * awaits) become its children. When `fn` throws, the span records the error and the
 * error is rethrown unchanged. When tracing is not started, `fn` runs with a handle that
 * records nothing.
 *
 * @example
 * const answer = await withSpan("retrieval", "hybrid search", { k: 8 }, async (span) => {
 *   const hits = await index.search(query);
 *   span.setAttributes({ hits: hits.length });
 *   return hits;
 * });
 */
export async function withSpan<T>(
  kind: SpanKind,
  name: string,
  attrs: SpanAttributes | undefined,
  fn: (span: SpanHandle) => Promise<T> | T,
): Promise<T> {
  if (typeof kind !== "string" || kind === "" || typeof name !== "string") {
    throw new ValidationError(
      `withSpan needs a non-empty kind and a name string (got ${String(kind)}, ${String(name)})`,
      {
        hint: 'Call withSpan("llm.call", "summarise", attrs, fn) with a kind such as ml.train, retrieval or tool.',
      },
    );
  }
  const tracer = currentTracer();
  if (tracer === undefined) return fn(NOOP_HANDLE);

  const attributes: Attributes = {};
  if (attrs) copyAttributes(attributes, attrs);
  attributes[ATTR.kind] = kind;
  const parent = context.active();
  const t0 = performance.now();
  const startTime = epochMs(t0);
  // Explicit start and end times: the SDK's own start time has whole-millisecond resolution.
  const span = tracer.startSpan(name, { attributes, startTime }, parent);
  const handle = new RecordingHandle(span);
  try {
    const result = await context.with(trace.setSpan(parent, span), fn, undefined, handle);
    if (!handle.failed) span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (err) {
    handle.recordError(err);
    throw err;
  } finally {
    span.end(startTime + (performance.now() - t0));
  }
}

/** The trace and span id of the span active here, e.g. to put into a log line. */
export function activeSpanIds(): { traceId: string; spanId: string } | undefined {
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}
