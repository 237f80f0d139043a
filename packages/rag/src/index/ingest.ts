import { QuintetError, ValidationError } from "@quintet/core";
import { type Embedder, l2Normalize } from "@quintet/llm";
import type { Chunker } from "../chunking/types.js";
import { documentFingerprint } from "../documents/create.js";
import type { Document } from "../documents/types.js";
import type { Collection, DocumentEntry } from "./collection.js";

export interface IngestProgress {
  /** Documents read so far. */
  documents: number;
  /** Of those, written (new or changed). */
  written: number;
  /** Of those, skipped because the index already holds the same fingerprint. */
  unchanged: number;
  chunks: number;
}

export interface IngestOptions {
  collection: Collection;
  embedder: Embedder;
  chunker: Chunker;
  /** Documents per write (one LanceDB commit each); default 64. */
  batchSize?: number;
  /** Re-index documents even when their fingerprint is unchanged. */
  force?: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: IngestProgress) => void;
  /** Fold new rows into the indexes when done (default true). */
  optimize?: boolean;
}

export interface IngestReport extends IngestProgress {
  /** Documents whose content produced no chunk (empty); their old rows, if any, were removed. */
  empty: number;
  durationMs: number;
}

/**
 * Chunks, embeds and writes documents into a collection in batches. Each batch is one commit, and
 * documents whose fingerprint the index already holds are skipped, so an interrupted ingest resumes
 * where it stopped when run again, and re-running on unchanged sources writes nothing.
 */
export async function ingestDocuments(
  documents: AsyncIterable<Document> | Iterable<Document>,
  options: IngestOptions,
): Promise<IngestReport> {
  const { collection, embedder, chunker } = options;
  if (embedder.id !== collection.meta.embedderId) {
    throw new QuintetError(
      "VALIDATION_FAILED",
      `collection "${collection.name}" holds vectors of ${collection.meta.embedderId}, not ${embedder.id}`,
      {
        hint: "Use the collection's embedder (for LSA, the model saved with the collection), or ingest into a new collection.",
      },
    );
  }
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ValidationError("batchSize must be a positive integer", { hint: "E.g. 64." });
  const started = performance.now();
  const p: IngestProgress = { documents: 0, written: 0, unchanged: 0, chunks: 0 };
  let empty = 0;
  let batch = new Map<string, Document>();

  const flush = async () => {
    if (batch.size === 0) return;
    const docs = [...batch.values()];
    batch = new Map();
    const known = options.force ? new Map<string, string>() : await collection.fingerprints(docs.map((d) => d.id));
    const todo = docs.filter((d) => known.get(d.id) !== documentFingerprint(d));
    p.unchanged += docs.length - todo.length;
    if (todo.length) {
      const entries: DocumentEntry[] = [];
      const texts: string[] = [];
      const slots: Array<[number, number]> = [];
      for (const d of todo) {
        options.signal?.throwIfAborted();
        const chunks = await chunker.chunk(d, options.signal ? { signal: options.signal } : {});
        if (chunks.length === 0) empty++;
        const e: DocumentEntry = { document: d, chunks, vectors: new Array(chunks.length) };
        chunks.forEach((c, i) => {
          if (c.kind === "chunk") {
            texts.push(c.text);
            slots.push([entries.length, i]);
          } else e.vectors[i] = new Float32Array(collection.dimensions);
        });
        entries.push(e);
      }
      const vectors = texts.length ? await embedder.embed(texts, options.signal ? { signal: options.signal } : {}) : [];
      vectors.forEach((v, j) => {
        const [ei, ci] = slots[j]!;
        entries[ei]!.vectors[ci] = l2Normalize(Float32Array.from(v));
      });
      options.signal?.throwIfAborted();
      const r = await collection.upsert(entries);
      p.written += r.documents;
      p.chunks += r.chunks;
    }
    options.onProgress?.({ ...p });
  };

  for await (const d of documents) {
    options.signal?.throwIfAborted();
    p.documents++;
    batch.set(d.id, d);
    if (batch.size >= batchSize) await flush();
  }
  await flush();
  if (options.optimize ?? true) await collection.optimize();
  return { ...p, empty, durationMs: performance.now() - started };
}
