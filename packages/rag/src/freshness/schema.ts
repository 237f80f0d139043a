import { columnTypes, type Migration } from "@quintet/core";

/** Tables of the `rag-sync` room. */
export type SyncTables = {
  /** What the last syncs saw of each document, per collection: the basis of new/changed/deleted. */
  rag_sync_documents: {
    collection: string;
    document_id: string;
    source_name: string;
    source_key: string;
    title: string;
    uri: string;
    content_hash: string;
    fingerprint: string;
    /** `live` or `deleted` (a tombstone is also written to `rag_sync_tombstones`). */
    status: string;
    first_seen_at: number;
    /** When the content last changed (added or edited). */
    changed_at: number;
    /** When a sync last found the document in its source. */
    seen_at: number;
    /** The `fetched_at` the index holds for it (moved forward when a TTL'd document is confirmed). */
    fetched_at: number;
    deleted_at: number | null;
    last_run: string;
  };
  /** One row per deletion (deleted at the source, or expired by TTL): the audit trail of removals. */
  rag_sync_tombstones: {
    id: string;
    collection: string;
    document_id: string;
    source_name: string;
    source_key: string;
    title: string;
    content_hash: string;
    reason: string;
    deleted_at: number;
    run_id: string | null;
  };
  rag_sync_runs: {
    id: string;
    collection: string;
    source_name: string;
    /** `running`, `completed`, `failed`, or `interrupted` (found running with a stale heartbeat). */
    status: string;
    started_at: number;
    heartbeat_at: number;
    finished_at: number | null;
    added: number;
    changed: number;
    unchanged: number;
    deleted: number;
    kept: number;
    warnings: number;
    error: string | null;
  };
  /** Sources registered for scheduled syncs: how to build them, how often, and their TTL. */
  rag_sync_sources: {
    collection: string;
    name: string;
    spec: string;
    interval_ms: number | null;
    ttl_ms: number | null;
    created_at: number;
    updated_at: number;
    next_run_at: number | null;
  };
};

export const syncMigrations: Migration[] = [
  {
    id: "0001_sync_state",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("rag_sync_documents")
        .addColumn("collection", "text", (c) => c.notNull())
        .addColumn("document_id", "text", (c) => c.notNull())
        .addColumn("source_name", "text", (c) => c.notNull())
        .addColumn("source_key", "text", (c) => c.notNull())
        .addColumn("title", "text", (c) => c.notNull())
        .addColumn("uri", "text", (c) => c.notNull())
        .addColumn("content_hash", "text", (c) => c.notNull())
        .addColumn("fingerprint", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("first_seen_at", t.bigint, (c) => c.notNull())
        .addColumn("changed_at", t.bigint, (c) => c.notNull())
        .addColumn("seen_at", t.bigint, (c) => c.notNull())
        .addColumn("fetched_at", t.bigint, (c) => c.notNull())
        .addColumn("deleted_at", t.bigint)
        .addColumn("last_run", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("rag_sync_documents_pk", ["collection", "document_id"])
        .execute();
      await db.schema
        .createIndex("rag_sync_documents_source")
        .on("rag_sync_documents")
        .columns(["collection", "source_name", "status"])
        .execute();
      await db.schema
        .createTable("rag_sync_tombstones")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("collection", "text", (c) => c.notNull())
        .addColumn("document_id", "text", (c) => c.notNull())
        .addColumn("source_name", "text", (c) => c.notNull())
        .addColumn("source_key", "text", (c) => c.notNull())
        .addColumn("title", "text", (c) => c.notNull())
        .addColumn("content_hash", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("deleted_at", t.bigint, (c) => c.notNull())
        .addColumn("run_id", "text")
        .execute();
      await db.schema
        .createIndex("rag_sync_tombstones_by_collection")
        .on("rag_sync_tombstones")
        .columns(["collection", "deleted_at"])
        .execute();
      await db.schema
        .createTable("rag_sync_runs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("collection", "text", (c) => c.notNull())
        .addColumn("source_name", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("started_at", t.bigint, (c) => c.notNull())
        .addColumn("heartbeat_at", t.bigint, (c) => c.notNull())
        .addColumn("finished_at", t.bigint)
        .addColumn("added", "integer", (c) => c.notNull())
        .addColumn("changed", "integer", (c) => c.notNull())
        .addColumn("unchanged", "integer", (c) => c.notNull())
        .addColumn("deleted", "integer", (c) => c.notNull())
        .addColumn("kept", "integer", (c) => c.notNull())
        .addColumn("warnings", "integer", (c) => c.notNull())
        .addColumn("error", "text")
        .execute();
      await db.schema
        .createIndex("rag_sync_runs_by_source")
        .on("rag_sync_runs")
        .columns(["collection", "source_name", "started_at"])
        .execute();
      await db.schema
        .createTable("rag_sync_sources")
        .addColumn("collection", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("spec", t.json, (c) => c.notNull())
        .addColumn("interval_ms", t.bigint)
        .addColumn("ttl_ms", t.bigint)
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addColumn("updated_at", t.bigint, (c) => c.notNull())
        .addColumn("next_run_at", t.bigint)
        .addPrimaryKeyConstraint("rag_sync_sources_pk", ["collection", "name"])
        .execute();
    },
  },
];
