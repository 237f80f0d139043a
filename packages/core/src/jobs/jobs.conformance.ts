import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { CancelledError, ConflictError, NotFoundError, TimeoutError, ValidationError } from "../errors/errors.js";
import type { JobEvents, JobInfo, JobRunner } from "./types.js";

export interface ConformanceRunnerOptions {
  concurrency?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves when `signal` aborts, with its reason. */
function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener("abort", () => resolve(signal.reason), { once: true });
  });
}

/**
 * The behaviour every {@link JobRunner} must show. The in-process runner on SQLite runs it
 * in `npm test`; the in-process runner on PostgreSQL and the BullMQ runner in
 * `npm run test:services`. `make` returns a fresh runner on the same backend each call
 * (runners made within one test share their jobs). Every test uses job names and ids of
 * its own, so runs that share a database or Redis never see each other's jobs.
 */
export function runJobRunnerConformance(
  label: string,
  make: (options?: ConformanceRunnerOptions) => Promise<JobRunner>,
): void {
  describe(`job runner conformance: ${label}`, () => {
    const runners: JobRunner[] = [];
    const runner = async (options?: ConformanceRunnerOptions) => {
      const r = await make(options);
      runners.push(r);
      return r;
    };
    afterEach(async () => {
      for (const r of runners.splice(0)) await r.stop();
    });
    const tag = () => randomBytes(4).toString("hex");
    const unique = (base: string) => `${base}-${tag()}`;

    it("runs a job and records its result, attempts and timestamps", async () => {
      const r = await runner();
      const name = unique("add");
      r.register(name, async (data: { a: number; b: number }, ctx) => ({ sum: data.a + data.b, attempt: ctx.attempt }));
      await r.start();
      const id = await r.enqueue(name, { a: 2, b: 3 });
      const info = await r.wait(id, { timeoutMs: 20_000 });
      expect(info).toMatchObject({
        id,
        name,
        data: { a: 2, b: 3 },
        state: "completed",
        attempts: 1,
        priority: 0,
        result: { sum: 5, attempt: 1 },
      });
      expect(info.startedAt).toBeGreaterThanOrEqual(info.createdAt);
      expect(info.finishedAt).toBeGreaterThanOrEqual(info.startedAt!);
      expect(await r.get(id)).toEqual(info);
      expect(await r.get(`missing-${tag()}`)).toBeUndefined();
    });

    it("retries a failing job with growing, jittered backoff until it succeeds", async () => {
      const r = await runner();
      const name = unique("flaky");
      const starts: number[] = [];
      const failedAt: number[] = [];
      const attempts: number[] = [];
      r.register(
        name,
        async (_data, ctx) => {
          starts.push(Date.now());
          attempts.push(ctx.attempt);
          if (ctx.attempt < 3) {
            failedAt.push(Date.now());
            throw new Error(`boom ${ctx.attempt}`);
          }
          return "ok";
        },
        { attempts: 3, backoff: { baseMs: 60, maxMs: 1000 } },
      );
      const failed: JobEvents["failed"][] = [];
      r.on("failed", (e) => failed.push(e));
      await r.start();
      const id = await r.enqueue(name, {});
      const info = await r.wait(id, { timeoutMs: 20_000 });
      expect(info.state).toBe("completed");
      expect(info.result).toBe("ok");
      expect(info.attempts).toBe(3);
      expect(attempts).toEqual([1, 2, 3]);
      // Delays are drawn from [base/2, base] then [base, 2*base]: lower bounds only.
      expect(starts[1]! - failedAt[0]!).toBeGreaterThanOrEqual(25);
      expect(starts[2]! - failedAt[1]!).toBeGreaterThanOrEqual(55);
      expect(failed).toEqual([]);
    });

    it("fails a job for good when its attempts run out, keeping the handler's error code", async () => {
      const r = await runner();
      const plain = unique("broken");
      const typed = unique("typed");
      let runs = 0;
      r.register(
        plain,
        async () => {
          runs++;
          throw new Error("disk on fire");
        },
        { attempts: 2, backoff: { baseMs: 1, maxMs: 1 } },
      );
      r.register(typed, async () => {
        throw new ValidationError("row 3 has no email", { hint: "fix row 3" });
      });
      const failed: JobEvents["failed"][] = [];
      r.on("failed", (e) => failed.push(e));
      await r.start();
      const a = await r.enqueue(plain, {});
      const b = await r.enqueue(typed, {});
      const ia = await r.wait(a, { timeoutMs: 20_000 });
      const ib = await r.wait(b, { timeoutMs: 20_000 });
      expect(ia).toMatchObject({
        state: "failed",
        attempts: 2,
        error: { code: "JOB_FAILED", message: "disk on fire" },
      });
      expect(ia.result).toBeUndefined();
      expect(ia.finishedAt).toBeDefined();
      expect(runs).toBe(2);
      expect(ib).toMatchObject({
        state: "failed",
        attempts: 1,
        error: { code: "VALIDATION_FAILED", message: "row 3 has no email", hint: "fix row 3" },
      });
      await until("failed events", () => failed.length === 2);
      await sleep(50);
      expect(failed.map((f) => f.id).sort()).toEqual([a, b].sort());
      expect(failed.find((f) => f.id === a)).toMatchObject({ name: plain, attempts: 2, error: { code: "JOB_FAILED" } });
    });

    it("times an attempt out: the signal aborts with a TimeoutError and the attempt fails with TIMEOUT", async () => {
      const r = await runner();
      const name = unique("slow");
      const reasons: unknown[] = [];
      r.register(
        name,
        async (_data, ctx) => {
          reasons.push(await aborted(ctx.signal));
          return "too late";
        },
        { timeoutMs: 80, attempts: 2, backoff: { baseMs: 1, maxMs: 1 } },
      );
      await r.start();
      const id = await r.enqueue(name, {});
      const info = await r.wait(id, { timeoutMs: 20_000 });
      expect(info).toMatchObject({ state: "failed", attempts: 2, error: { code: "TIMEOUT" } });
      expect(info.error?.message).toContain("timed out after 80 ms");
      await until("both attempts saw the abort", () => reasons.length === 2);
      for (const reason of reasons) expect(reason).toBeInstanceOf(TimeoutError);
    });

    it("cancels a queued job at once: it never runs", async () => {
      const r = await runner();
      const name = unique("never");
      let ran = false;
      r.register(name, async () => {
        ran = true;
      });
      const cancelled: JobEvents["cancelled"][] = [];
      r.on("cancelled", (e) => cancelled.push(e));
      const id = await r.enqueue(name, { x: 1 }, { delayMs: 300 });
      expect((await r.get(id))?.state).toBe("queued");
      expect(await r.cancel(id)).toBe(true);
      const info = await r.get(id);
      expect(info).toMatchObject({ id, name, state: "cancelled", data: { x: 1 } });
      expect(info?.finishedAt).toBeDefined();
      expect(await r.cancel(id)).toBe(false);
      await r.start();
      await sleep(500);
      expect(ran).toBe(false);
      expect((await r.get(id))?.state).toBe("cancelled");
      expect((await r.wait(id, { timeoutMs: 5000 })).state).toBe("cancelled");
      await until("cancelled event", () => cancelled.length === 1);
      expect(cancelled[0]).toEqual({ id, name });
      expect((await r.list({ name, state: "cancelled" })).map((j) => j.id)).toEqual([id]);
      expect(await r.list({ name, state: "queued" })).toEqual([]);
    });

    it("cancels an active job: its signal aborts, its state is cancelled and a late result is discarded", async () => {
      const r = await runner();
      const name = unique("long");
      const started = deferred();
      const reason = deferred<unknown>();
      const completed: string[] = [];
      r.register(name, async (_data, ctx) => {
        started.resolve();
        reason.resolve(await aborted(ctx.signal));
        await sleep(50);
        return "finished anyway";
      });
      r.on("completed", (e) => completed.push(e.id));
      await r.start();
      const id = await r.enqueue(name, {});
      await started.promise;
      expect((await r.get(id))?.state).toBe("active");
      expect(await r.cancel(id)).toBe(true);
      expect((await r.get(id))?.state).toBe("cancelled");
      expect(await reason.promise).toBeInstanceOf(CancelledError);
      const info = await r.wait(id, { timeoutMs: 10_000 });
      expect(info.state).toBe("cancelled");
      expect(info.result).toBeUndefined();
      await sleep(200);
      const later = await r.get(id);
      expect(later?.state).toBe("cancelled");
      expect(later?.result).toBeUndefined();
      expect(completed).toEqual([]);
      expect(await r.cancel(id)).toBe(false);
    });

    it("cancels a job that another runner is running: that runner's handler sees the abort", async () => {
      const worker = await runner();
      const other = await runner();
      const name = unique("remote");
      const started = deferred();
      const reason = deferred<unknown>();
      worker.register(name, async (_data, ctx) => {
        started.resolve();
        reason.resolve(await aborted(ctx.signal));
        return "ignored";
      });
      other.register(name, async () => "never here");
      await worker.start();
      const id = await other.enqueue(name, {});
      await started.promise;
      expect(await other.cancel(id)).toBe(true);
      expect((await other.get(id))?.state).toBe("cancelled");
      expect(await reason.promise).toBeInstanceOf(CancelledError);
      await sleep(100);
      expect((await worker.get(id))?.state).toBe("cancelled");
      expect((await worker.get(id))?.result).toBeUndefined();
    });

    it("does not cancel a finished job and refuses an unknown id", async () => {
      const r = await runner();
      const name = unique("quick");
      r.register(name, async () => 1);
      await r.start();
      const id = await r.enqueue(name, {});
      await r.wait(id, { timeoutMs: 20_000 });
      expect(await r.cancel(id)).toBe(false);
      expect((await r.get(id))?.state).toBe("completed");
      await expect(r.cancel(`nope-${tag()}`)).rejects.toBeInstanceOf(NotFoundError);
      await expect(r.wait(`nope-${tag()}`)).rejects.toBeInstanceOf(NotFoundError);
    });

    it("reports progress as events, in order, and keeps the latest on the job", async () => {
      const r = await runner();
      const name = unique("progress");
      r.register(name, async (_data, ctx) => {
        ctx.progress(0.25);
        ctx.progress({ done: 3, total: 4, message: "almost" });
        expect(() => ctx.progress(2)).toThrow(ValidationError);
        return "done";
      });
      const events: JobEvents["progress"][] = [];
      const done = deferred();
      r.on("progress", (e) => events.push(e));
      r.on("completed", () => done.resolve());
      await r.start();
      const id = await r.enqueue(name, {});
      await r.wait(id, { timeoutMs: 20_000 });
      await done.promise;
      await until("progress events", () => events.length === 2);
      expect(events).toEqual([
        { id, name, progress: { fraction: 0.25 } },
        { id, name, progress: { fraction: 0.75, done: 3, total: 4, message: "almost" } },
      ]);
      expect((await r.get(id))?.progress).toEqual({ fraction: 0.75, done: 3, total: 4, message: "almost" });
    });

    it("never runs more jobs of a name at once than its concurrency", async () => {
      const r = await runner({ concurrency: 8 });
      const name = unique("limited");
      const gate = deferred();
      let running = 0;
      let peak = 0;
      let started = 0;
      r.register(
        name,
        async () => {
          started++;
          running++;
          peak = Math.max(peak, running);
          await gate.promise;
          running--;
        },
        { concurrency: 2 },
      );
      await r.start();
      const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => r.enqueue(name, { i })));
      await until("two jobs running", () => started === 2);
      // Room for a third job to start if the limit were not honoured.
      await sleep(300);
      expect(started).toBe(2);
      expect((await r.list({ name, state: "active" })).length).toBe(2);
      gate.resolve();
      for (const id of ids) expect((await r.wait(id, { timeoutMs: 20_000 })).state).toBe("completed");
      expect(peak).toBe(2);
      expect(started).toBe(6);
    });

    it("validates data and options at enqueue, naming the field, and stores nothing", async () => {
      const r = await runner();
      const name = unique("email");
      const schema = z.object({ to: z.email(), count: z.number().int().default(1) });
      const seen: unknown[] = [];
      r.register(
        name,
        async (data) => {
          seen.push(data);
          return data.count;
        },
        { schema },
      );
      await r.start();
      const err = await r.enqueue(name, { to: "not-an-email" }).catch((e) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.code).toBe("VALIDATION_FAILED");
      expect(err.message).toContain('"to"');
      expect(err.details.issues[0].field).toBe("to");
      const nested = await r.enqueue(name, { to: "a@b.co", count: "x" }).catch((e) => e);
      expect(nested.message).toContain('"count"');
      await expect(r.enqueue(name, { to: "a@b.co" }, { priority: -1 })).rejects.toThrow(/"priority"/);
      await expect(r.enqueue(name, { to: "a@b.co" }, { jobId: "has space" })).rejects.toThrow(/"jobId"/);
      await expect(r.enqueue(name, { to: "a@b.co" }, { jobId: "12345" })).rejects.toThrow(/"jobId"/);
      await expect(r.enqueue(`unregistered-${tag()}`, {})).rejects.toBeInstanceOf(NotFoundError);
      expect(await r.list({ name })).toEqual([]);
      const id = await r.enqueue(name, { to: "a@b.co" });
      const info = await r.wait(id, { timeoutMs: 20_000 });
      // The schema's default was applied before the job was stored.
      expect(info.data).toEqual({ to: "a@b.co", count: 1 });
      expect(info.result).toBe(1);
      expect(seen).toEqual([{ to: "a@b.co", count: 1 }]);
      expect(() => r.register(name, async () => 0)).toThrow(ConflictError);
      expect(() => r.register("bad name!", async () => 0)).toThrow(ValidationError);
      expect(() => r.register(unique("opts"), async () => 0, { attempts: 0 })).toThrow(/"attempts"/);
    });

    it("treats a job id as an idempotency key", async () => {
      const r = await runner();
      const name = unique("once");
      const other = unique("other");
      let runs = 0;
      r.register(name, async (data: { v: number }) => {
        runs++;
        return data.v;
      });
      r.register(other, async () => 0);
      const jobId = `order-${tag()}`;
      expect(await r.enqueue(name, { v: 1 }, { jobId })).toBe(jobId);
      expect(await r.enqueue(name, { v: 2 }, { jobId })).toBe(jobId);
      await expect(r.enqueue(other, {}, { jobId })).rejects.toBeInstanceOf(ConflictError);
      await r.start();
      const info = await r.wait(jobId, { timeoutMs: 20_000 });
      expect(info).toMatchObject({ state: "completed", data: { v: 1 }, result: 1 });
      expect(await r.enqueue(name, { v: 3 }, { jobId })).toBe(jobId);
      await sleep(200);
      expect(runs).toBe(1);
      expect((await r.list({ name })).map((j) => j.id)).toEqual([jobId]);
    });

    it("runs due jobs by priority (0 first), then in enqueue order, and holds delayed jobs back", async () => {
      const r = await runner({ concurrency: 1 });
      const name = unique("ordered");
      const order: string[] = [];
      r.register(
        name,
        async (data: { label: string }) => {
          order.push(data.label);
        },
        { concurrency: 1 },
      );
      const delayed = await r.enqueue(name, { label: "delayed" }, { delayMs: 400 });
      const ids = [
        await r.enqueue(name, { label: "p5" }, { priority: 5 }),
        await r.enqueue(name, { label: "default-1" }),
        await r.enqueue(name, { label: "p1" }, { priority: 1 }),
        await r.enqueue(name, { label: "default-2" }, { priority: 0 }),
      ];
      await r.start();
      for (const id of ids) await r.wait(id, { timeoutMs: 20_000 });
      const d = await r.wait(delayed, { timeoutMs: 20_000 });
      expect(order).toEqual(["default-1", "default-2", "p1", "p5", "delayed"]);
      expect(d.startedAt! - d.createdAt).toBeGreaterThanOrEqual(390);
      expect((await r.get(ids[0]!))?.priority).toBe(5);
    });

    it("shares the queue between runners: every job runs once", async () => {
      const producer = await runner();
      const a = await runner({ concurrency: 3 });
      const b = await runner({ concurrency: 3 });
      const name = unique("shared");
      const runs = new Map<number, number>();
      const handler = async (data: { i: number }) => {
        runs.set(data.i, (runs.get(data.i) ?? 0) + 1);
        await sleep(5);
        return data.i * 2;
      };
      producer.register(name, handler);
      a.register(name, handler);
      b.register(name, handler);
      await a.start();
      await b.start();
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => producer.enqueue(name, { i })));
      const infos = await Promise.all(ids.map((id) => producer.wait(id, { timeoutMs: 30_000 })));
      expect(infos.map((i) => i.state)).toEqual(Array(30).fill("completed"));
      expect(infos.map((i) => i.result)).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
      expect([...runs.values()]).toEqual(Array(30).fill(1));
    });

    it("lists jobs by name and state, most recent first", async () => {
      const r = await runner();
      const x = unique("lx");
      const y = unique("ly");
      r.register(x, async () => "x");
      r.register(y, async () => {
        throw new Error("no");
      });
      await r.start();
      const x1 = await r.enqueue(x, {});
      await r.wait(x1, { timeoutMs: 20_000 });
      await sleep(5);
      const x2 = await r.enqueue(x, {});
      const y1 = await r.enqueue(y, {});
      await r.wait(x2, { timeoutMs: 20_000 });
      await r.wait(y1, { timeoutMs: 20_000 });
      expect((await r.list({ name: x })).map((j) => j.id)).toEqual([x2, x1]);
      expect((await r.list({ name: x, limit: 1 })).map((j) => j.id)).toEqual([x2]);
      expect((await r.list({ name: y, state: "failed" })).map((j) => j.id)).toEqual([y1]);
      expect(await r.list({ name: y, state: "completed" })).toEqual([]);
      const all = await r.list({ state: "completed" });
      expect(all.map((j) => j.id)).toEqual(expect.arrayContaining([x1, x2]));
      expect(all.every((j: JobInfo) => j.state === "completed")).toBe(true);
      await expect(r.list({ state: "done" as never })).rejects.toBeInstanceOf(ValidationError);
    });

    it("gives up waiting with a TimeoutError while the job keeps going", async () => {
      const r = await runner();
      const name = unique("waited");
      const gate = deferred();
      r.register(name, async () => {
        await gate.promise;
        return "late";
      });
      await r.start();
      const id = await r.enqueue(name, {});
      const err = await r.wait(id, { timeoutMs: 100 }).catch((e) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err.message).toContain(id);
      gate.resolve();
      expect((await r.wait(id, { timeoutMs: 20_000 })).result).toBe("late");
    });

    it("stops gracefully: finishes active jobs, and with drain also the queued ones", async () => {
      const r = await runner({ concurrency: 1 });
      const name = unique("graceful");
      const started = deferred();
      let sawAbort = false;
      r.register(
        name,
        async (data: { i: number }, ctx) => {
          started.resolve();
          await sleep(100);
          sawAbort ||= ctx.signal.aborted;
          return data.i;
        },
        { concurrency: 1 },
      );
      await r.start();
      const first = await r.enqueue(name, { i: 1 });
      await started.promise;
      await r.stop();
      expect(sawAbort).toBe(false);
      const reader = await runner();
      expect((await reader.get(first))?.state).toBe("completed");

      const d = await runner({ concurrency: 1 });
      d.register(name, async (data: { i: number }) => data.i, { concurrency: 1 });
      const ids = await Promise.all([2, 3, 4].map((i) => d.enqueue(name, { i })));
      await d.start();
      await d.stop({ drain: true });
      for (const id of ids) expect((await reader.get(id))?.state).toBe("completed");
      await expect(d.enqueue(name, { i: 5 })).rejects.toBeInstanceOf(ConflictError);
    });
  });
}
