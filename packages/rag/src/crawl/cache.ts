import { columnTypes, type Migration, type Store } from "@quintet/core";
import type { Document } from "../documents/types.js";

/**
 * What the crawler remembers of a page between crawls: the validators for a conditional request
 * and what it extracted, so a `304 Not Modified` costs no download and still yields the page and
 * its links.
 */
export interface CrawlCacheEntry {
  /** The URL as requested (normalised); the cache key with the source name. */
  url: string;
  /** Where redirects ended. */
  finalUrl: string;
  etag?: string;
  lastModified?: string;
  /** The page as a document; absent when the page is not indexed (noindex, no text). */
  document?: Document;
  /** Links found on the page (already filtered by nofollow). */
  links: string[];
  storedAt: number;
}

/** Storage for {@link CrawlCacheEntry}s, per crawl source. */
export interface CrawlCache {
  get(source: string, url: string): Promise<CrawlCacheEntry | undefined>;
  set(source: string, entry: CrawlCacheEntry): Promise<void>;
}

/** A cache in memory: re-crawls in the same process send conditional requests. */
export class MemoryCrawlCache implements CrawlCache {
  private readonly entries = new Map<string, CrawlCacheEntry>();
  async get(source: string, url: string): Promise<CrawlCacheEntry | undefined> {
    const e = this.entries.get(`${source}\n${url}`);
    return e ? structuredClone(e) : undefined;
  }
  async set(source: string, entry: CrawlCacheEntry): Promise<void> {
    this.entries.set(`${source}\n${entry.url}`, structuredClone(entry));
  }
}

type CrawlCacheTables = {
  rag_crawl_cache: {
    source_name: string;
    url: string;
    final_url: string;
    etag: string | null;
    last_modified: string | null;
    document: string | null;
    links: string;
    stored_at: number;
  };
};

const crawlCacheMigrations: Migration[] = [
  {
    id: "0001_crawl_cache",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("rag_crawl_cache")
        .addColumn("source_name", "text", (c) => c.notNull())
        .addColumn("url", "text", (c) => c.notNull())
        .addColumn("final_url", "text", (c) => c.notNull())
        .addColumn("etag", "text")
        .addColumn("last_modified", "text")
        .addColumn("document", t.json)
        .addColumn("links", t.json, (c) => c.notNull())
        .addColumn("stored_at", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("rag_crawl_cache_pk", ["source_name", "url"])
        .execute();
    },
  },
];

/**
 * A crawl cache in the core store (table `rag_crawl_cache`, room `rag-crawl`), so conditional
 * requests work across processes and scheduled re-crawls. Each page is one upsert.
 */
export class StoreCrawlCache implements CrawlCache {
  constructor(private readonly store: Store) {}

  private async db() {
    await this.store.migrate("rag-crawl", crawlCacheMigrations);
    return this.store.db.withTables<CrawlCacheTables>();
  }

  async get(source: string, url: string): Promise<CrawlCacheEntry | undefined> {
    const row = await (await this.db())
      .selectFrom("rag_crawl_cache")
      .selectAll()
      .where("source_name", "=", source)
      .where("url", "=", url)
      .executeTakeFirst();
    if (!row) return undefined;
    const e: CrawlCacheEntry = {
      url: row.url,
      finalUrl: row.final_url,
      links: JSON.parse(row.links) as string[],
      storedAt: Number(row.stored_at),
    };
    if (row.etag !== null) e.etag = row.etag;
    if (row.last_modified !== null) e.lastModified = row.last_modified;
    if (row.document !== null) e.document = JSON.parse(row.document) as Document;
    return e;
  }

  async set(source: string, entry: CrawlCacheEntry): Promise<void> {
    const row = {
      source_name: source,
      url: entry.url,
      final_url: entry.finalUrl,
      etag: entry.etag ?? null,
      last_modified: entry.lastModified ?? null,
      document: entry.document ? JSON.stringify(entry.document) : null,
      links: JSON.stringify(entry.links),
      stored_at: entry.storedAt,
    };
    const db = await this.db();
    await db
      .insertInto("rag_crawl_cache")
      .values(row)
      .onConflict((oc) =>
        oc.columns(["source_name", "url"]).doUpdateSet({
          final_url: row.final_url,
          etag: row.etag,
          last_modified: row.last_modified,
          document: row.document,
          links: row.links,
          stored_at: row.stored_at,
        }),
      )
      .execute();
  }
}
