import type { Kysely } from "kysely";
import { z } from "zod";
import { ValidationError } from "../errors/errors.js";
import { kyselyModule } from "../store/kysely.js";
import type { Store } from "../store/store.js";
import type { CoreTables } from "../store/types.js";
import { migrateTracing } from "./migrations.js";
import { rowToRecord, type SpanKind, type SpanRecord, type SpanStatus, type TracingTables } from "./model.js";

const time = z.union([z.number().finite(), z.date().transform((d) => d.getTime())]);

const listSchema = z
  .object({
    kind: z.string().min(1).optional(),
    name: z.string().optional(),
    status: z.enum(["ok", "error"]).optional(),
    /** Spans that started at or after this time (epoch ms or Date). */
    since: time.optional(),
    /** Spans that started before this time (epoch ms or Date). */
    until: time.optional(),
    limit: z.number().int().positive().max(100_000).default(100),
  })
  .strict();

const summarySchema = z
  .object({
    kind: z.string().min(1).optional(),
    since: time.optional(),
    until: time.optional(),
  })
  .strict();

export type SpanListFilter = z.input<typeof listSchema> & { kind?: SpanKind; status?: SpanStatus };
export type SpanSummaryFilter = z.input<typeof summarySchema> & { kind?: SpanKind };

/** Counts, latency and usage of one kind of span. */
export interface SpanKindSummary {
  kind: string;
  count: number;
  errors: number;
  /** Median duration (nearest rank), ms. */
  p50Ms: number;
  /** 95th percentile duration (nearest rank), ms. */
  p95Ms: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** A span of a trace in tree order, with its depth (0 for roots). */
export type TraceSpan = SpanRecord & { depth: number };

function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new ValidationError(`invalid ${what} filter ${issue?.path.join(".") || "(root)"}: ${issue?.message}`, {
    hint: "Filter with kind, name, status (ok|error), since/until (epoch ms or Date) and a positive limit.",
    details: { issues: r.error.issues },
  });
}

/**
 * Reads the spans recorded in a store: one trace as a tree, a filtered list, or a
 * per-kind summary of counts, errors, latency percentiles, tokens and cost.
 *
 * @example
 * const spans = new SpanQuery(store);
 * const tree = await spans.trace(traceId);
 * const failures = await spans.list({ kind: "llm.call", status: "error", since: Date.now() - 3_600_000 });
 */
export class SpanQuery {
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  private async db(): Promise<Kysely<CoreTables & TracingTables>> {
    await migrateTracing(this.store);
    return this.store.db.withTables<TracingTables>();
  }

  /**
   * Every span of a trace, parents before children and siblings by start time. Spans
   * whose parent is not in the store (a remote parent, or not written yet) count as roots.
   */
  async trace(traceId: string): Promise<TraceSpan[]> {
    if (typeof traceId !== "string" || !/^[0-9a-f]{32}$/.test(traceId)) {
      throw new ValidationError(`"${String(traceId)}" is not a trace id`, {
        hint: "A trace id is 32 lowercase hex characters, as SpanHandle.traceId or SpanRecord.traceId give it.",
      });
    }
    const db = await this.db();
    const rows = await db
      .selectFrom("spans")
      .selectAll()
      .where("trace_id", "=", traceId)
      .orderBy("start_ms")
      .orderBy("span_id")
      .execute();
    const records = rows.map(rowToRecord);
    const ids = new Set(records.map((r) => r.spanId));
    const children = new Map<string | null, SpanRecord[]>();
    for (const r of records) {
      const parent = r.parentId !== null && ids.has(r.parentId) ? r.parentId : null;
      let list = children.get(parent);
      if (!list) children.set(parent, (list = []));
      list.push(r);
    }
    const out: TraceSpan[] = [];
    // Iterative depth-first walk; rows are already in start order within each parent.
    const stack: Array<[SpanRecord, number]> = (children.get(null) ?? []).map((r) => [r, 0] as [SpanRecord, number]);
    stack.reverse();
    while (stack.length > 0) {
      const [r, depth] = stack.pop()!;
      out.push({ ...r, depth });
      const kids = children.get(r.spanId);
      if (kids) for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i]!, depth + 1]);
    }
    return out;
  }

  /** Spans matching the filter, newest first. */
  async list(filter: SpanListFilter = {}): Promise<SpanRecord[]> {
    const f = parse(listSchema, filter, "span list");
    const db = await this.db();
    let q = db.selectFrom("spans").selectAll();
    if (f.kind !== undefined) q = q.where("kind", "=", f.kind);
    if (f.name !== undefined) q = q.where("name", "=", f.name);
    if (f.status !== undefined) q = q.where("status", "=", f.status);
    if (f.since !== undefined) q = q.where("start_ms", ">=", f.since);
    if (f.until !== undefined) q = q.where("start_ms", "<", f.until);
    const rows = await q.orderBy("start_ms", "desc").orderBy("span_id").limit(f.limit).execute();
    return rows.map(rowToRecord);
  }

  /** Per-kind counts, error counts, p50/p95 latency, tokens and cost, sorted by kind. */
  async summary(filter: SpanSummaryFilter = {}): Promise<SpanKindSummary[]> {
    const f = parse(summarySchema, filter, "span summary");
    const db = await this.db();
    const { sql } = await kyselyModule();
    let q = db.selectFrom("spans");
    if (f.kind !== undefined) q = q.where("kind", "=", f.kind);
    if (f.since !== undefined) q = q.where("start_ms", ">=", f.since);
    if (f.until !== undefined) q = q.where("start_ms", "<", f.until);
    const groups = await q
      .select([
        "kind",
        sql<number>`count(*)`.as("count"),
        sql<number>`sum(case when status = 'error' then 1 else 0 end)`.as("errors"),
        sql<number>`coalesce(sum(input_tokens), 0)`.as("input_tokens"),
        sql<number>`coalesce(sum(output_tokens), 0)`.as("output_tokens"),
        sql<number>`coalesce(sum(cost_usd), 0)`.as("cost_usd"),
      ])
      .groupBy("kind")
      .orderBy("kind")
      .execute();
    const out: SpanKindSummary[] = [];
    for (const g of groups) {
      const count = Number(g.count);
      // Nearest-rank percentiles by offset: the same SQL on SQLite and PostgreSQL, and
      // only two rows travel back per kind.
      const at = async (p: number): Promise<number> => {
        const row = await q
          .select("duration_ms")
          .where("kind", "=", g.kind)
          .orderBy("duration_ms")
          .limit(1)
          .offset(Math.max(0, Math.ceil(p * count) - 1))
          .executeTakeFirst();
        return Number(row?.duration_ms ?? 0);
      };
      out.push({
        kind: g.kind,
        count,
        errors: Number(g.errors),
        p50Ms: await at(0.5),
        p95Ms: await at(0.95),
        inputTokens: Number(g.input_tokens),
        outputTokens: Number(g.output_tokens),
        costUsd: Number(g.cost_usd),
      });
    }
    return out;
  }
}
