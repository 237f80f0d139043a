import { resolve } from "node:path";
import { type Store, ValidationError } from "@quintet/core";
import { z } from "zod";
import { type CrawlCache, StoreCrawlCache } from "../crawl/cache.js";
import { WebCrawler } from "../crawl/crawler.js";
import { FileSource } from "../sources/files.js";
import { RestSource } from "../sources/rest.js";
import { SqlSource } from "../sources/sql.js";
import type { Source } from "../sources/types.js";
import { UrlSource } from "../sources/url.js";

const options = z.record(z.string(), z.unknown());

/**
 * A source as data, so it can be registered in the store and rebuilt by a scheduled sync in
 * another process: the kind and the options of that source's constructor (JSON only; no
 * functions). `files` paths are resolved when the spec is built.
 */
export const SourceSpecSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("files"), options }),
  z.object({ kind: z.literal("crawl"), options }),
  z.object({ kind: z.literal("url"), options }),
  z.object({ kind: z.literal("rest"), options }),
  z.object({ kind: z.literal("sql"), options }),
]);
export type SourceSpec = z.infer<typeof SourceSpecSchema>;

export interface SourceFromSpecContext {
  /** Needed by `sql` sources; gives `crawl` sources a store-backed cache for conditional requests. */
  store?: Store;
  crawlCache?: CrawlCache;
  /** Base folder for relative `files` paths (default the working directory). */
  cwd?: string;
}

/** Builds the source a spec describes; the source's own constructor validates its options. */
export function sourceFromSpec(spec: unknown, ctx: SourceFromSpecContext = {}): Source {
  const parsed = SourceSpecSchema.safeParse(spec);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid source spec: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      { hint: 'A spec is { kind: "files" | "crawl" | "url" | "rest" | "sql", options: { … } }.' },
    );
  }
  const s = parsed.data;
  const o = s.options as Record<string, any>;
  switch (s.kind) {
    case "files":
      return new FileSource({ ...o, path: resolve(ctx.cwd ?? process.cwd(), String(o.path ?? "")) } as never);
    case "crawl": {
      const cache = ctx.crawlCache ?? (ctx.store ? new StoreCrawlCache(ctx.store) : undefined);
      return new WebCrawler({ ...o, ...(cache ? { cache } : {}) } as never);
    }
    case "url":
      return new UrlSource(o as never);
    case "rest":
      return new RestSource(o as never);
    case "sql":
      if (!ctx.store)
        throw new ValidationError("a sql source spec needs the store to query", { hint: "Pass { store }." });
      return new SqlSource({ ...o, store: ctx.store } as never);
  }
}
