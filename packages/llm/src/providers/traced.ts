import { withSpan } from "@quintet/core";
import type {
  EmbedRequest,
  EmbedResult,
  GenerateRequest,
  GenerateResult,
  LlmCapabilities,
  LlmClient,
  StreamEvent,
} from "./types.js";
import { parseModelUri } from "./uri.js";

type Attrs = Record<string, string | number | boolean>;

/** The part of a core trace span the LLM layer writes to. */
export interface SpanHandle {
  setAttributes(attrs: Attrs): void;
  setUsage(usage: { inputTokens: number; outputTokens: number; costUsd?: number }): void;
  recordError(err: unknown): void;
}
type Span = SpanHandle;

/** Runs `fn` inside a span: the signature of core's `withSpan(kind, name, attrs, fn)`. */
export type SpanRunner = <T>(
  kind: string,
  name: string,
  attrs: Attrs,
  fn: (span: SpanHandle) => Promise<T>,
) => Promise<T>;

const noSpan: SpanHandle = { setAttributes() {}, setUsage() {}, recordError() {} };

/** Runs the function with a span handle that records nothing: pass it as `tracer` to opt out of tracing. */
export const runWithoutSpan: SpanRunner = (_kind, _name, _attrs, fn) => fn(noSpan);

/**
 * The runner used when no `tracer` is given: core's `withSpan`, which records into the
 * project trace once `startTracing(store)` is running and costs nothing otherwise.
 */
export const defaultSpanRunner: SpanRunner = withSpan;

function requestAttrs(uri: string, operation: "generate" | "stream", r: GenerateRequest): Attrs {
  const { provider, model } = parseModelUri(uri);
  const a: Attrs = { provider, model, uri, operation };
  if (r.metadata?.promptVersion) a.promptVersion = r.metadata.promptVersion;
  if (r.metadata?.prompt) a.prompt = r.metadata.prompt;
  if (r.temperature !== undefined) a.temperature = r.temperature;
  if (r.maxOutputTokens !== undefined) a.maxOutputTokens = r.maxOutputTokens;
  if (r.tools?.length) a.tools = r.tools.length;
  if (r.responseFormat?.type === "json") a.responseFormat = r.responseFormat.schema ? "json-schema" : "json";
  a.messages = r.messages.length;
  return a;
}

function recordResult(span: Span, r: GenerateResult): void {
  span.setAttributes({
    finishReason: r.finishReason,
    attempts: r.attempts ?? 1,
    latencyMs: r.latencyMs,
    toolCalls: r.toolCalls.length,
    ...(r.usage.cachedInputTokens ? { cachedInputTokens: r.usage.cachedInputTokens } : {}),
  });
  span.setUsage({
    inputTokens: r.usage.inputTokens,
    outputTokens: r.usage.outputTokens,
    ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}),
  });
}

function recordFailure(span: Span, err: unknown): void {
  span.recordError(err);
  const details = (err as { details?: { attempts?: unknown } }).details;
  const code = (err as { code?: unknown }).code;
  span.setAttributes({
    ...(typeof details?.attempts === "number" ? { attempts: details.attempts } : {}),
    ...(typeof code === "string" ? { errorCode: code } : {}),
  });
}

/**
 * Feeds values produced inside a callback (here: inside a span) to an async generator,
 * one at a time: the producer waits until the consumer took each value, and learns
 * (emit returns false) when the consumer stopped early so it can stop the stream.
 */
async function* bridge<T>(start: (emit: (value: T) => Promise<boolean>) => Promise<void>): AsyncGenerator<T> {
  let pending: { value: T; ack: (more: boolean) => void } | undefined;
  let notify: (() => void) | undefined;
  let stopped = false;
  let finished = false;
  let failure: { error: unknown } | undefined;
  const emit = (value: T) =>
    new Promise<boolean>((ack) => {
      if (stopped) return ack(false);
      pending = { value, ack };
      notify?.();
    });
  const run = start(emit).then(
    () => {
      finished = true;
      notify?.();
    },
    (error) => {
      failure = { error };
      finished = true;
      notify?.();
    },
  );
  let inFlight: { value: T; ack: (more: boolean) => void } | undefined;
  try {
    for (;;) {
      if (!pending && !finished) await new Promise<void>((r) => (notify = r));
      notify = undefined;
      if (pending) {
        inFlight = pending;
        pending = undefined;
        yield inFlight.value;
        inFlight.ack(true);
        inFlight = undefined;
        continue;
      }
      if (failure) throw failure.error;
      return;
    }
  } finally {
    stopped = true;
    inFlight?.ack(false);
    pending?.ack(false);
    await run;
  }
}

/** Every call of `inner` becomes an `llm.call` / `llm.embed` span in the core trace. */
export class TracedLlmClient implements LlmClient {
  readonly uri: string;
  readonly capabilities: LlmCapabilities | undefined;
  readonly embed: ((request: EmbedRequest) => Promise<EmbedResult>) | undefined;

  constructor(
    private readonly inner: LlmClient,
    private readonly withSpan: SpanRunner,
  ) {
    this.uri = inner.uri;
    this.capabilities = inner.capabilities;
    const embed = inner.embed?.bind(inner);
    this.embed = embed
      ? (request) => {
          const { provider, model } = parseModelUri(this.uri);
          return withSpan(
            "llm.embed",
            `embed ${this.uri}`,
            { provider, model, uri: this.uri, texts: request.texts.length },
            async (span) => {
              try {
                const r = await embed(request);
                span.setAttributes({ attempts: r.attempts ?? 1, dimensions: r.vectors[0]?.length ?? 0 });
                span.setUsage({
                  inputTokens: r.usage.inputTokens,
                  outputTokens: 0,
                  ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}),
                });
                return r;
              } catch (err) {
                recordFailure(span, err);
                throw err;
              }
            },
          );
        }
      : undefined;
  }

  generate(request: GenerateRequest): Promise<GenerateResult> {
    return this.withSpan(
      "llm.call",
      `generate ${this.uri}`,
      requestAttrs(this.uri, "generate", request),
      async (span) => {
        try {
          const r = await this.inner.generate(request);
          recordResult(span, r);
          return r;
        } catch (err) {
          recordFailure(span, err);
          throw err;
        }
      },
    );
  }

  stream(request: GenerateRequest): AsyncGenerator<StreamEvent> {
    return bridge<StreamEvent>((emit) =>
      this.withSpan("llm.call", `stream ${this.uri}`, requestAttrs(this.uri, "stream", request), async (span) => {
        try {
          for await (const event of this.inner.stream(request)) {
            if (event.type === "finish") recordResult(span, event.result);
            if (!(await emit(event))) {
              span.setAttributes({ stoppedByCaller: true });
              break;
            }
          }
        } catch (err) {
          recordFailure(span, err);
          throw err;
        }
      }),
    );
  }

  /** Frees a local model, when the inner client holds one. */
  async close(): Promise<void> {
    await (this.inner as { close?: () => Promise<void> }).close?.();
  }
}
