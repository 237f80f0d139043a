import { createHash } from "node:crypto";
import { columnTypes, type Migration, type Store } from "@quintet/core";

type EmbeddingCacheTables = {
  llm_embedding_cache: {
    key: string;
    model: string;
    dims: number;
    vector: Uint8Array;
    created_at: number;
  };
};

const migrations: Migration[] = [
  {
    id: "0001_embedding_cache",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("llm_embedding_cache")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("model", "text", (c) => c.notNull())
        .addColumn("dims", "integer", (c) => c.notNull())
        .addColumn("vector", t.blob, (c) => c.notNull())
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .execute();
    },
  },
];

/** Cache key: sha256 of the model id and the exact text. */
export function embeddingCacheKey(modelId: string, text: string): string {
  return createHash("sha256").update(modelId).update("\u0000").update(text).digest("hex");
}

/**
 * Content-addressed embedding cache in the store (namespace `embeddings`). Vectors are stored
 * as little-endian float32 blobs keyed by {@link embeddingCacheKey}; entries are immutable, so
 * concurrent writers of the same key are harmless (first write wins).
 */
export class EmbeddingCache {
  constructor(private readonly store: Store) {}

  private async db() {
    await this.store.migrate("embeddings", migrations);
    return this.store.db.withTables<EmbeddingCacheTables>();
  }

  async getMany(keys: readonly string[]): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    if (keys.length === 0) return out;
    const db = await this.db();
    // Chunk the IN list: SQLite caps bound parameters per statement.
    for (let i = 0; i < keys.length; i += 500) {
      const rows = await db
        .selectFrom("llm_embedding_cache")
        .select(["key", "vector", "dims"])
        .where("key", "in", keys.slice(i, i + 500))
        .execute();
      for (const r of rows) {
        const bytes = Buffer.from(r.vector);
        const v = new Float32Array(r.dims);
        new Uint8Array(v.buffer).set(bytes.subarray(0, r.dims * 4));
        out.set(r.key, v);
      }
    }
    return out;
  }

  async putMany(model: string, entries: ReadonlyArray<{ key: string; vector: Float32Array }>): Promise<void> {
    if (entries.length === 0) return;
    await this.db();
    const now = Date.now();
    await this.store.tx(async (tx) => {
      const db = tx.withTables<EmbeddingCacheTables>();
      for (let i = 0; i < entries.length; i += 200) {
        await db
          .insertInto("llm_embedding_cache")
          .values(
            entries.slice(i, i + 200).map((e) => ({
              key: e.key,
              model,
              dims: e.vector.length,
              vector: Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength),
              created_at: now,
            })),
          )
          .onConflict((oc) => oc.column("key").doNothing())
          .execute();
      }
    });
  }

  /** Number of cached vectors, optionally for one model. */
  async count(model?: string): Promise<number> {
    const db = await this.db();
    let q = db.selectFrom("llm_embedding_cache").select((eb) => eb.fn.countAll<number>().as("n"));
    if (model) q = q.where("model", "=", model);
    const row = await q.executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
