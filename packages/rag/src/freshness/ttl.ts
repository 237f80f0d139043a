import { type Store, ValidationError } from "@quintet/core";
import type { Collection } from "../index/collection.js";
import { type Filter, sqlString } from "../index/filter.js";
import { SyncState } from "./state.js";

/** How long documents of one source stay trustworthy after they were last fetched or confirmed by a sync. */
export interface TtlPolicy {
  source: string;
  ttlMs: number;
}

function check(policies: readonly TtlPolicy[]): void {
  for (const p of policies) {
    if (!p.source || !(p.ttlMs > 0) || !Number.isFinite(p.ttlMs)) {
      throw new ValidationError(`invalid TTL policy ${JSON.stringify(p)}`, {
        hint: "Each policy is { source: <source name>, ttlMs: <positive milliseconds> }.",
      });
    }
  }
}

/**
 * A retrieval filter that leaves out expired chunks: those of a source with a TTL whose
 * `fetchedAt` is older than `now − ttl`. Chunks of other sources pass. AND it into
 * `retrieve({ filter })`; it runs inside the search, before top-k.
 */
export function ttlFilter(policies: readonly TtlPolicy[], now: number = Date.now()): Filter | undefined {
  check(policies);
  if (policies.length === 0) return undefined;
  return {
    $or: [
      { sourceName: { $nin: policies.map((p) => p.source) } },
      ...policies.map((p) => ({ sourceName: p.source, fetchedAt: { $gte: now - p.ttlMs } })),
    ],
  };
}

export interface ExpireReport {
  /** Documents removed, by source. */
  expired: Record<string, string[]>;
  total: number;
}

/**
 * Deletes expired documents (see {@link ttlFilter}) from the collection and, with a store,
 * records each as a tombstone with reason `expired`. Use it instead of filtering when stale
 * content must not stay on disk.
 */
export async function expireDocuments(options: {
  collection: Collection;
  policies: readonly TtlPolicy[];
  store?: Store;
  now?: number;
}): Promise<ExpireReport> {
  check(options.policies);
  const now = options.now ?? Date.now();
  const { collection } = options;
  const state = options.store ? new SyncState(options.store) : undefined;
  const out: ExpireReport = { expired: {}, total: 0 };
  for (const p of options.policies) {
    const where = `source_name = ${sqlString(p.source)} AND fetched_at < ${now - p.ttlMs}`;
    const rows = await collection.table
      .query()
      .where(where)
      .select(["document_id", "source_key", "title", "doc_hash"])
      .toArray();
    const docs = new Map<
      string,
      { documentId: string; sourceName: string; sourceKey: string; title: string; contentHash: string }
    >();
    for (const r of rows) {
      if (!docs.has(r.document_id)) {
        docs.set(r.document_id, {
          documentId: r.document_id,
          sourceName: p.source,
          sourceKey: r.source_key,
          title: r.title,
          contentHash: r.doc_hash,
        });
      }
    }
    if (docs.size === 0) continue;
    const list = [...docs.values()];
    await collection.deleteDocuments(list.map((d) => d.documentId));
    await state?.markDeleted(collection.name, list, "expired", null, now);
    out.expired[p.source] = list.map((d) => d.documentId);
    out.total += list.length;
  }
  return out;
}
