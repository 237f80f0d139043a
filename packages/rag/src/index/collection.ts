import { Index, type Table } from "@lancedb/lancedb";
import { ConflictError, NotFoundError, QuintetError, ValidationError } from "@quintet/core";
import type { Table as ArrowTable, Schema } from "apache-arrow";
import { documentFingerprint } from "../documents/create.js";
import type { Chunk, Document } from "../documents/types.js";
import { andPredicates, sqlString } from "./filter.js";
import { type ChunkRow, chunkRow, RESULT_COLUMNS, rowsToArrow } from "./schema.js";

/** Settings stored in a collection's schema metadata. */
export interface CollectionMeta {
  /** Identifies the embedder whose vectors the collection holds; queries must use the same. */
  embedderId: string;
  dimensions: number;
  /** The chunker's name, for information. */
  chunker: string;
  createdAt: number;
}

/** Vector index kinds LanceDB builds. */
export type AnnIndexType = "ivf_pq" | "ivf_hnsw_sq" | "ivf_flat";

export interface AnnOptions {
  /** Build the vector index once the collection has this many rows (default 50,000). */
  threshold: number;
  type: AnnIndexType;
  /** IVF partitions; default √rows (ivf_pq, ivf_flat) or rows/100k rounded up (hnsw). */
  numPartitions?: number;
  /** PQ sub-vectors; default dims/8 (a finer quantisation than LanceDB's dims/16, for recall). */
  numSubVectors?: number;
}

/** A chunk as stored, with its document fields; `vector` only when asked for. */
export interface StoredChunk {
  id: string;
  documentId: string;
  kind: Chunk["kind"];
  index: number;
  text: string;
  content: string;
  context?: string;
  parentId?: string;
  headingPath: string[];
  start: number;
  end: number;
  tokens: number;
  title: string;
  source: { kind: string; name: string; uri: string; key: string; priority: number };
  docHash: string;
  mimeType?: string;
  createdAt?: number;
  updatedAt?: number;
  fetchedAt: number;
  access: string[];
  metadata: Record<string, unknown>;
  vector?: Float32Array;
}

/**
 * What ranking needs of a hit, without the rest of its row: the id, the parent it expands to, the
 * text and title when asked for (rerankers read them) and the vector when asked for (MMR).
 */
export interface ChunkRef {
  id: string;
  parentId?: string;
  text?: string;
  title?: string;
  vector?: Float32Array;
}

/** A hit from one retriever: the chunk, its 1-based rank and the retriever's raw score. */
export interface Hit<C extends ChunkRef = StoredChunk> {
  chunk: C;
  rank: number;
  /** BM25 score (full text), or cosine similarity (vector). */
  score: number;
}

export interface SearchOptions {
  k: number;
  /** With {@link Collection.searchTextRefs}/{@link Collection.searchVectorRefs}: also read text and title. */
  withText?: boolean;
  /** SQL predicate (from compileFilter/accessPredicate) applied inside the search, before top-k. */
  where?: string;
  /** Include the stored vector of each hit (for MMR). */
  withVectors?: boolean;
  /** ANN tuning: IVF partitions to probe, HNSW ef, exact re-ranking factor. */
  nprobes?: number;
  ef?: number;
  refineFactor?: number;
  /** Skip the ANN index and compare with every vector (exact). */
  exact?: boolean;
}

/** One version of a collection (LanceDB table version). */
export interface CollectionVersion {
  version: number;
  timestamp: Date;
  tags: string[];
}

/** What a document upsert writes: the document, its chunks and one vector per chunk. */
export interface DocumentEntry {
  document: Document;
  chunks: Chunk[];
  vectors: Float32Array[];
}

type Column = { get(i: number): any } | null;

/**
 * Reads chunks straight from the Arrow columns of a result. `toArray()` would first build a proxy
 * object per row and a visitor call per cell, which cost more than the search itself at k = 50.
 */
function chunksFrom(table: ArrowTable, withVector: boolean): StoredChunk[] {
  const col = (name: string): Column => table.getChild(name);
  const c = Object.fromEntries(RESULT_COLUMNS.map((n) => [n, col(n)])) as Record<
    (typeof RESULT_COLUMNS)[number],
    Column
  >;
  const vec = withVector ? col("vector") : null;
  const list = (v: any): string[] => (v ? Array.from(v.toArray ? v.toArray() : v) : []);
  const out: StoredChunk[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const get = (x: Column) => x?.get(i) ?? null;
    const meta = get(c.metadata);
    const chunk: StoredChunk = {
      id: get(c.id),
      documentId: get(c.document_id),
      kind: get(c.kind),
      index: get(c.chunk_index),
      text: get(c.text),
      content: get(c.content),
      headingPath: list(get(c.heading_path)),
      start: get(c.char_start),
      end: get(c.char_end),
      tokens: get(c.tokens),
      title: get(c.title),
      source: {
        kind: get(c.source_kind),
        name: get(c.source_name),
        uri: get(c.source_uri),
        key: get(c.source_key),
        priority: get(c.source_priority),
      },
      docHash: get(c.doc_hash),
      fetchedAt: get(c.fetched_at),
      access: list(get(c.access)),
      metadata: meta ? JSON.parse(meta) : {},
    };
    const context = get(c.context);
    if (context !== null) chunk.context = context;
    const parentId = get(c.parent_id);
    if (parentId !== null) chunk.parentId = parentId;
    const mimeType = get(c.mime_type);
    if (mimeType !== null) chunk.mimeType = mimeType;
    const createdAt = get(c.created_at);
    if (createdAt !== null) chunk.createdAt = createdAt;
    const updatedAt = get(c.updated_at);
    if (updatedAt !== null) chunk.updatedAt = updatedAt;
    const v = get(vec);
    if (v) chunk.vector = Float32Array.from(v.toArray ? v.toArray() : v);
    out[i] = chunk;
  }
  return out;
}

function refsFrom(table: ArrowTable): ChunkRef[] {
  const ids = table.getChild("id")!;
  const parents = table.getChild("parent_id");
  const texts = table.getChild("text");
  const titles = table.getChild("title");
  const vecs = table.getChild("vector");
  const out: ChunkRef[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const r: ChunkRef = { id: ids.get(i) };
    const p = parents?.get(i);
    if (p !== null && p !== undefined) r.parentId = p;
    if (texts) r.text = texts.get(i);
    if (titles) r.title = titles.get(i);
    const v = vecs?.get(i);
    if (v) r.vector = Float32Array.from(v.toArray());
    out[i] = r;
  }
  return out;
}

function refColumns(options: SearchOptions): string[] {
  const cols = ["id", "parent_id"];
  if (options.withText) cols.push("text", "title");
  if (options.withVectors) cols.push("vector");
  return cols;
}

function scores(table: ArrowTable, column: "_score" | "_distance"): Float64Array {
  const col = table.getChild(column);
  const out = new Float64Array(table.numRows);
  for (let i = 0; i < out.length; i++) out[i] = Number(col?.get(i) ?? 0);
  return out;
}

const CHUNK_ONLY = "kind = 'chunk'";

/**
 * Scalar indexes on the columns every search filters by (kind, access labels, metadata pairs) and
 * the ids that merges and lookups match on. Without them LanceDB evaluates the access predicate
 * over every row of the table before each search: at 100k rows that was most of a BM25 query.
 */
const SCALAR_INDEXES: ReadonlyArray<readonly [column: string, config: () => Index]> = [
  ["kind", () => Index.bitmap()],
  ["access", () => Index.labelList()],
  ["meta_kv", () => Index.labelList()],
  ["id", () => Index.btree()],
  ["document_id", () => Index.btree()],
];
// Predicates over long id lists are split so no statement grows unbounded.
const ID_BATCH = 500;

/**
 * One collection: a LanceDB table of chunks with their vectors, a BM25 full-text index on the chunk
 * text, scalar metadata and access labels. Every write is one LanceDB commit (a new table version),
 * so readers never see a half-written document and any version can be restored.
 */
export class Collection {
  /** @internal */
  constructor(
    readonly name: string,
    /** The underlying LanceDB table, for advanced use. */
    readonly table: Table,
    private readonly schema: Schema,
    readonly meta: CollectionMeta,
    private readonly ann: AnnOptions,
  ) {}

  get dimensions(): number {
    return this.meta.dimensions;
  }

  /** Rows (chunks and parents), optionally matching a SQL predicate. */
  count(where?: string): Promise<number> {
    return this.table.countRows(where);
  }

  /**
   * Writes documents with their chunks and vectors, replacing whatever chunks those documents had
   * (one atomic merge: matched rows updated, new ones inserted, stale ones of the same documents
   * deleted). A document with no chunks is removed.
   */
  async upsert(entries: readonly DocumentEntry[]): Promise<{ documents: number; chunks: number }> {
    const seen = new Set<string>();
    for (const e of entries) {
      if (seen.has(e.document.id)) {
        throw new ConflictError(`document ${e.document.id} appears twice in one upsert`, {
          hint: "De-duplicate documents by id first.",
        });
      }
      seen.add(e.document.id);
    }
    let documents = 0;
    let chunks = 0;
    // Each group is one commit; a document never spans two, so it is replaced atomically.
    for (const group of chunked(entries, ID_BATCH)) {
      chunks += await this.writeGroup(group);
      documents += group.length;
    }
    await this.maintain();
    return { documents, chunks };
  }

  private async writeGroup(entries: readonly DocumentEntry[]): Promise<number> {
    const rows: ChunkRow[] = [];
    const vectors: Float32Array[] = [];
    const now = Date.now();
    for (const e of entries) {
      if (e.vectors.length !== e.chunks.length) {
        throw new ValidationError(
          `document ${e.document.id}: ${e.chunks.length} chunks but ${e.vectors.length} vectors`,
          {
            hint: "Embed every chunk (parents get a zero vector).",
          },
        );
      }
      const fp = documentFingerprint(e.document);
      e.chunks.forEach((c, i) => {
        const v = e.vectors[i]!;
        if (v.length !== this.meta.dimensions) {
          throw new ValidationError(
            `chunk ${c.id} has a ${v.length}-wide vector; collection "${this.name}" holds ${this.meta.dimensions}-wide vectors`,
            { hint: "Use the embedder the collection was created with, or create a new collection." },
          );
        }
        rows.push(chunkRow(e.document, c, fp, now));
        vectors.push(v);
      });
    }
    const ids = entries.map((e) => e.document.id);
    const data = rowsToArrow(this.schema, rows, vectors, this.meta.dimensions);
    const existing = await this.table.countRows(inList("document_id", ids));
    if (existing === 0) {
      if (rows.length) await this.table.add(data);
    } else {
      await this.table
        .mergeInsert("id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete({ where: inList("document_id", ids) })
        .execute(data);
    }
    return rows.length;
  }

  /** Deletes every chunk of the given documents (one commit per 500 ids). Returns rows deleted. */
  async deleteDocuments(documentIds: readonly string[]): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < documentIds.length; i += ID_BATCH) {
      const where = inList("document_id", documentIds.slice(i, i + ID_BATCH));
      const n = await this.table.countRows(where);
      if (n > 0) {
        await this.table.delete(where);
        deleted += n;
      }
    }
    return deleted;
  }

  /** The fingerprint stored for each indexed document (to skip unchanged ones on re-ingest). */
  async fingerprints(documentIds?: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const batches = documentIds ? chunked(documentIds, ID_BATCH) : [undefined];
    for (const b of batches) {
      if (b && b.length === 0) continue;
      let q = this.table.query().select(["document_id", "doc_fingerprint"]);
      if (b) q = q.where(inList("document_id", b));
      for await (const batch of q) {
        const ids = batch.getChild("document_id")!;
        const fps = batch.getChild("doc_fingerprint")!;
        for (let i = 0; i < batch.numRows; i++) out.set(ids.get(i), fps.get(i));
      }
    }
    return out;
  }

  /**
   * Chunks by id (in no particular order). With `where`, only rows that also match it: the
   * retriever re-checks access when it reads full rows after ranking, in case they changed since.
   */
  async get(ids: readonly string[], options: { withVectors?: boolean; where?: string } = {}): Promise<StoredChunk[]> {
    const out: StoredChunk[] = [];
    const cols = options.withVectors ? [...RESULT_COLUMNS, "vector"] : [...RESULT_COLUMNS];
    for (const b of chunked(ids, ID_BATCH)) {
      const where = andPredicates(inList("id", b), options.where)!;
      const rows = await this.table.query().where(where).select(cols).toArrow();
      out.push(...chunksFrom(rows, Boolean(options.withVectors)));
    }
    return out;
  }

  /** BM25 full-text search over chunk text (LanceDB's inverted index; English stemming, stopwords removed). */
  async searchText(query: string, options: SearchOptions): Promise<Hit[]> {
    const cols = options.withVectors ? [...RESULT_COLUMNS, "vector"] : [...RESULT_COLUMNS];
    const rows = await this.textQuery(query, options, cols);
    if (!rows) return [];
    const score = scores(rows, "_score");
    return chunksFrom(rows, Boolean(options.withVectors)).map((chunk, i) => ({ chunk, rank: i + 1, score: score[i]! }));
  }

  /**
   * {@link searchText} reading only what ranking needs ({@link ChunkRef}). Every column read costs
   * LanceDB a take per hit, so ranking 50 candidates on full rows cost more than the search; the
   * full rows of the few results are then read with {@link get}.
   */
  async searchTextRefs(query: string, options: SearchOptions): Promise<Hit<ChunkRef>[]> {
    const rows = await this.textQuery(query, options, refColumns(options));
    if (!rows) return [];
    const score = scores(rows, "_score");
    return refsFrom(rows).map((chunk, i) => ({ chunk, rank: i + 1, score: score[i]! }));
  }

  private textQuery(query: string, options: SearchOptions, cols: string[]): Promise<ArrowTable> | undefined {
    const q = ftsQuery(query);
    if (!q) return undefined;
    return this.table
      .query()
      .fullTextSearch(q, { columns: "text" })
      .where(andPredicates(CHUNK_ONLY, options.where)!)
      .select([...cols, "_score"])
      .limit(options.k)
      .toArrow();
  }

  /**
   * Nearest chunks by cosine similarity (LanceDB cosine distance = 1 − cosine). Cosine rather than
   * dot everywhere: LanceDB 0.31 HNSW-SQ indexes built for `dot` return near-random neighbours, and
   * zero vectors (parents, chunks with no known word) are then never returned.
   */
  async searchVector(vector: Float32Array, options: SearchOptions): Promise<Hit[]> {
    const cols = options.withVectors ? [...RESULT_COLUMNS, "vector"] : [...RESULT_COLUMNS];
    const rows = await this.vectorQuery(vector, options, cols);
    const distance = scores(rows, "_distance");
    return chunksFrom(rows, Boolean(options.withVectors)).map((chunk, i) => ({
      chunk,
      rank: i + 1,
      score: 1 - distance[i]!,
    }));
  }

  /** {@link searchVector} reading only what ranking needs (see {@link searchTextRefs}). */
  async searchVectorRefs(vector: Float32Array, options: SearchOptions): Promise<Hit<ChunkRef>[]> {
    const rows = await this.vectorQuery(vector, options, refColumns(options));
    const distance = scores(rows, "_distance");
    return refsFrom(rows).map((chunk, i) => ({ chunk, rank: i + 1, score: 1 - distance[i]! }));
  }

  private vectorQuery(vector: Float32Array, options: SearchOptions, cols: string[]): Promise<ArrowTable> {
    if (vector.length !== this.meta.dimensions) {
      throw new ValidationError(
        `query vector is ${vector.length}-wide; collection "${this.name}" holds ${this.meta.dimensions}`,
        {
          hint: `Embed queries with ${this.meta.embedderId}.`,
        },
      );
    }
    let q = this.table
      .query()
      .nearestTo(vector)
      .distanceType("cosine")
      .where(andPredicates(CHUNK_ONLY, options.where)!)
      .select([...cols, "_distance"])
      .limit(options.k);
    if (options.exact) q = q.bypassVectorIndex();
    if (options.nprobes) q = q.nprobes(options.nprobes);
    if (options.ef) q = q.ef(options.ef);
    if (options.refineFactor) q = q.refineFactor(options.refineFactor);
    return q.toArrow();
  }

  /** The indexes LanceDB holds for this collection. */
  async indexes(): Promise<Array<{ name: string; type: string; columns: string[] }>> {
    return (await this.table.listIndices()).map((i) => ({ name: i.name, type: i.indexType, columns: i.columns }));
  }

  /**
   * Keeps indexes in step with the data: the full-text and scalar indexes always exist; the vector
   * index is built once the collection reaches the ANN threshold. New rows are searched exactly
   * (and filtered by scanning) until {@link optimize} folds them into the indexes.
   */
  async maintain(): Promise<void> {
    const idx = await this.table.listIndices();
    const has = (column: string) => idx.some((i) => i.columns.length === 1 && i.columns[0] === column);
    if (!has("text")) await this.table.createIndex("text", { config: Index.fts() });
    for (const [column, config] of SCALAR_INDEXES) {
      if (!has(column)) await this.table.createIndex(column, { config: config() });
    }
    if (!has("vector")) {
      const rows = await this.table.countRows();
      if (rows >= this.ann.threshold) await this.buildVectorIndex(rows);
    }
  }

  /** Builds (or rebuilds) the ANN index now, whatever the size. */
  async buildVectorIndex(rows?: number): Promise<void> {
    const n = rows ?? (await this.table.countRows());
    if (n < 256) {
      throw new ValidationError(`collection "${this.name}" has ${n} rows; an ANN index needs at least 256`, {
        hint: "Exact search is fast at this size; the index is built automatically past the threshold.",
      });
    }
    const dims = this.meta.dimensions;
    const a = this.ann;
    let config: Index;
    if (a.type === "ivf_hnsw_sq") {
      config = Index.hnswSq({
        distanceType: "cosine",
        numPartitions: a.numPartitions ?? Math.max(1, Math.ceil(n / 100_000)),
      });
    } else if (a.type === "ivf_flat") {
      config = Index.ivfFlat({
        distanceType: "cosine",
        numPartitions: a.numPartitions ?? Math.max(1, Math.round(Math.sqrt(n))),
      });
    } else {
      const sub = a.numSubVectors ?? (dims % 8 === 0 ? dims / 8 : dims % 4 === 0 ? dims / 4 : 1);
      config = Index.ivfPq({
        distanceType: "cosine",
        numPartitions: a.numPartitions ?? Math.max(1, Math.round(Math.sqrt(n))),
        numSubVectors: sub,
      });
    }
    await this.table.createIndex("vector", { config, replace: true });
  }

  /** Compacts files and folds rows written since the last build into the indexes. */
  async optimize(): Promise<void> {
    await this.maintain();
    await this.table.optimize();
  }

  /** The current version number. */
  version(): Promise<number> {
    return this.table.version();
  }

  /** Every version still on disk, oldest first, with its tags. */
  async versions(): Promise<CollectionVersion[]> {
    const tags = await (await this.table.tags()).list();
    const byVersion = new Map<number, string[]>();
    for (const [name, t] of Object.entries(tags)) {
      const v = Number((t as { version: number | bigint }).version);
      byVersion.set(v, [...(byVersion.get(v) ?? []), name]);
    }
    return (await this.table.listVersions()).map((v) => ({
      version: Number(v.version),
      timestamp: v.timestamp,
      tags: byVersion.get(Number(v.version)) ?? [],
    }));
  }

  /** Names the current version (e.g. before a re-index), so it can be restored by name. */
  async tag(name: string): Promise<number> {
    if (!/^[A-Za-z0-9][\w.-]{0,63}$/.test(name)) {
      throw new ValidationError(`invalid version tag "${name}"`, {
        hint: "Tags are letters, digits, _ . - (up to 64).",
      });
    }
    const v = await this.table.version();
    const tags = await this.table.tags();
    if (Object.hasOwn(await tags.list(), name)) {
      throw new ConflictError(`collection "${this.name}" already has a version tagged "${name}"`, {
        hint: "Pick another tag.",
      });
    }
    await tags.create(name, v);
    return v;
  }

  /**
   * Restores an earlier version (a number or a tag) as a new latest version: history is kept, so a
   * rollback can itself be rolled back. Returns the new version number.
   */
  async rollback(to: number | string): Promise<number> {
    let target: number;
    if (typeof to === "string") {
      const tags = await (await this.table.tags()).list();
      const t = tags[to] as { version: number | bigint } | undefined;
      if (!t)
        throw new NotFoundError(`collection "${this.name}" has no version tagged "${to}"`, {
          hint: "List versions with versions().",
        });
      target = Number(t.version);
    } else target = to;
    const known = (await this.table.listVersions()).map((v) => Number(v.version));
    if (!known.includes(target)) {
      throw new NotFoundError(`collection "${this.name}" has no version ${target}`, {
        hint: `Versions on disk: ${known.slice(-10).join(", ")}${known.length > 10 ? " …" : ""}.`,
      });
    }
    try {
      await this.table.checkout(target);
      await this.table.restore();
    } catch (err) {
      await this.table.checkoutLatest().catch(() => {});
      throw new QuintetError(
        "INTERNAL",
        `rollback of "${this.name}" to version ${target} failed: ${(err as Error).message}`,
        {
          hint: "The collection is unchanged; retry.",
          cause: err,
        },
      );
    }
    return this.table.version();
  }
}

function inList(column: string, values: readonly string[]): string {
  return `${column} IN (${values.map(sqlString).join(", ")})`;
}

function chunked<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * The query as LanceDB's full-text parser should see it: punctuation that its query syntax would
 * treat as operators is replaced by spaces (the index tokenizes on it anyway).
 */
export function ftsQuery(query: string): string {
  return query
    .replace(/[^\p{L}\p{N}\s]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
}
