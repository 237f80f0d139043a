import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInProcessRunner, openStore, type Store } from "@quintet/core";
import { LsaEmbedder } from "@quintet/llm";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { RecursiveChunker } from "../chunking/recursive.js";
import type { Document } from "../documents/types.js";
import type { Collection } from "../index/collection.js";
import { ingestDocuments } from "../index/ingest.js";
import { RagIndex } from "../index/rag-index.js";
import { Retriever } from "../retrieval/retriever.js";
import { FileSource } from "../sources/files.js";
import type { LoadOptions, Source } from "../sources/types.js";
import {
  boostByRecency,
  defineLiveSource,
  expireDocuments,
  httpLiveSource,
  queryLiveSources,
  registerSyncJobs,
  runDueSyncs,
  SyncState,
  syncSource,
  timeDecay,
  ttlFilter,
} from "./index.js";

const TEXTS: Record<string, string> = {
  "alpha.md": "# Alpha\n\nThe alpha reactor cooling loop runs at forty degrees during the night shift.",
  "beta.md": "# Beta\n\nThe beta turbine maintenance window opens every second tuesday of the month.",
  "gamma.md": "# Gamma\n\nThe gamma pipeline inspection uses ultrasonic probes along the northern valve.",
  "delta.md": "# Delta\n\nThe delta warehouse inventory counts pallets of copper wire each friday.",
  "epsilon.md": "# Epsilon\n\nThe epsilon laboratory stores reagent bottles in the locked cabinet.",
};
const VOCAB = [
  ...Object.values(TEXTS),
  "The alpha reactor cooling loop was rebuilt with titanium pipes and runs colder.",
  "A new zeta document about harbor cranes and container logistics.",
];

interface Env {
  dir: string;
  docsDir: string;
  store: Store;
  index: RagIndex;
  collection: Collection;
  embedder: LsaEmbedder;
  chunker: RecursiveChunker;
}

let env: Env;
beforeEach(async () => {
  const dir = mkdtempSync(join(tmpdir(), "quintet-fresh-"));
  const docsDir = join(dir, "docs");
  mkdirSync(docsDir);
  for (const [f, t] of Object.entries(TEXTS)) writeFileSync(join(docsDir, f), t);
  const store = await openStore({ url: `sqlite:${join(dir, "q.db")}` });
  const embedder = new LsaEmbedder({ dimensions: 6 }).fit(VOCAB);
  const index = await RagIndex.open({ dir: join(dir, "lance") });
  const collection = await index.create("kb", { dimensions: embedder.dimensions!, embedderId: embedder.id });
  env = {
    dir,
    docsDir,
    store,
    index,
    collection,
    embedder,
    chunker: new RecursiveChunker({ chunkTokens: 64, overlapTokens: 0 }),
  };
});
afterEach(async () => {
  await env.store.close();
  env.index.close();
  rmSync(env.dir, { recursive: true, force: true });
});

const sync = (source: Source, extra: Partial<Parameters<typeof syncSource>[0]> = {}) =>
  syncSource({
    store: env.store,
    collection: env.collection,
    embedder: env.embedder,
    chunker: env.chunker,
    source,
    ...extra,
  });

async function indexedDocs(): Promise<Map<string, string>> {
  return env.collection.fingerprints();
}

/** The index and the sync state agree: every live state row is indexed with its fingerprint, and nothing else is. */
async function expectConsistent(): Promise<void> {
  const indexed = await indexedDocs();
  const live = [...(await new SyncState(env.store).documents("kb")).values()].filter((d) => d.status === "live");
  for (const d of live) expect(indexed.get(d.documentId)).toBe(d.fingerprint);
  for (const id of indexed.keys()) expect(live.some((d) => d.documentId === id)).toBe(true);
}

describe("syncSource", () => {
  it("adds, then finds changed and deleted files by hash and records tombstones", async () => {
    const source = new FileSource({ path: env.docsDir, name: "handbook" });
    const events: string[] = [];
    const r1 = await sync(source, { onEvent: (e) => events.push(`${e.change} ${e.key}`) });
    expect(r1).toMatchObject({ added: 5, changed: 0, unchanged: 0, deleted: 0, documents: 5, written: 5 });
    expect(events.sort()).toEqual(
      Object.keys(TEXTS)
        .map((f) => `added ${f}`)
        .sort(),
    );
    expect((await indexedDocs()).size).toBe(5);

    const r2 = await sync(source);
    expect(r2).toMatchObject({ added: 0, changed: 0, unchanged: 5, deleted: 0 });

    writeFileSync(join(env.docsDir, "alpha.md"), `# Alpha\n\n${VOCAB[5]}`);
    unlinkSync(join(env.docsDir, "beta.md"));
    writeFileSync(join(env.docsDir, "zeta.md"), `# Zeta\n\n${VOCAB[6]}`);
    events.length = 0;
    const r3 = await sync(source, { onEvent: (e) => events.push(`${e.change} ${e.key}`) });
    expect(r3).toMatchObject({ added: 1, changed: 1, unchanged: 3, deleted: 1, written: 2 });
    expect(events.sort()).toEqual(["added zeta.md", "changed alpha.md", "deleted beta.md"]);

    const indexed = await indexedDocs();
    expect([...indexed.keys()].sort()).toEqual(
      ["alpha.md", "delta.md", "epsilon.md", "gamma.md", "zeta.md"].map((f) => `file:handbook:${f}`),
    );
    const retriever = new Retriever({ collection: env.collection, embedder: env.embedder });
    const hits = await retriever.retrieve("titanium pipes", { access: { all: true }, mode: "bm25", k: 3 });
    expect(hits.results[0]!.chunk.documentId).toBe("file:handbook:alpha.md");
    const gone = await retriever.retrieve("turbine maintenance tuesday", { access: { all: true }, mode: "bm25" });
    expect(gone.results.map((r) => r.chunk.documentId)).not.toContain("file:handbook:beta.md");

    const state = new SyncState(env.store);
    const tombs = await state.tombstones("kb");
    expect(tombs).toHaveLength(1);
    expect(tombs[0]).toMatchObject({
      documentId: "file:handbook:beta.md",
      sourceKey: "beta.md",
      title: "Beta",
      reason: "deleted",
      runId: r3.runId,
    });
    const docs = await state.documents("kb", "handbook");
    expect(docs.get("file:handbook:beta.md")!.status).toBe("deleted");
    const runs = await state.runs("kb");
    expect(runs.map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
    expect(runs[0]).toMatchObject({ added: 1, changed: 1, deleted: 1, unchanged: 3 });

    // A deleted file that comes back is added again (and its tombstone stays in the history).
    writeFileSync(join(env.docsDir, "beta.md"), TEXTS["beta.md"]!);
    const r4 = await sync(source);
    expect(r4).toMatchObject({ added: 1, deleted: 0 });
    await expectConsistent();
  });

  it("a crash midway leaves the index consistent and deletes nothing; the next sync completes", async () => {
    const files = new FileSource({ path: env.docsDir, name: "handbook" });
    await sync(files);
    // Edit two, delete one, then crash after three documents (batches of two: one batch committed).
    writeFileSync(join(env.docsDir, "alpha.md"), `# Alpha\n\n${VOCAB[5]}`);
    writeFileSync(join(env.docsDir, "gamma.md"), "# Gamma\n\nThe gamma pipeline was decommissioned last spring.");
    unlinkSync(join(env.docsDir, "epsilon.md"));
    const crashing: Source = {
      kind: "file",
      name: "handbook",
      async *load(o?: LoadOptions): AsyncIterable<Document> {
        let n = 0;
        for await (const d of files.load(o)) {
          if (++n === 4) throw new Error("disk unplugged");
          yield d;
        }
      },
    };
    await expect(sync(crashing, { batchSize: 2 })).rejects.toThrow(/disk unplugged/);
    await expectConsistent();
    const indexed = await indexedDocs();
    expect(indexed.has("file:handbook:epsilon.md")).toBe(true); // not deleted by a partial read
    const state = new SyncState(env.store);
    const runs = await state.runs("kb");
    expect(runs[0]).toMatchObject({ status: "failed", error: "disk unplugged" });
    // alpha (batch 1, with beta) is already new in the index: the next sync counts it unchanged
    // and changes only gamma, which the crash cut off.
    const r = await sync(files);
    expect(r).toMatchObject({ changed: 1, deleted: 1, unchanged: 3, added: 0, repaired: 0 });
    await expectConsistent();
    expect((await indexedDocs()).has("file:handbook:epsilon.md")).toBe(false);
    expect((await state.tombstones("kb")).map((t) => t.documentId)).toEqual(["file:handbook:epsilon.md"]);
  });

  it("writes again what the index lost, keeps unreadable items, and refuses a concurrent run", async () => {
    const files = new FileSource({ path: env.docsDir, name: "handbook" });
    // Ingested before it was ever synced: new to the sync state, but nothing to embed again.
    const docs: Document[] = [];
    for await (const d of files.load()) docs.push(d);
    await ingestDocuments(docs, { collection: env.collection, embedder: env.embedder, chunker: env.chunker });
    const adopted = await sync(files);
    expect(adopted).toMatchObject({ added: 5, written: 0 });
    // The index loses a document behind the state's back (e.g. a rollback): the sync repairs it.
    await env.collection.deleteDocuments(["file:handbook:delta.md"]);
    const r = await sync(files);
    expect(r).toMatchObject({ unchanged: 5, repaired: 1 });
    await expectConsistent();

    // A file that turns unreadable (binary) is reported by the source and kept, not deleted.
    writeFileSync(join(env.docsDir, "gamma.md"), Buffer.from([0x23, 0x00, 0x01, 0x02]));
    const r2 = await sync(files);
    expect(r2).toMatchObject({ kept: 1, deleted: 0, warnings: 1 });
    expect((await indexedDocs()).has("file:handbook:gamma.md")).toBe(true);

    const state = new SyncState(env.store);
    const now = Date.now();
    await state.beginRun("kb", "handbook", now, 60_000);
    await expect(sync(files)).rejects.toMatchObject({ code: "CONFLICT" });
    // Once its heartbeat is stale, the dead run is marked interrupted and a new one proceeds.
    await expect(sync(files, { now: () => now + 120_000, staleAfterMs: 60_000 })).resolves.toMatchObject({
      unchanged: 4,
    });
    expect((await state.runs("kb")).some((r) => r.status === "interrupted")).toBe(true);
  });
});

describe("TTL", () => {
  it("filters expired chunks out of retrieval, refreshes confirmed ones, and expires with tombstones", async () => {
    const files = new FileSource({ path: env.docsDir, name: "handbook" });
    const day = 86_400_000;
    const t0 = Date.now();
    await sync(files, { now: () => t0 });
    const retriever = new Retriever({ collection: env.collection, embedder: env.embedder });
    const search = (now: number) =>
      retriever.retrieve("alpha reactor cooling", {
        access: { all: true },
        mode: "bm25",
        filter: ttlFilter([{ source: "handbook", ttlMs: 7 * day }], now),
      });
    expect((await search(t0 + day)).results.length).toBeGreaterThan(0);
    expect((await search(t0 + 8 * day)).results).toHaveLength(0);
    expect(() => ttlFilter([{ source: "x", ttlMs: -1 }])).toThrow(/TTL/);

    // A sync at day 5 confirms the documents: their fetchedAt moves forward, so day 8 still finds them.
    const r = await sync(files, { ttlMs: 7 * day, now: () => t0 + 5 * day });
    expect(r.touched).toBe(5);
    expect((await search(t0 + 8 * day)).results.length).toBeGreaterThan(0);

    const expired = await expireDocuments({
      collection: env.collection,
      store: env.store,
      policies: [{ source: "handbook", ttlMs: 7 * day }],
      now: t0 + 13 * day,
    });
    expect(expired.total).toBe(5);
    expect(await env.collection.count()).toBe(0);
    const tombs = await new SyncState(env.store).tombstones("kb");
    expect(tombs).toHaveLength(5);
    expect(tombs.every((t) => t.reason === "expired")).toBe(true);
  });
});

describe("recency", () => {
  it("blends relevance with exponential time decay", () => {
    const now = Date.UTC(2025, 0, 31);
    const day = 86_400_000;
    const items = [
      { id: "old-best", score: 1.0, rank: 1, chunk: { updatedAt: now - 60 * day } },
      { id: "new-good", score: 0.8, rank: 2, chunk: { updatedAt: now - 1 * day } },
      { id: "no-time", score: 0.9, rank: 3, chunk: {} },
    ];
    expect(timeDecay(30 * day, 30 * day)).toBeCloseTo(0.5, 12);
    expect(timeDecay(-5, 10)).toBe(1);
    const out = boostByRecency(items, { halfLifeMs: 30 * day, weight: 0.5, now });
    // old-best: 0.5·1 + 0.5·0.25 = 0.625; new-good: 0.5·0.8 + 0.5·2^(−1/30) ≈ 0.8886; no-time: 0.45
    expect(out.map((o) => o.id)).toEqual(["new-good", "old-best", "no-time"]);
    expect(out[0]!.score).toBeCloseTo(0.4 + 0.5 * 2 ** (-1 / 30), 10);
    expect(out[1]!.score).toBeCloseTo(0.625, 10);
    expect(out.map((o) => o.rank)).toEqual([1, 2, 3]);
    expect(out[1]!.recency).toMatchObject({ decay: 0.25, relevance: 1, baseScore: 1, ageMs: 60 * day });
    expect(boostByRecency(items, { halfLifeMs: day, weight: 0, now }).map((o) => o.id)).toEqual([
      "old-best",
      "no-time",
      "new-good",
    ]);
    expect(() => boostByRecency(items, { halfLifeMs: 0 })).toThrow(/halfLifeMs/);
    expect(() => boostByRecency(items, { halfLifeMs: 1, weight: 2 })).toThrow(/weight/);
  });
});

describe("live sources", () => {
  let server: Server;
  let base = "";
  afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it("queries APIs at request time with their timestamps; failures and timeouts do not fail the request", async () => {
    server = createServer((req, res) => {
      const q = new URL(req.url ?? "/", "http://x").searchParams.get("sku");
      if (req.url?.startsWith("/down")) {
        res.writeHead(503);
        return res.end();
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ sku: q, stock: 42, asOf: "2025-03-01T10:00:00Z" }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const stock = httpLiveSource({
      name: "stock",
      url: (q) => `${base}/stock?sku=${encodeURIComponent(/sku (\w+)/.exec(q)?.[1] ?? "")}`,
      allowPrivate: true,
      map: (j: any) => ({
        title: `Stock of ${j.sku}`,
        text: `${j.stock} units of ${j.sku} in stock.`,
        timestamp: Date.parse(j.asOf),
      }),
    });
    const down = httpLiveSource({ name: "status", url: `${base}/down`, allowPrivate: true, map: () => null });
    const slow = defineLiveSource({ name: "slow", query: () => new Promise(() => {}) });
    const offTopic = defineLiveSource({
      name: "weather",
      appliesTo: (q) => /weather/.test(q),
      query: async () => ({ title: "w", text: "sunny" }),
    });
    const r = await queryLiveSources([stock, down, slow, offTopic], "how many of sku AB12 do we have?", {
      timeoutMs: 200,
    });
    expect(r.items).toHaveLength(1);
    expect(r.items[0]).toMatchObject({
      id: "live:stock:1",
      source: "stock",
      text: "42 units of AB12 in stock.",
      timestamp: Date.parse("2025-03-01T10:00:00Z"),
    });
    expect(r.errors.map((e) => e.source).sort()).toEqual(["slow", "status"]);
    expect(r.errors.find((e) => e.source === "slow")!.message).toMatch(/200 ms/);

    const unsafe = httpLiveSource({ name: "stock", url: `${base}/stock`, map: () => null });
    const refused = await queryLiveSources([unsafe], "q");
    expect(refused.errors[0]!.message).toMatch(/non-public address/);
    expect(() => defineLiveSource({ name: "bad name", query: async () => null })).toThrow(/live source name/);
  });
});

describe("scheduled syncs", () => {
  it("runs due registered sources and re-enqueues itself as a core job", async () => {
    const state = new SyncState(env.store);
    let now = 1_000_000;
    await state.registerSource(
      "kb",
      "handbook",
      { kind: "files", options: { path: env.docsDir, name: "handbook" } },
      {
        intervalMs: 60_000,
        now,
      },
    );
    const deps = {
      store: env.store,
      now: () => now,
      resolveTarget: async () => ({ collection: env.collection, embedder: env.embedder, chunker: env.chunker }),
    };
    const first = await runDueSyncs(deps);
    expect(first).toHaveLength(1);
    expect(first[0]!.report).toMatchObject({ added: 5 });
    expect(await runDueSyncs(deps)).toHaveLength(0); // next run is a minute away
    now += 61_000;
    writeFileSync(join(env.docsDir, "zeta.md"), `# Zeta\n\n${VOCAB[6]}`);
    const second = await runDueSyncs(deps);
    expect(second[0]!.report).toMatchObject({ added: 1, unchanged: 5 });

    const runner = await createInProcessRunner({ store: env.store, pollIntervalMs: 50 });
    const jobs = registerSyncJobs(runner, deps);
    await runner.start();
    try {
      unlinkSync(join(env.docsDir, "zeta.md"));
      const id = await jobs.schedule("kb", "handbook");
      expect(await jobs.schedule("kb", "handbook")).toBe(id); // same slot: enqueued once
      const done = await runner.wait(id, { timeoutMs: 30_000 });
      expect(done.state).toBe("completed");
      expect(done.result).toMatchObject({ deleted: 1, unchanged: 5 });
      const queued = await runner.list({ name: "rag.sync", state: "queued" });
      expect(queued).toHaveLength(1); // the next run, an interval later
      expect(queued[0]!.id).not.toBe(id);
    } finally {
      await runner.stop();
    }
  });
});
