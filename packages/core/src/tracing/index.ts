export { type ExporterStats, StoreSpanExporter } from "./exporter.js";
export type {
  KnownSpanKind,
  SpanAttributes,
  SpanAttributeValue,
  SpanKind,
  SpanRecord,
  SpanStatus,
} from "./model.js";
export {
  type SpanKindSummary,
  type SpanListFilter,
  SpanQuery,
  type SpanSummaryFilter,
  type TraceSpan,
} from "./query.js";
export { startTracing, type Tracing, type TracingOptions } from "./tracer.js";
export { activeSpanIds, type SpanHandle, type SpanUsage, withSpan } from "./with-span.js";
