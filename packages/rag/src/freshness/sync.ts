import type { Store } from "@quintet/core";
import { ValidationError } from "@quintet/core";
import type { Embedder } from "@quintet/llm";
import type { Chunker } from "../chunking/types.js";
import { documentFingerprint } from "../documents/create.js";
import type { Document } from "../documents/types.js";
import type { Collection } from "../index/collection.js";
import { sqlString } from "../index/filter.js";
import { ingestDocuments } from "../index/ingest.js";
import type { Source, SourceWarning } from "../sources/types.js";
import { type SyncCounts, type SyncedDocument, type SyncedRow, SyncState } from "./state.js";

/** One document's fate in a sync, for progress output. */
export interface SyncEvent {
  change: "added" | "changed" | "deleted" | "kept";
  documentId: string;
  key: string;
  title: string;
}

export interface SyncOptions {
  store: Store;
  collection: Collection;
  /** The embedder the collection was built with. */
  embedder: Embedder;
  chunker: Chunker;
  source: Source;
  /** Documents per write (one index commit and one state transaction each); default 32. */
  batchSize?: number;
  /**
   * The source's TTL: documents are trusted this long after a sync last confirmed them. Unchanged
   * documents whose indexed `fetchedAt` is older than half the TTL get it moved forward, so
   * {@link ttlFilter} keeps what the source still has.
   */
  ttlMs?: number;
  /** A run whose heartbeat is older than this was left by a dead process and is taken over (default 10 min). */
  staleAfterMs?: number;
  signal?: AbortSignal;
  onProgress?: (counts: SyncCounts & { documents: number }) => void;
  onEvent?: (event: SyncEvent) => void;
  onWarning?: (warning: SourceWarning) => void;
  /** Clock (tests). */
  now?: () => number;
}

export interface SyncReport extends SyncCounts {
  runId: string;
  collection: string;
  source: string;
  /** Documents the source yielded. */
  documents: number;
  /** Documents chunked, embedded and written to the index (new or changed content, repairs). */
  written: number;
  /** Documents whose index rows did not match the state and were written again. */
  repaired: number;
  /** Documents whose `fetchedAt` was moved forward for the TTL. */
  touched: number;
  warningList: SourceWarning[];
  durationMs: number;
}

/**
 * Brings a collection in line with a source: documents new to the state are added, those whose
 * content hash or fingerprint changed are re-chunked and re-embedded, unchanged ones are skipped,
 * and documents the source no longer yields are deleted from the index with a tombstone.
 *
 * Crash safety: each batch is written to the index (one atomic LanceDB commit) before the state
 * records it, and deletions are decided only after the source was read to the end, so a sync that
 * dies midway leaves every document either fully old or fully new and deletes nothing; the next
 * sync skips what was already written and finishes the rest. Items the source reported as
 * unreadable (warnings with their key) are kept as they were, not deleted.
 */
export async function syncSource(options: SyncOptions): Promise<SyncReport> {
  const { collection, source } = options;
  const now = options.now ?? Date.now;
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ValidationError("batchSize must be a positive integer", { hint: "E.g. 32." });
  if (options.ttlMs !== undefined && !(options.ttlMs > 0))
    throw new ValidationError(`ttlMs must be positive, got ${options.ttlMs}`, { hint: "E.g. 7 days: 604800000." });
  const state = new SyncState(options.store);
  const started = performance.now();
  const runId = await state.beginRun(collection.name, source.name, now(), options.staleAfterMs ?? 600_000);
  const counts: SyncCounts = { added: 0, changed: 0, unchanged: 0, deleted: 0, kept: 0, warnings: 0 };
  const warnings: SourceWarning[] = [];
  let documents = 0;
  let repaired = 0;
  let written = 0;
  let touched = 0;
  let wrote = false;
  const progress = () => options.onProgress?.({ ...counts, documents });
  try {
    const known = await state.documents(collection.name, source.name);
    const seen = new Set<string>();
    let batch: Document[] = [];

    const flush = async () => {
      if (batch.length === 0) return;
      const docs = batch;
      batch = [];
      const t = now();
      const indexed = await collection.fingerprints(docs.map((d) => d.id));
      const rows: SyncedRow[] = [];
      const write: Document[] = [];
      const events: SyncEvent[] = [];
      const toTouch: string[] = [];
      for (const d of docs) {
        const fp = documentFingerprint(d);
        const prev = known.get(d.id);
        const change: SyncedRow["change"] =
          !prev || prev.status === "deleted"
            ? "added"
            : prev.contentHash !== d.contentHash || prev.fingerprint !== fp
              ? "changed"
              : "unchanged";
        const row: SyncedRow = {
          documentId: d.id,
          sourceName: source.name,
          sourceKey: d.source.key,
          title: d.title,
          uri: d.source.uri,
          contentHash: d.contentHash,
          fingerprint: fp,
          change,
        };
        // The index is the truth for what must be written: a document it already holds with this
        // fingerprint (ingested before it was synced, or written just before a crash) is not
        // embedded again; one the state calls unchanged but the index lacks (a rollback, a crash
        // between the two writes) is written again.
        if (indexed.get(d.id) !== fp) {
          if (change === "unchanged") repaired++;
          write.push(d);
          row.fetchedAt = d.fetchedAt;
        } else if (options.ttlMs !== undefined && (!prev || t - prev.fetchedAt > options.ttlMs / 2)) {
          toTouch.push(d.id);
          row.fetchedAt = t;
        }
        if (change !== "unchanged") events.push({ change, documentId: d.id, key: d.source.key, title: d.title });
        counts[change]++;
        rows.push(row);
      }
      if (write.length) {
        await ingestDocuments(write, {
          collection,
          embedder: options.embedder,
          chunker: options.chunker,
          force: true,
          optimize: false,
          batchSize: write.length,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        wrote = true;
        written += write.length;
      }
      if (toTouch.length) {
        await collection.table.update({
          where: `document_id IN (${toTouch.map(sqlString).join(", ")})`,
          values: { fetched_at: t },
        });
        touched += toTouch.length;
        wrote = true;
      }
      await state.recordBatch(collection.name, runId, rows, t);
      for (const r of rows) {
        const prev = known.get(r.documentId);
        known.set(r.documentId, {
          ...(prev ?? {
            firstSeenAt: t,
            changedAt: t,
            deletedAt: null,
          }),
          documentId: r.documentId,
          sourceName: r.sourceName,
          sourceKey: r.sourceKey,
          title: r.title,
          uri: r.uri,
          contentHash: r.contentHash,
          fingerprint: r.fingerprint,
          status: "live",
          seenAt: t,
          fetchedAt: r.fetchedAt ?? prev?.fetchedAt ?? t,
          lastRun: runId,
        } as SyncedDocument);
      }
      for (const e of events) options.onEvent?.(e);
      await state.heartbeat(runId, counts, now());
      progress();
    };

    for await (const d of source.load({
      ...(options.signal ? { signal: options.signal } : {}),
      onWarning: (w) => {
        warnings.push(w);
        counts.warnings++;
        options.onWarning?.(w);
      },
    })) {
      options.signal?.throwIfAborted();
      if (d.source.name !== source.name) {
        throw new ValidationError(`source "${source.name}" yielded a document of source "${d.source.name}" (${d.id})`, {
          hint: "A source's documents must carry its own name.",
        });
      }
      if (seen.has(d.id)) continue;
      seen.add(d.id);
      documents++;
      batch.push(d);
      if (batch.length >= batchSize) await flush();
    }
    await flush();

    // The source was read to the end: whatever it no longer yields is gone, except items it
    // could not read this time.
    // A warning about a file also covers the records inside it (`data.csv#12`).
    const unreadable = (key: string) => warnings.some((w) => w.key === key || key.startsWith(`${w.key}#`));
    const gone: SyncedDocument[] = [];
    for (const doc of known.values()) {
      if (doc.status !== "live" || seen.has(doc.documentId)) continue;
      if (unreadable(doc.sourceKey) || unreadable(doc.uri)) {
        counts.kept++;
        options.onEvent?.({ change: "kept", documentId: doc.documentId, key: doc.sourceKey, title: doc.title });
        continue;
      }
      gone.push(doc);
    }
    for (let i = 0; i < gone.length; i += 500) {
      const part = gone.slice(i, i + 500);
      await collection.deleteDocuments(part.map((d) => d.documentId));
      wrote = true;
      await state.markDeleted(collection.name, part, "deleted", runId, now());
      counts.deleted += part.length;
      for (const d of part)
        options.onEvent?.({ change: "deleted", documentId: d.documentId, key: d.sourceKey, title: d.title });
      progress();
    }
    if (wrote) await collection.optimize();
    await state.finishRun(runId, "completed", counts, now());
  } catch (err) {
    await state.finishRun(runId, "failed", counts, now(), (err as Error).message).catch(() => {});
    throw err;
  }
  return {
    runId,
    collection: collection.name,
    source: source.name,
    ...counts,
    documents,
    written,
    repaired,
    touched,
    warningList: warnings,
    durationMs: performance.now() - started,
  };
}
