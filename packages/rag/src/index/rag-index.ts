import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Connection, connect } from "@lancedb/lancedb";
import { ConflictError, NotFoundError, QuintetError, ValidationError } from "@quintet/core";
import { type AnnOptions, Collection, type CollectionMeta } from "./collection.js";
import { collectionSchema } from "./schema.js";

export interface RagIndexOptions {
  /** Folder of the LanceDB database; default `<home>/rag/lancedb`. */
  dir?: string;
  /** Project home (QUINTET_HOME); used when `dir` is not given. */
  home?: string;
  /** Default vector-index settings for collections opened or created through this index. */
  ann?: Partial<AnnOptions>;
}

export interface CreateCollectionOptions {
  dimensions: number;
  embedderId: string;
  chunker?: string;
  ann?: Partial<AnnOptions>;
}

export interface CollectionInfo {
  name: string;
  rows: number;
  version: number;
  meta: CollectionMeta;
}

const NAME_RE = /^[A-Za-z0-9][\w-]{0,63}$/;
const META_PREFIX = "quintet.";

function checkName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new ValidationError(`invalid collection name "${name}"`, {
      hint: "Use 1–64 letters, digits, _ and -, starting with a letter or digit.",
    });
  }
}

/**
 * The RAG index: a LanceDB database in a folder (by default `<QUINTET_HOME>/rag/lancedb`), one
 * table per collection. LanceDB writes each commit as new files plus a manifest, so a crash
 * mid-write leaves the previous version intact.
 */
export class RagIndex {
  private readonly ann: AnnOptions;

  private constructor(
    readonly dir: string,
    private readonly db: Connection,
    ann: Partial<AnnOptions> | undefined,
  ) {
    this.ann = { threshold: 50_000, type: "ivf_pq", ...ann };
  }

  /** The index folder for a project home. */
  static dirFor(home: string): string {
    return join(resolve(home), "rag", "lancedb");
  }

  static async open(options: RagIndexOptions): Promise<RagIndex> {
    const dir = options.dir ? resolve(options.dir) : options.home ? RagIndex.dirFor(options.home) : undefined;
    if (!dir)
      throw new ValidationError("RagIndex.open needs `dir` or `home`", {
        hint: "Pass { home: config.home } or { dir }.",
      });
    try {
      mkdirSync(dir, { recursive: true });
      return new RagIndex(dir, await connect(dir), options.ann);
    } catch (err) {
      throw new QuintetError("STORE_UNAVAILABLE", `cannot open the RAG index at ${dir}: ${(err as Error).message}`, {
        hint: "Check the folder is writable.",
        cause: err,
      });
    }
  }

  async names(): Promise<string[]> {
    return (await this.db.tableNames()).sort();
  }

  async list(): Promise<CollectionInfo[]> {
    const out: CollectionInfo[] = [];
    for (const name of await this.names()) {
      const c = await this.open(name);
      out.push({ name, rows: await c.count(), version: await c.version(), meta: c.meta });
    }
    return out;
  }

  async has(name: string): Promise<boolean> {
    return (await this.db.tableNames()).includes(name);
  }

  /** Opens an existing collection; NOT_FOUND names the collections that exist. */
  async open(name: string, options: { ann?: Partial<AnnOptions> } = {}): Promise<Collection> {
    checkName(name);
    if (!(await this.has(name))) {
      const names = await this.names();
      throw new NotFoundError(`no collection "${name}" in ${this.dir}`, {
        hint: names.length
          ? `Collections: ${names.join(", ")}.`
          : "Ingest documents first (quintet rag ingest <path>).",
      });
    }
    const table = await this.db.openTable(name);
    const schema = await table.schema();
    const m = schema.metadata;
    const meta: CollectionMeta = {
      embedderId: m.get(`${META_PREFIX}embedder`) ?? "",
      dimensions: Number(m.get(`${META_PREFIX}dimensions`) ?? 0),
      chunker: m.get(`${META_PREFIX}chunker`) ?? "",
      createdAt: Number(m.get(`${META_PREFIX}created_at`) ?? 0),
    };
    if (!meta.embedderId || !meta.dimensions) {
      throw new QuintetError("VALIDATION_FAILED", `table "${name}" in ${this.dir} is not a Quintet collection`, {
        hint: "It lacks the quintet.* schema metadata; use another collection name.",
      });
    }
    return new Collection(name, table, schema, meta, { ...this.ann, ...options.ann });
  }

  /** Creates an empty collection with its full-text index. */
  async create(name: string, options: CreateCollectionOptions): Promise<Collection> {
    checkName(name);
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) {
      throw new ValidationError(`collection "${name}" needs a positive vector width, got ${options.dimensions}`, {
        hint: "Pass the embedder's dimensions (fit an LSA embedder first).",
      });
    }
    if (await this.has(name))
      throw new ConflictError(`collection "${name}" already exists`, { hint: "Open it, or drop it first." });
    const schema = collectionSchema(options.dimensions, {
      [`${META_PREFIX}embedder`]: options.embedderId,
      [`${META_PREFIX}dimensions`]: String(options.dimensions),
      [`${META_PREFIX}chunker`]: options.chunker ?? "",
      [`${META_PREFIX}created_at`]: String(Date.now()),
      [`${META_PREFIX}schema`]: "1",
    });
    await this.db.createEmptyTable(name, schema);
    // Indexes are declared on the empty table; each optimize() folds the rows written since into them.
    const collection = await this.open(name, options.ann ? { ann: options.ann } : {});
    await collection.maintain();
    return collection;
  }

  /** Deletes a collection and all its versions. */
  async drop(name: string): Promise<void> {
    checkName(name);
    if (!(await this.has(name))) throw new NotFoundError(`no collection "${name}"`, { hint: "Nothing to drop." });
    await this.db.dropTable(name);
  }

  close(): void {
    this.db.close();
  }
}
