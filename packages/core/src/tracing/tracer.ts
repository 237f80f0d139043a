import { context, type Tracer, trace } from "@opentelemetry/api";
import type { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { z } from "zod";
import { ValidationError } from "../errors/errors.js";
import type { Store } from "../store/store.js";
import { type ExporterStats, StoreSpanExporter } from "./exporter.js";
import { TimeOrderedIdGenerator } from "./ids.js";
import { migrateTracing } from "./migrations.js";

const optionsSchema = z
  .object({
    /** Largest number of finished spans waiting to be written; more are dropped (default 32768). */
    maxQueueSize: z.number().int().positive().default(32_768),
    /** Spans per export batch (default 1024). */
    maxExportBatchSize: z.number().int().positive().default(1024),
    /** How long a partial batch waits before it is written (default 1000 ms). */
    scheduledDelayMillis: z.number().int().nonnegative().default(1000),
    /** How long one batch may take to write before the processor gives up waiting (default 30 s). */
    exportTimeoutMillis: z.number().int().positive().default(30_000),
    /** Register the provider as the global OpenTelemetry provider when none is (default true). */
    registerGlobal: z.boolean().default(true),
    /** The instrumentation scope name spans are created under (default "quintet"). */
    scope: z.string().min(1).default("quintet"),
    /** Called when a batch cannot be written; default: a process warning. */
    onExportError: z.custom<(err: Error, lostSpans: number) => void>((v) => typeof v === "function").optional(),
  })
  .strict()
  .refine((o) => o.maxExportBatchSize <= o.maxQueueSize, {
    message: "maxExportBatchSize must not exceed maxQueueSize",
    path: ["maxExportBatchSize"],
  });

export type TracingOptions = z.input<typeof optionsSchema>;

/** What {@link startTracing} returns. */
export interface Tracing {
  /** Writes every finished span to the store; resolves when they are committed. */
  flush(): Promise<void>;
  /** Flushes, then stops recording into this store. Idempotent. The store stays open. */
  shutdown(): Promise<void>;
  /** Counts of spans written and lost so far. */
  readonly stats: Readonly<ExporterStats>;
  /** The OpenTelemetry tracer spans are created with, for code that uses the OTel API directly. */
  readonly tracer: Tracer;
}

interface Installed {
  tracer: Tracer;
  provider: BasicTracerProvider;
}

/** Started and not yet shut down, oldest first; {@link withSpan} records into the last one. */
const installed: Installed[] = [];
/** Set once per process: the first tracing installs the context manager (concurrent starts share it). */
let contextManager: Promise<void> | undefined;

/** The tracer withSpan records into, or undefined when tracing is off. */
export function currentTracer(): Tracer | undefined {
  return installed[installed.length - 1]?.tracer;
}

function ensureContextManager(): Promise<void> {
  contextManager ??= import("@opentelemetry/context-async-hooks").then(({ AsyncLocalStorageContextManager }) => {
    // Returns false when the application registered its own manager; we use theirs then.
    const manager = new AsyncLocalStorageContextManager();
    if (!context.setGlobalContextManager(manager.enable())) manager.disable();
  });
  return contextManager;
}

/**
 * Starts recording spans into `store`: installs an OpenTelemetry BasicTracerProvider with
 * a BatchSpanProcessor and an exporter that writes batches to the `spans` table, off the
 * hot path. {@link withSpan} records into the most recently started tracing that is still
 * running; the provider also becomes the global OpenTelemetry provider when no other is
 * registered, so spans from other OpenTelemetry instrumentation land in the same table.
 *
 * @example
 * const tracing = await startTracing(store);
 * await withSpan("ml.predict", "churn", { rows: 10 }, async () => model.predict(rows));
 * await tracing.shutdown(); // writes what is still queued
 */
export async function startTracing(store: Store, options: TracingOptions = {}): Promise<Tracing> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ValidationError(`invalid tracing option ${issue?.path.join(".") || "(root)"}: ${issue?.message}`, {
      hint: "See TracingOptions: queue and batch sizes are positive integers, delays are milliseconds.",
      details: { issues: parsed.error.issues },
    });
  }
  const o = parsed.data;
  await migrateTracing(store);
  await ensureContextManager();
  // The SDK loads with the first tracing, not with every program that imports Quintet.
  const { BasicTracerProvider, BatchSpanProcessor } = await import("@opentelemetry/sdk-trace-base");

  let warned = false;
  const onError =
    o.onExportError ??
    ((err: Error, lost: number) => {
      // One warning per tracing, not one per batch; `stats` keeps the counts.
      if (warned) return;
      warned = true;
      process.emitWarning(`could not write ${lost} trace spans to the store: ${err.message}`, {
        code: "QUINTET_TRACE_EXPORT",
      });
    });
  const exporter = new StoreSpanExporter(store, (err, lost) => onError(err, lost));
  const provider = new BasicTracerProvider({
    idGenerator: new TimeOrderedIdGenerator(),
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        maxQueueSize: o.maxQueueSize,
        maxExportBatchSize: o.maxExportBatchSize,
        scheduledDelayMillis: o.scheduledDelayMillis,
        exportTimeoutMillis: o.exportTimeoutMillis,
      }),
    ],
  });
  const entry: Installed = { tracer: provider.getTracer(o.scope), provider };
  installed.push(entry);
  const global = o.registerGlobal && trace.setGlobalTracerProvider(provider);

  let stopping: Promise<void> | undefined;
  return {
    tracer: entry.tracer,
    stats: exporter.stats,
    async flush() {
      await provider.forceFlush();
      await exporter.forceFlush();
    },
    shutdown() {
      stopping ??= (async () => {
        const i = installed.indexOf(entry);
        if (i >= 0) installed.splice(i, 1);
        // Unregister only if we still are the global provider, so the next start can register.
        if (global && getGlobalDelegate() === provider) trace.disable();
        await provider.shutdown();
      })();
      return stopping;
    },
  };
}

function getGlobalDelegate(): unknown {
  const proxy = trace.getTracerProvider() as { getDelegate?: () => unknown };
  return typeof proxy.getDelegate === "function" ? proxy.getDelegate() : proxy;
}
