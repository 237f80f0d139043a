import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trace } from "@opentelemetry/api";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../store/store.js";
import { SpanQuery } from "./query.js";
import { startTracing } from "./tracer.js";
import { tracingConformance } from "./tracing.conformance.js";
import { activeSpanIds, withSpan } from "./with-span.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-tracing-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const freshStore = () => openStore({ url: `sqlite:${join(dir, `spans-${n++}.db`)}` });

describe("withSpan without tracing", () => {
  it("runs the function with a handle that records nothing, and passes results and errors through", async () => {
    const seen = await withSpan("tool", "noop", { a: 1 }, (span) => {
      span.setAttributes({ b: 2 });
      span.setUsage({ inputTokens: 1 });
      span.recordError(new Error("ignored"));
      return { recording: span.recording, traceId: span.traceId, active: activeSpanIds() };
    });
    expect(seen).toEqual({ recording: false, traceId: "0".repeat(32), active: undefined });
    const boom = new Error("boom");
    await expect(withSpan("tool", "noop", undefined, () => Promise.reject(boom))).rejects.toBe(boom);
  });
});

describe("tracing on SQLite", () => {
  it("registers as the global OpenTelemetry provider while running, and unregisters on shutdown", async () => {
    const store = await freshStore();
    const tracing = await startTracing(store);
    const traceId = await withSpan("http", "GET /healthz", {}, (span) => {
      expect(activeSpanIds()).toEqual({ traceId: span.traceId, spanId: span.spanId });
      // Instrumentation that only knows the global API lands in the same trace.
      trace.getTracer("some-library").startActiveSpan("library work", (s) => s.end());
      return span.traceId;
    });
    await tracing.shutdown();
    const tree = await new SpanQuery(store).trace(traceId);
    expect(tree.map((s) => s.name)).toEqual(["GET /healthz", "library work"]);
    // A second start (another store) can register globally again.
    const other = await freshStore();
    const again = await startTracing(other);
    trace.getTracer("some-library").startSpan("after restart").end();
    await again.shutdown();
    expect((await new SpanQuery(other).list({ name: "after restart" })).length).toBe(1);
    await store.close();
    await other.close();
  });

  it("keeps spans written before a restart of the process (a new store handle on the same file)", async () => {
    const url = `sqlite:${join(dir, "reopen.db")}`;
    const a = await openStore({ url });
    const tracing = await startTracing(a);
    const traceId = await withSpan("ml.train", "fit", { trees: 10 }, (s) => s.traceId);
    await tracing.shutdown();
    await a.close();
    const b = await openStore({ url });
    expect((await new SpanQuery(b).trace(traceId)).map((s) => s.kind)).toEqual(["ml.train"]);
    await b.close();
  });
});

tracingConformance("sqlite", freshStore);
