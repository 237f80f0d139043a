import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "@quintet/core";
import { LsaEmbedder } from "@quintet/llm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecursiveChunker } from "../chunking/recursive.js";
import { StoreCrawlCache } from "../crawl/cache.js";
import { createDocument } from "../documents/create.js";
import { RagIndex } from "../index/rag-index.js";
import { FileSource } from "../sources/files.js";
import { SyncState, syncSource } from "./index.js";

const url = process.env.QUINTET_TEST_PG_URL;

// The sync state and the crawl cache on PostgreSQL: the same code as on SQLite.
describe.skipIf(!url)("sync state on PostgreSQL", () => {
  let store: Store;
  let dir: string;
  const collectionName = `kb_${randomBytes(4).toString("hex")}`;
  beforeAll(async () => {
    store = await Store.open({ url: url! });
    dir = mkdtempSync(join(tmpdir(), "quintet-fresh-pg-"));
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("syncs, finds changes and deletions, records tombstones and runs", async () => {
    const docs = join(dir, "docs");
    mkdirSync(docs);
    const texts = ["Alpha reactors run cool at night.", "Beta turbines open on tuesdays.", "Gamma pipes use probes."];
    texts.forEach((t, i) => {
      writeFileSync(join(docs, `d${i}.md`), `# D${i}\n\n${t}`);
    });
    const embedder = new LsaEmbedder({ dimensions: 3 }).fit([...texts, "Alpha reactors were rebuilt with titanium."]);
    const index = await RagIndex.open({ dir: join(dir, "lance") });
    const collection = await index.create(collectionName, {
      dimensions: embedder.dimensions!,
      embedderId: embedder.id,
    });
    const source = new FileSource({ path: docs, name: "notes" });
    const opts = {
      store,
      collection,
      embedder,
      chunker: new RecursiveChunker({ chunkTokens: 32, overlapTokens: 0 }),
      source,
    };
    try {
      expect(await syncSource(opts)).toMatchObject({ added: 3 });
      writeFileSync(join(docs, "d0.md"), "# D0\n\nAlpha reactors were rebuilt with titanium.");
      unlinkSync(join(docs, "d2.md"));
      expect(await syncSource(opts)).toMatchObject({ changed: 1, deleted: 1, unchanged: 1 });
      const state = new SyncState(store);
      expect((await state.tombstones(collectionName)).map((t) => t.documentId)).toEqual(["file:notes:d2.md"]);
      expect((await state.runs(collectionName)).map((r) => r.status)).toEqual(["completed", "completed"]);
      const live = [...(await state.documents(collectionName)).values()].filter((d) => d.status === "live");
      expect(live).toHaveLength(2);
      expect(typeof live[0]!.seenAt).toBe("number");
      await state.registerSource(
        collectionName,
        "notes",
        { kind: "files", options: { path: docs } },
        { intervalMs: 60_000, now: 5 },
      );
      expect((await state.sources(collectionName))[0]).toMatchObject({
        name: "notes",
        intervalMs: 60_000,
        nextRunAt: 5,
      });
    } finally {
      index.close();
    }
  });

  it("keeps crawl validators", async () => {
    const cache = new StoreCrawlCache(store);
    const source = `site-${randomBytes(4).toString("hex")}`;
    const document = createDocument({
      source: { kind: "web", name: source, uri: "https://a.test/", key: "https://a.test/" },
      content: "hi",
    });
    await cache.set(source, {
      url: "https://a.test/",
      finalUrl: "https://a.test/",
      etag: '"v1"',
      links: ["https://a.test/b"],
      document,
      storedAt: 1,
    });
    await cache.set(source, {
      url: "https://a.test/",
      finalUrl: "https://a.test/",
      etag: '"v2"',
      links: [],
      storedAt: 2,
    });
    expect(await cache.get(source, "https://a.test/")).toEqual({
      url: "https://a.test/",
      finalUrl: "https://a.test/",
      etag: '"v2"',
      links: [],
      storedAt: 2,
    });
  });
});
