import { randomUUID } from "node:crypto";
import { ConflictError, type Store } from "@quintet/core";
import type { Kysely } from "kysely";
import { type SyncTables, syncMigrations } from "./schema.js";

/** A document as the sync state remembers it. */
export interface SyncedDocument {
  documentId: string;
  sourceName: string;
  sourceKey: string;
  title: string;
  uri: string;
  contentHash: string;
  fingerprint: string;
  status: "live" | "deleted";
  firstSeenAt: number;
  changedAt: number;
  seenAt: number;
  fetchedAt: number;
  deletedAt: number | null;
  lastRun: string;
}

/** A recorded removal. */
export interface Tombstone {
  id: string;
  collection: string;
  documentId: string;
  sourceName: string;
  sourceKey: string;
  title: string;
  contentHash: string;
  /** `deleted` (gone from the source) or `expired` (older than the source's TTL). */
  reason: "deleted" | "expired";
  deletedAt: number;
  runId: string | null;
}

export type SyncRunStatus = "running" | "completed" | "failed" | "interrupted";

export interface SyncCounts {
  added: number;
  changed: number;
  unchanged: number;
  deleted: number;
  /** Documents the source could not read this time, kept as they were. */
  kept: number;
  warnings: number;
}

export interface SyncRun extends SyncCounts {
  id: string;
  collection: string;
  sourceName: string;
  status: SyncRunStatus;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
}

/** A source registered for scheduled syncs. */
export interface RegisteredSource {
  collection: string;
  name: string;
  /** How to build the source (see {@link SourceSpec}). */
  spec: unknown;
  intervalMs: number | null;
  ttlMs: number | null;
  createdAt: number;
  updatedAt: number;
  nextRunAt: number | null;
}

/** One row of a document written in a sync batch. */
export interface SyncedRow {
  documentId: string;
  sourceName: string;
  sourceKey: string;
  title: string;
  uri: string;
  contentHash: string;
  fingerprint: string;
  /** Whether it was added (or re-added after a tombstone), changed, or seen unchanged. */
  change: "added" | "changed" | "unchanged";
  /** The fetched_at now in the index, when it was written or touched in this batch. */
  fetchedAt?: number;
}

const IN_BATCH = 500;
function chunks<T>(xs: readonly T[], n = IN_BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * The sync state of the `rag-sync` room in the core store: which documents each collection holds
 * from each source (content hash, fingerprint, when seen and changed), tombstones for removals,
 * sync runs with their counts and heartbeats, and registered sources for scheduled re-syncs. The
 * same code runs on SQLite and PostgreSQL.
 */
export class SyncState {
  constructor(readonly store: Store) {}

  /** @internal */
  async db(): Promise<Kysely<SyncTables>> {
    await this.store.migrate("rag-sync", syncMigrations);
    return this.store.db.withTables<SyncTables>() as unknown as Kysely<SyncTables>;
  }

  /**
   * Starts a run. A run of the same source whose heartbeat is older than `staleAfterMs` (its
   * process died) is marked `interrupted`; a live one is a ConflictError, so two processes never
   * sync one source into one collection at once.
   */
  async beginRun(collection: string, source: string, now: number, staleAfterMs: number): Promise<string> {
    await this.db();
    const id = `sync_${randomUUID()}`;
    await this.store.tx(async (raw) => {
      const db = raw.withTables<SyncTables>() as unknown as Kysely<SyncTables>;
      const running = await db
        .selectFrom("rag_sync_runs")
        .select(["id", "heartbeat_at", "started_at"])
        .where("collection", "=", collection)
        .where("source_name", "=", source)
        .where("status", "=", "running")
        .execute();
      for (const r of running) {
        if (now - Number(r.heartbeat_at) < staleAfterMs) {
          throw new ConflictError(
            `source "${source}" is already being synced into "${collection}" (run ${r.id}, started ${new Date(Number(r.started_at)).toISOString()})`,
            { hint: "Wait for it to finish; a run whose process died is taken over once its heartbeat is stale." },
          );
        }
      }
      if (running.length) {
        await db
          .updateTable("rag_sync_runs")
          .set({ status: "interrupted", finished_at: now, error: "the process running the sync stopped" })
          .where(
            "id",
            "in",
            running.map((r) => r.id),
          )
          .execute();
      }
      await db
        .insertInto("rag_sync_runs")
        .values({
          id,
          collection,
          source_name: source,
          status: "running",
          started_at: now,
          heartbeat_at: now,
          finished_at: null,
          added: 0,
          changed: 0,
          unchanged: 0,
          deleted: 0,
          kept: 0,
          warnings: 0,
          error: null,
        })
        .execute();
    });
    return id;
  }

  async heartbeat(runId: string, counts: SyncCounts, now: number): Promise<void> {
    await (await this.db())
      .updateTable("rag_sync_runs")
      .set({ heartbeat_at: now, ...counts })
      .where("id", "=", runId)
      .execute();
  }

  async finishRun(
    runId: string,
    status: Exclude<SyncRunStatus, "running">,
    counts: SyncCounts,
    now: number,
    error?: string,
  ): Promise<void> {
    await (await this.db())
      .updateTable("rag_sync_runs")
      .set({ status, finished_at: now, heartbeat_at: now, error: error ?? null, ...counts })
      .where("id", "=", runId)
      .execute();
  }

  /** Every document of a source in a collection (live and tombstoned), by id. */
  async documents(collection: string, source?: string): Promise<Map<string, SyncedDocument>> {
    let q = (await this.db()).selectFrom("rag_sync_documents").selectAll().where("collection", "=", collection);
    if (source !== undefined) q = q.where("source_name", "=", source);
    const out = new Map<string, SyncedDocument>();
    for (const r of await q.execute()) out.set(r.document_id, toDoc(r));
    return out;
  }

  /** Records a batch of documents seen by a run, in one transaction. */
  async recordBatch(collection: string, runId: string, rows: readonly SyncedRow[], now: number): Promise<void> {
    if (rows.length === 0) return;
    await this.db();
    await this.store.tx(async (raw) => {
      const db = raw.withTables<SyncTables>() as unknown as Kysely<SyncTables>;
      const unchanged = rows.filter((r) => r.change === "unchanged" && r.fetchedAt === undefined);
      for (const part of chunks(unchanged.map((r) => r.documentId))) {
        await db
          .updateTable("rag_sync_documents")
          .set({ seen_at: now, last_run: runId })
          .where("collection", "=", collection)
          .where("document_id", "in", part)
          .execute();
      }
      for (const r of rows) {
        if (r.change === "unchanged" && r.fetchedAt === undefined) continue;
        const touched = r.change === "unchanged";
        const row = {
          collection,
          document_id: r.documentId,
          source_name: r.sourceName,
          source_key: r.sourceKey,
          title: r.title,
          uri: r.uri,
          content_hash: r.contentHash,
          fingerprint: r.fingerprint,
          status: "live",
          first_seen_at: now,
          changed_at: now,
          seen_at: now,
          fetched_at: r.fetchedAt ?? now,
          deleted_at: null,
          last_run: runId,
        };
        await db
          .insertInto("rag_sync_documents")
          .values(row)
          .onConflict((oc) =>
            oc.columns(["collection", "document_id"]).doUpdateSet((eb) => ({
              source_name: row.source_name,
              source_key: row.source_key,
              title: row.title,
              uri: row.uri,
              content_hash: row.content_hash,
              fingerprint: row.fingerprint,
              status: "live",
              // A re-added document starts a new life; an edited one keeps its first sighting.
              first_seen_at: r.change === "added" ? now : eb.ref("rag_sync_documents.first_seen_at"),
              changed_at: touched ? eb.ref("rag_sync_documents.changed_at") : now,
              seen_at: now,
              fetched_at: row.fetched_at,
              deleted_at: null,
              last_run: runId,
            })),
          )
          .execute();
      }
    });
  }

  /** Marks documents deleted and writes a tombstone for each, in one transaction. */
  async markDeleted(
    collection: string,
    docs: ReadonlyArray<Pick<SyncedDocument, "documentId" | "sourceName" | "sourceKey" | "title" | "contentHash">>,
    reason: Tombstone["reason"],
    runId: string | null,
    now: number,
  ): Promise<void> {
    if (docs.length === 0) return;
    await this.db();
    await this.store.tx(async (raw) => {
      const db = raw.withTables<SyncTables>() as unknown as Kysely<SyncTables>;
      for (const part of chunks(docs)) {
        await db
          .updateTable("rag_sync_documents")
          .set({ status: "deleted", deleted_at: now, ...(runId ? { last_run: runId } : {}) })
          .where("collection", "=", collection)
          .where(
            "document_id",
            "in",
            part.map((d) => d.documentId),
          )
          .execute();
        await db
          .insertInto("rag_sync_tombstones")
          .values(
            part.map((d) => ({
              id: `tomb_${randomUUID()}`,
              collection,
              document_id: d.documentId,
              source_name: d.sourceName,
              source_key: d.sourceKey,
              title: d.title,
              content_hash: d.contentHash,
              reason,
              deleted_at: now,
              run_id: runId,
            })),
          )
          .execute();
      }
    });
  }

  /** Tombstones of a collection, newest first. */
  async tombstones(
    collection: string,
    options: { source?: string; since?: number; limit?: number } = {},
  ): Promise<Tombstone[]> {
    let q = (await this.db())
      .selectFrom("rag_sync_tombstones")
      .selectAll()
      .where("collection", "=", collection)
      .orderBy("deleted_at", "desc")
      .limit(options.limit ?? 1000);
    if (options.source !== undefined) q = q.where("source_name", "=", options.source);
    if (options.since !== undefined) q = q.where("deleted_at", ">=", options.since);
    return (await q.execute()).map((r) => ({
      id: r.id,
      collection: r.collection,
      documentId: r.document_id,
      sourceName: r.source_name,
      sourceKey: r.source_key,
      title: r.title,
      contentHash: r.content_hash,
      reason: r.reason as Tombstone["reason"],
      deletedAt: Number(r.deleted_at),
      runId: r.run_id,
    }));
  }

  /** Sync runs, newest first. */
  async runs(collection?: string, options: { source?: string; limit?: number } = {}): Promise<SyncRun[]> {
    let q = (await this.db())
      .selectFrom("rag_sync_runs")
      .selectAll()
      .orderBy("started_at", "desc")
      .limit(options.limit ?? 50);
    if (collection !== undefined) q = q.where("collection", "=", collection);
    if (options.source !== undefined) q = q.where("source_name", "=", options.source);
    return (await q.execute()).map((r) => ({
      id: r.id,
      collection: r.collection,
      sourceName: r.source_name,
      status: r.status as SyncRunStatus,
      startedAt: Number(r.started_at),
      finishedAt: r.finished_at === null ? null : Number(r.finished_at),
      added: Number(r.added),
      changed: Number(r.changed),
      unchanged: Number(r.unchanged),
      deleted: Number(r.deleted),
      kept: Number(r.kept),
      warnings: Number(r.warnings),
      error: r.error,
    }));
  }

  /** Registers (or updates) a source for scheduled syncs. */
  async registerSource(
    collection: string,
    name: string,
    spec: unknown,
    options: { intervalMs?: number | null; ttlMs?: number | null; now: number },
  ): Promise<RegisteredSource> {
    const db = await this.db();
    const row = {
      collection,
      name,
      spec: JSON.stringify(spec),
      interval_ms: options.intervalMs ?? null,
      ttl_ms: options.ttlMs ?? null,
      created_at: options.now,
      updated_at: options.now,
      next_run_at: options.intervalMs ? options.now : null,
    };
    await db
      .insertInto("rag_sync_sources")
      .values(row)
      .onConflict((oc) =>
        oc.columns(["collection", "name"]).doUpdateSet({
          spec: row.spec,
          interval_ms: row.interval_ms,
          ttl_ms: row.ttl_ms,
          updated_at: row.updated_at,
          next_run_at: row.next_run_at,
        }),
      )
      .execute();
    return (await this.sources(collection)).find((s) => s.name === name)!;
  }

  async sources(collection?: string): Promise<RegisteredSource[]> {
    let q = (await this.db()).selectFrom("rag_sync_sources").selectAll().orderBy("collection").orderBy("name");
    if (collection !== undefined) q = q.where("collection", "=", collection);
    return (await q.execute()).map((r) => ({
      collection: r.collection,
      name: r.name,
      spec: JSON.parse(r.spec),
      intervalMs: r.interval_ms === null ? null : Number(r.interval_ms),
      ttlMs: r.ttl_ms === null ? null : Number(r.ttl_ms),
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
      nextRunAt: r.next_run_at === null ? null : Number(r.next_run_at),
    }));
  }

  async setNextRun(collection: string, name: string, at: number | null): Promise<void> {
    await (await this.db())
      .updateTable("rag_sync_sources")
      .set({ next_run_at: at })
      .where("collection", "=", collection)
      .where("name", "=", name)
      .execute();
  }

  async removeSource(collection: string, name: string): Promise<boolean> {
    const r = await (await this.db())
      .deleteFrom("rag_sync_sources")
      .where("collection", "=", collection)
      .where("name", "=", name)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

function toDoc(r: SyncTables["rag_sync_documents"]): SyncedDocument {
  return {
    documentId: r.document_id,
    sourceName: r.source_name,
    sourceKey: r.source_key,
    title: r.title,
    uri: r.uri,
    contentHash: r.content_hash,
    fingerprint: r.fingerprint,
    status: r.status as SyncedDocument["status"],
    firstSeenAt: Number(r.first_seen_at),
    changedAt: Number(r.changed_at),
    seenAt: Number(r.seen_at),
    fetchedAt: Number(r.fetched_at),
    deletedAt: r.deleted_at === null ? null : Number(r.deleted_at),
    lastRun: r.last_run,
  };
}
