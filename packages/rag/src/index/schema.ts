import type { Table as ArrowTable, Schema } from "apache-arrow";
import type { Chunk, Document, JsonValue } from "../documents/types.js";
import { arrow } from "./arrow.js";

/** One row of a collection: a chunk with the document fields it is filtered and cited by. */
export interface ChunkRow {
  id: string;
  document_id: string;
  kind: string;
  chunk_index: number;
  text: string;
  content: string;
  context: string | null;
  parent_id: string | null;
  heading_path: string[];
  char_start: number;
  char_end: number;
  tokens: number;
  chunk_hash: string;
  title: string;
  source_kind: string;
  source_name: string;
  source_uri: string;
  source_key: string;
  source_priority: number;
  doc_hash: string;
  doc_fingerprint: string;
  mime_type: string | null;
  created_at: number | null;
  updated_at: number | null;
  fetched_at: number;
  indexed_at: number;
  access: string[];
  /** `key=value` for each scalar metadata entry, so metadata equality filters run inside the index. */
  meta_kv: string[];
  /** The document's metadata as JSON. */
  metadata: string;
}

/** Columns read back for search results: those a StoredChunk holds (not the vector, hashes or filter-only columns). */
export const RESULT_COLUMNS = [
  "id",
  "document_id",
  "kind",
  "chunk_index",
  "text",
  "content",
  "context",
  "parent_id",
  "heading_path",
  "char_start",
  "char_end",
  "tokens",
  "title",
  "source_kind",
  "source_name",
  "source_uri",
  "source_key",
  "source_priority",
  "doc_hash",
  "mime_type",
  "created_at",
  "updated_at",
  "fetched_at",
  "access",
  "metadata",
] as const;

const utf8 = () => new arrow.Utf8();
const listOf = () => new arrow.List(new arrow.Field("item", utf8(), true));

/** The Arrow schema of a collection with `dims`-wide vectors; `meta` lands in the schema metadata. */
export function collectionSchema(dims: number, meta: Record<string, string>): Schema {
  const F = (name: string, type: any, nullable = false) => new arrow.Field(name, type, nullable);
  return new arrow.Schema(
    [
      F("id", utf8()),
      F("document_id", utf8()),
      F("kind", utf8()),
      F("chunk_index", new arrow.Int32()),
      F("text", utf8()),
      F("content", utf8()),
      F("context", utf8(), true),
      F("parent_id", utf8(), true),
      F("heading_path", listOf()),
      F("char_start", new arrow.Int32()),
      F("char_end", new arrow.Int32()),
      F("tokens", new arrow.Int32()),
      F("chunk_hash", utf8()),
      F("title", utf8()),
      F("source_kind", utf8()),
      F("source_name", utf8()),
      F("source_uri", utf8()),
      F("source_key", utf8()),
      F("source_priority", new arrow.Float64()),
      F("doc_hash", utf8()),
      F("doc_fingerprint", utf8()),
      F("mime_type", utf8(), true),
      F("created_at", new arrow.Float64(), true),
      F("updated_at", new arrow.Float64(), true),
      F("fetched_at", new arrow.Float64()),
      F("indexed_at", new arrow.Float64()),
      F("access", listOf()),
      F("meta_kv", listOf()),
      F("metadata", utf8()),
      F("vector", new arrow.FixedSizeList(dims, new arrow.Field("item", new arrow.Float32(), true))),
    ],
    new Map(Object.entries(meta)),
  );
}

/** `key=value` strings for the scalar entries of a metadata object (nested objects and lists of scalars flattened with dots). */
export function metadataPairs(metadata: Record<string, JsonValue>): string[] {
  const out: string[] = [];
  const walk = (prefix: string, v: JsonValue) => {
    if (v === null) return;
    if (Array.isArray(v)) {
      for (const x of v) if (x === null || typeof x !== "object") walk(prefix, x);
    } else if (typeof v === "object") {
      for (const [k, x] of Object.entries(v)) walk(prefix ? `${prefix}.${k}` : k, x);
    } else out.push(`${prefix}=${String(v)}`);
  };
  walk("", metadata);
  return [...new Set(out)];
}

/** Builds the row of a chunk of a document. */
export function chunkRow(doc: Document, chunk: Chunk, fingerprint: string, indexedAt: number): ChunkRow {
  return {
    id: chunk.id,
    document_id: doc.id,
    kind: chunk.kind,
    chunk_index: chunk.index,
    text: chunk.text,
    content: chunk.content,
    context: chunk.context ?? null,
    parent_id: chunk.parentId ?? null,
    heading_path: chunk.headingPath,
    char_start: chunk.start,
    char_end: chunk.end,
    tokens: chunk.tokens,
    chunk_hash: chunk.contentHash,
    title: doc.title,
    source_kind: doc.source.kind,
    source_name: doc.source.name,
    source_uri: doc.source.uri,
    source_key: doc.source.key,
    source_priority: doc.source.priority ?? 0,
    doc_hash: doc.contentHash,
    doc_fingerprint: fingerprint,
    mime_type: doc.mimeType ?? null,
    created_at: doc.createdAt ?? null,
    updated_at: doc.updatedAt ?? null,
    fetched_at: doc.fetchedAt,
    indexed_at: indexedAt,
    access: doc.access,
    meta_kv: metadataPairs(doc.metadata),
    metadata: JSON.stringify(doc.metadata),
  };
}

/**
 * Builds an Arrow table column by column (a flat Float32Array for the vectors), which LanceDB
 * writes an order of magnitude faster than an array of row objects.
 */
export function rowsToArrow(
  schema: Schema,
  rows: readonly ChunkRow[],
  vectors: readonly Float32Array[],
  dims: number,
): ArrowTable {
  const n = rows.length;
  const flat = new Float32Array(n * dims);
  vectors.forEach((v, i) => {
    flat.set(v.subarray(0, dims), i * dims);
  });
  const children = schema.fields.map((f) => {
    if (f.name === "vector") {
      return arrow.makeData({
        type: f.type,
        length: n,
        nullCount: 0,
        child: arrow.makeData({ type: new arrow.Float32(), length: n * dims, data: flat }),
      });
    }
    const values = rows.map((r) => (r as unknown as Record<string, unknown>)[f.name] ?? null);
    return arrow.vectorFromArray(values, f.type).data[0]!;
  });
  const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children });
  return new arrow.Table(schema, new arrow.RecordBatch(schema, struct));
}
