import { SpanKind as OtelSpanKind, SpanStatusCode } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode, hrTimeToMilliseconds } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Kysely } from "kysely";
import { kyselyModule } from "../store/kysely.js";
import type { Store } from "../store/store.js";
import type { CoreTables } from "../store/types.js";
import { migrateTracing } from "./migrations.js";
import { ATTR, RESERVED_ATTRS, type SpanRow, type TracingTables } from "./model.js";

/** Rows per INSERT: 15 parameters each stays far below SQLite's and PostgreSQL's limits. */
const ROWS_PER_INSERT = 1000;
/** Spans per transaction; bounds how long one write holds the event loop. */
const SPANS_PER_TX = 8000;

export interface ExporterStats {
  /** Spans written to the store. */
  exported: number;
  /** Spans whose batch failed to write (they are lost). */
  failed: number;
  /** The last write error, if any. */
  lastError: Error | undefined;
}

interface Pending {
  spans: ReadableSpan[];
  done: (result: ExportResult) => void;
}

/**
 * An OpenTelemetry SpanExporter that writes spans to the `spans` table of a store.
 *
 * The BatchSpanProcessor calls `export` synchronously from `span.end()` when a batch is
 * full, so `export` only queues: the conversion and the write run later on their own
 * turn of the event loop, batches that piled up meanwhile share one transaction, and the
 * processor's callback fires once the rows are committed.
 */
export class StoreSpanExporter implements SpanExporter {
  readonly stats: ExporterStats = { exported: 0, failed: 0, lastError: undefined };
  private readonly store: Store;
  private readonly onError: (err: Error, lost: number) => void;
  private queue: Pending[] = [];
  private draining = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private readonly sqlBySize = new Map<number, string>();

  constructor(store: Store, onError: (err: Error, lost: number) => void) {
    this.store = store;
    this.onError = onError;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new Error("the span exporter was shut down") });
      return;
    }
    this.queue.push({ spans, done: resultCallback });
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  /** Resolves when every queued batch has been written (or has failed). */
  forceFlush(): Promise<void> {
    if (!this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.stopped = true;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const items = this.takeTransaction();
      const spans = items.flatMap((p) => p.spans);
      try {
        await this.write(spans);
        this.stats.exported += spans.length;
        for (const p of items) p.done({ code: ExportResultCode.SUCCESS });
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        this.stats.failed += spans.length;
        this.stats.lastError = error;
        this.onError(error, spans.length);
        for (const p of items) p.done({ code: ExportResultCode.FAILED, error });
      }
      // Let the application run between transactions.
      if (this.queue.length > 0) await new Promise((r) => setImmediate(r));
    }
    this.draining = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private takeTransaction(): Pending[] {
    let n = 0;
    let i = 0;
    while (i < this.queue.length && (i === 0 || n + (this.queue[i]?.spans.length ?? 0) <= SPANS_PER_TX)) {
      n += this.queue[i]?.spans.length ?? 0;
      i++;
    }
    return this.queue.splice(0, i);
  }

  private async write(spans: ReadableSpan[]): Promise<void> {
    if (spans.length === 0) return;
    await migrateTracing(this.store);
    const values = spans.map(spanToValues);
    const { CompiledQuery } = await kyselyModule();
    await this.store.tx(async (db) => {
      const t = db.withTables<TracingTables>();
      let i = 0;
      while (i < values.length) {
        const n = chunkSize(values.length - i);
        const params: unknown[] = [];
        for (let j = i; j < i + n; j++) for (const v of values[j]!) params.push(v);
        await t.executeQuery(CompiledQuery.raw(this.insertSql(t, n), params));
        i += n;
      }
    });
  }

  /**
   * The INSERT for `n` rows, compiled by Kysely once per size (so placeholders suit the
   * dialect) and reused: building and compiling a thousand-row query per batch cost as
   * much as the insert itself.
   */
  private insertSql(db: Kysely<CoreTables & TracingTables>, n: number): string {
    let text = this.sqlBySize.get(n);
    if (text === undefined) {
      const row = Object.fromEntries(COLUMNS.map((c) => [c, 0])) as unknown as SpanRow;
      const compiled = db
        .insertInto("spans")
        .values(Array.from({ length: n }, () => row))
        .compile();
      if (compiled.parameters.length !== n * COLUMNS.length) throw new Error("unexpected span insert shape");
      text = compiled.sql;
      this.sqlBySize.set(n, text);
    }
    return text;
  }
}

/** Full chunks, then powers of two for the rest: at most a dozen distinct statements. */
function chunkSize(remaining: number): number {
  if (remaining >= ROWS_PER_INSERT) return ROWS_PER_INSERT;
  return 2 ** Math.floor(Math.log2(remaining));
}

const OTEL_KIND_NAMES: Record<number, string> = {
  [OtelSpanKind.INTERNAL]: "internal",
  [OtelSpanKind.SERVER]: "server",
  [OtelSpanKind.CLIENT]: "client",
  [OtelSpanKind.PRODUCER]: "producer",
  [OtelSpanKind.CONSUMER]: "consumer",
};

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Column order of {@link spanToValues}. */
const COLUMNS = [
  "trace_id",
  "span_id",
  "parent_id",
  "kind",
  "name",
  "attributes",
  "input_tokens",
  "output_tokens",
  "cost_usd",
  "start_ms",
  "end_ms",
  "duration_ms",
  "status",
  "error_code",
  "error_message",
] as const satisfies readonly (keyof SpanRow)[];

function spanToValues(span: ReadableSpan): unknown[] {
  const r = spanToRow(span);
  return COLUMNS.map((c) => r[c]);
}

/**
 * Maps an OpenTelemetry span to a row. Spans from other instrumentation (without our
 * kind attribute) are kept under `otel.<span kind>`, e.g. `otel.server`.
 */
export function spanToRow(span: ReadableSpan): SpanRow {
  const ctx = span.spanContext();
  const a = span.attributes;
  const attributes: Record<string, unknown> = {};
  for (const key in a) if (!RESERVED_ATTRS.has(key)) attributes[key] = a[key];
  const kind = a[ATTR.kind];
  const error = span.status.code === SpanStatusCode.ERROR;
  const errorCode = a[ATTR.errorCode];
  return {
    trace_id: ctx.traceId,
    span_id: ctx.spanId,
    parent_id: span.parentSpanContext?.spanId ?? null,
    kind: typeof kind === "string" && kind !== "" ? kind : `otel.${OTEL_KIND_NAMES[span.kind] ?? "internal"}`,
    name: span.name,
    attributes: JSON.stringify(attributes),
    input_tokens: num(a[ATTR.inputTokens]),
    output_tokens: num(a[ATTR.outputTokens]),
    cost_usd: num(a[ATTR.costUsd]),
    start_ms: hrTimeToMilliseconds(span.startTime),
    end_ms: hrTimeToMilliseconds(span.endTime),
    duration_ms: hrTimeToMilliseconds(span.duration),
    status: error ? "error" : "ok",
    error_code: error ? (typeof errorCode === "string" ? errorCode : "INTERNAL") : null,
    error_message: error ? (span.status.message ?? "") : null,
  };
}
