import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { NotFoundError, ValidationError } from "../errors/errors.js";
import type { Store } from "../store/store.js";
import { SpanQuery } from "./query.js";
import { startTracing, type Tracing } from "./tracer.js";
import { withSpan } from "./with-span.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the wall clock has moved past `t`, so time filters have a clear boundary. */
async function after(t: number): Promise<void> {
  while (Date.now() <= t) await sleep(2);
}

/**
 * The behaviour span recording and querying must show on every store backend. SQLite
 * runs it in `npm test`, PostgreSQL in `npm run test:services`. Each test uses its own
 * span kinds, so runs sharing a database do not see each other's spans.
 */
export function tracingConformance(label: string, open: () => Promise<Store>): void {
  describe(`tracing conformance: ${label}`, () => {
    const stores: Store[] = [];
    const tracings: Tracing[] = [];
    const setup = async (options?: Parameters<typeof startTracing>[1]) => {
      const store = await open();
      stores.push(store);
      const tracing = await startTracing(store, options);
      tracings.push(tracing);
      return { store, tracing, spans: new SpanQuery(store) };
    };
    afterEach(async () => {
      for (const t of tracings.splice(0)) await t.shutdown();
      for (const s of stores.splice(0)) await s.close();
    });
    const kindPrefix = () => `test.${randomBytes(4).toString("hex")}`;

    it("nests spans through awaits and concurrent children, and returns a trace in tree order", async () => {
      const { tracing, spans } = await setup();
      const k = kindPrefix();
      let ids: { root: string; trace: string } = { root: "", trace: "" };
      await withSpan(`${k}.agent`, "root", { task: "demo" }, async (root) => {
        ids = { root: root.spanId, trace: root.traceId };
        await withSpan(`${k}.step`, "first", {}, async () => {
          await sleep(1);
          await withSpan(`${k}.tool`, "inner", {}, () => 42);
        });
        await Promise.all([
          withSpan(`${k}.step`, "parallel-a", {}, async () => sleep(2)),
          withSpan(`${k}.step`, "parallel-b", {}, async () => sleep(1)),
        ]);
      });
      await tracing.flush();
      const tree = await spans.trace(ids.trace);
      expect(tree.map((s) => [s.name, s.depth])).toEqual([
        ["root", 0],
        ["first", 1],
        ["inner", 2],
        ["parallel-a", 1],
        ["parallel-b", 1],
      ]);
      const byName = Object.fromEntries(tree.map((s) => [s.name, s]));
      expect(byName.root?.parentId).toBeNull();
      expect(byName.root?.spanId).toBe(ids.root);
      expect(byName.first?.parentId).toBe(ids.root);
      expect(byName.inner?.parentId).toBe(byName.first?.spanId);
      expect(byName["parallel-a"]?.parentId).toBe(ids.root);
      expect(byName["parallel-b"]?.parentId).toBe(ids.root);
      expect(new Set(tree.map((s) => s.traceId))).toEqual(new Set([ids.trace]));
      expect(byName.root).toMatchObject({
        kind: `${k}.agent`,
        status: "ok",
        error: null,
        attributes: { task: "demo" },
      });
      for (const s of tree) {
        expect(s.endMs).toBeGreaterThanOrEqual(s.startMs);
        expect(s.durationMs).toBeCloseTo(s.endMs - s.startMs, 3);
      }
      // Sub-millisecond timestamps (the wall clock alone has whole milliseconds).
      expect(tree.some((s) => !Number.isInteger(s.startMs) && !Number.isInteger(s.endMs))).toBe(true);
      // A child starts no earlier and ends no later than its parent.
      expect(byName.inner!.startMs).toBeGreaterThanOrEqual(byName.first!.startMs);
      expect(byName.inner!.endMs).toBeLessThanOrEqual(byName.first!.endMs);
    });

    it("starts a new trace for each top-level span, with ids that sort by time", async () => {
      const { tracing } = await setup();
      const k = kindPrefix();
      const a = await withSpan(k, "a", {}, (s) => s.traceId);
      await after(Date.now());
      const b = await withSpan(k, "b", {}, (s) => s.traceId);
      expect(a).toMatch(/^[0-9a-f]{32}$/);
      expect(b).not.toBe(a);
      expect(a < b).toBe(true);
      await tracing.flush();
    });

    it("records errors with the QuintetError code, rethrows them unchanged, and records each error once", async () => {
      const { tracing, spans } = await setup();
      const k = kindPrefix();
      const notFound = new NotFoundError("model churn@9 does not exist");
      await expect(withSpan(k, "quintet-error", {}, () => Promise.reject(notFound))).rejects.toBe(notFound);
      const plain = new TypeError("x is not a function");
      await expect(
        withSpan(k, "plain-error", {}, () => {
          throw plain;
        }),
      ).rejects.toBe(plain);
      // Recorded inside and rethrown through withSpan: still one error, the same one.
      await expect(
        withSpan(k, "recorded-and-rethrown", {}, async (span) => {
          span.recordError(notFound);
          throw notFound;
        }),
      ).rejects.toBe(notFound);
      // A repeated record of an earlier error changes nothing: the later error stays.
      await withSpan(k, "handled", {}, (span) => {
        const first = new Error("first attempt failed");
        span.recordError(first);
        span.recordError(new ValidationError("second attempt had bad output"));
        span.recordError(first);
      });
      await withSpan(k, "fine", {}, () => "ok");
      await tracing.flush();
      const list = await spans.list({ kind: k });
      const byName = Object.fromEntries(list.map((s) => [s.name, s]));
      expect(byName["quintet-error"]).toMatchObject({
        status: "error",
        error: { code: "NOT_FOUND", message: "model churn@9 does not exist" },
      });
      expect(byName["plain-error"]).toMatchObject({
        status: "error",
        error: { code: "INTERNAL", message: "x is not a function" },
        attributes: { "error.type": "TypeError" },
      });
      expect(byName["recorded-and-rethrown"]?.error).toEqual({ code: "NOT_FOUND", message: notFound.message });
      expect(byName.handled).toMatchObject({
        status: "error",
        error: { code: "VALIDATION_FAILED", message: "second attempt had bad output" },
      });
      expect(byName.fine).toMatchObject({ status: "ok", error: null });
      expect(await spans.list({ kind: k, status: "error" })).toHaveLength(4);
    });

    it("stores usage, cost and attributes (objects as JSON text, arrays kept)", async () => {
      const { tracing, spans } = await setup();
      const k = kindPrefix();
      const traceId = await withSpan(
        k,
        "generate",
        { model: "gpt-4o-mini", temperature: 0.2, stream: false, tags: ["a", "b"], options: { top_p: 1 } },
        async (span) => {
          span.setUsage({ inputTokens: 1200, outputTokens: 345 });
          span.setUsage({ costUsd: 0.00042 });
          span.setAttributes({ finishReason: "stop", skipped: undefined, none: null });
          return span.traceId;
        },
      );
      await withSpan(k, "no-usage", {}, () => {});
      await tracing.flush();
      const [s] = await spans.trace(traceId);
      expect(s).toMatchObject({ inputTokens: 1200, outputTokens: 345, name: "generate", kind: k });
      expect(s?.costUsd).toBeCloseTo(0.00042, 10);
      expect(s?.attributes).toEqual({
        model: "gpt-4o-mini",
        temperature: 0.2,
        stream: false,
        tags: ["a", "b"],
        options: '{"top_p":1}',
        finishReason: "stop",
      });
      const [bare] = await spans.list({ kind: k, name: "no-usage" });
      expect(bare).toMatchObject({ inputTokens: null, outputTokens: null, costUsd: null });
    });

    it("keeps spans queued until a batch fills or the delay passes, and writes them all on shutdown", async () => {
      const { store, tracing, spans } = await setup({ scheduledDelayMillis: 60_000, maxExportBatchSize: 4000 });
      const k = kindPrefix();
      for (let i = 0; i < 2345; i++) await withSpan(k, `span-${i}`, { i }, () => i);
      await sleep(20);
      expect(await spans.list({ kind: k, limit: 5000 })).toHaveLength(0);
      await tracing.shutdown();
      const rows = await new SpanQuery(store).list({ kind: k, limit: 5000 });
      expect(rows).toHaveLength(2345);
      expect(new Set(rows.map((r) => r.attributes.i))).toEqual(new Set(Array.from({ length: 2345 }, (_, i) => i)));
      expect(tracing.stats).toMatchObject({ exported: 2345, failed: 0 });
      // After shutdown nothing is recorded and withSpan still runs the function.
      await expect(withSpan(k, "after", {}, (s) => s.recording)).resolves.toBe(false);
    });

    it("writes full batches without waiting for flush", async () => {
      const { tracing, spans } = await setup({ scheduledDelayMillis: 60_000, maxExportBatchSize: 100 });
      const k = kindPrefix();
      for (let i = 0; i < 300; i++) await withSpan(k, "s", {}, () => i);
      for (let i = 0; i < 200 && tracing.stats.exported < 300; i++) await sleep(10);
      expect((await spans.list({ kind: k, limit: 1000 })).length).toBe(300);
    });

    it("lists by kind, name, status and time window, newest first, with a limit", async () => {
      const { tracing, spans } = await setup();
      const k = kindPrefix();
      await withSpan(`${k}.a`, "early", {}, () => {});
      const t1 = Date.now();
      await after(t1);
      const t2 = Date.now();
      await withSpan(`${k}.a`, "middle", {}, () => {});
      await withSpan(`${k}.b`, "middle", {}, () => {});
      await after(Date.now());
      const t3 = Date.now();
      await withSpan(`${k}.a`, "late", {}, () => {
        throw new Error("late failure");
      }).catch(() => {});
      await tracing.flush();

      const names = async (f: Parameters<SpanQuery["list"]>[0]) => (await spans.list(f)).map((s) => s.name);
      expect(await names({ kind: `${k}.a` })).toEqual(["late", "middle", "early"]);
      expect(await names({ kind: `${k}.a`, since: t2 })).toEqual(["late", "middle"]);
      expect(await names({ kind: `${k}.a`, since: new Date(t2), until: t3 })).toEqual(["middle"]);
      expect(await names({ kind: `${k}.a`, until: t2 })).toEqual(["early"]);
      expect(await names({ kind: `${k}.a`, status: "error" })).toEqual(["late"]);
      expect(await names({ kind: `${k}.a`, limit: 2 })).toEqual(["late", "middle"]);
      expect((await spans.list({ name: "middle", since: t2, until: t3 })).map((s) => s.kind).sort()).toEqual(
        [`${k}.a`, `${k}.b`].sort(),
      );
    });

    it("summarises count, errors, latency percentiles, tokens and cost per kind", async () => {
      const { tracing, spans } = await setup();
      const k = kindPrefix();
      const since = Date.now() - 1;
      for (let i = 0; i < 20; i++) {
        await withSpan(`${k}.llm`, "call", {}, async (span) => {
          span.setUsage({ inputTokens: 10, outputTokens: 5, costUsd: 0.5 });
          if (i % 5 === 0) span.recordError(new Error("rate limited"));
        });
      }
      await withSpan(`${k}.tool`, "call", {}, () => sleep(5));
      await tracing.flush();
      const all = await spans.list({ kind: `${k}.llm`, limit: 100 });
      const durations = all.map((s) => s.durationMs).sort((a, b) => a - b);
      const summary = await spans.summary({ since });
      const llm = summary.find((s) => s.kind === `${k}.llm`);
      const tool = summary.find((s) => s.kind === `${k}.tool`);
      expect(llm).toMatchObject({ count: 20, errors: 4, inputTokens: 200, outputTokens: 100 });
      expect(llm?.costUsd).toBeCloseTo(10, 9);
      expect(llm?.p50Ms).toBeCloseTo(durations[9]!, 6);
      expect(llm?.p95Ms).toBeCloseTo(durations[18]!, 6);
      expect(tool).toMatchObject({ count: 1, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 });
      expect(tool?.p50Ms).toBeGreaterThanOrEqual(4);
      expect(await spans.summary({ kind: `${k}.tool` })).toHaveLength(1);
      expect(await spans.summary({ kind: `${k}.none` })).toEqual([]);
    });

    it("records into the most recently started store and falls back when it shuts down", async () => {
      const first = await setup();
      const second = await setup();
      const k = kindPrefix();
      await withSpan(k, "to-second", {}, () => {});
      await second.tracing.shutdown();
      await withSpan(k, "to-first", {}, () => {});
      await first.tracing.flush();
      // Counted per tracing: the two stores may be one database (PostgreSQL tests).
      expect(second.tracing.stats.exported).toBe(1);
      expect(first.tracing.stats.exported).toBe(1);
      const names = [...(await first.spans.list({ kind: k })), ...(await second.spans.list({ kind: k }))].map(
        (s) => s.name,
      );
      expect(names).toContain("to-first");
      expect(names).toContain("to-second");
    });

    it("stores spans made with the OpenTelemetry tracer directly", async () => {
      const { tracing, spans } = await setup();
      const k = kindPrefix();
      const traceId = await withSpan(k, "outer", {}, (span) => {
        tracing.tracer.startActiveSpan("raw-otel", (raw) => {
          raw.setAttribute("db.system", "sqlite");
          raw.end();
        });
        return span.traceId;
      });
      await tracing.flush();
      const tree = await spans.trace(traceId);
      expect(tree.map((s) => [s.name, s.kind, s.depth])).toEqual([
        ["outer", k, 0],
        ["raw-otel", "otel.internal", 1],
      ]);
      expect(tree[1]?.attributes).toEqual({ "db.system": "sqlite" });
    });

    it("reports a batch it cannot write: flush rejects and the stats count the lost spans", async () => {
      const errors: string[] = [];
      const { store, tracing } = await setup({ onExportError: (err) => errors.push(err.message) });
      await withSpan(kindPrefix(), "lost", {}, () => {});
      await store.close();
      await expect(tracing.flush()).rejects.toThrow();
      expect(tracing.stats.failed).toBe(1);
      expect(errors).toHaveLength(1);
    });

    it("rejects bad input with a validation error", async () => {
      const { store, spans } = await setup();
      await expect(startTracing(store, { maxQueueSize: -1 })).rejects.toBeInstanceOf(ValidationError);
      await expect(startTracing(store, { maxQueueSize: 10, maxExportBatchSize: 20 })).rejects.toThrow(
        /maxExportBatchSize/,
      );
      await expect(withSpan("", "x", {}, () => 1)).rejects.toBeInstanceOf(ValidationError);
      await expect(spans.trace("not-a-trace")).rejects.toBeInstanceOf(ValidationError);
      await expect(spans.list({ limit: 0 })).rejects.toBeInstanceOf(ValidationError);
      await expect(spans.list({ status: "broken" as never })).rejects.toThrow(/status/);
    });
  });
}
