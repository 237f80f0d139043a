import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LsaEmbedder } from "@quintet/llm";
import { describe, expect, it } from "vitest";
import { RecursiveChunker } from "../chunking/recursive.js";
import { createDocument } from "../documents/create.js";
import { topicCorpus } from "../testing/corpus.js";
import { accessPredicate, andPredicates, compileFilter, ingestDocuments, metadataPairs, RagIndex } from "./index.js";

const tmp = () => mkdtempSync(join(tmpdir(), "quintet-rag-index-"));

async function setup(n = 60, ann = { threshold: 1_000_000 }) {
  const docs = topicCorpus(n, 3, {
    access: (i, topic) => (topic === "finance" ? ["team:finance"] : i % 10 === 0 ? ["team:a", "team:b"] : []),
  });
  const embedder = new LsaEmbedder({ dimensions: 16 }).fit(docs.map((d) => d.content));
  const index = await RagIndex.open({ dir: tmp(), ann });
  const collection = await index.create("kb", {
    dimensions: embedder.dimensions!,
    embedderId: embedder.id,
    chunker: "recursive",
  });
  const chunker = new RecursiveChunker({ chunkTokens: 64, overlapTokens: 8 });
  return { docs, embedder, index, collection, chunker };
}

describe("RagIndex and collections", () => {
  it("ingests, then skips unchanged documents and replaces changed ones atomically", async () => {
    const { docs, embedder, index, collection, chunker } = await setup();
    const r1 = await ingestDocuments(docs, { collection, embedder, chunker, batchSize: 16 });
    expect(r1).toMatchObject({ documents: 60, written: 60, unchanged: 0 });
    const rows = await collection.count();
    expect(rows).toBe(r1.chunks);

    const r2 = await ingestDocuments(docs, { collection, embedder, chunker });
    expect(r2).toMatchObject({ documents: 60, written: 0, unchanged: 60, chunks: 0 });

    const changed = createDocument({ ...docs[5]!, source: docs[5]!.source, content: "Only one short sentence now." });
    const v = await collection.version();
    const r3 = await ingestDocuments([changed], { collection, embedder, chunker });
    expect(r3.written).toBe(1);
    const after = await collection.count(`document_id = '${changed.id}'`);
    expect(after).toBe(1);
    const [c] = await collection.get([`${changed.id}#0`]);
    expect(c!.content).toBe("Only one short sentence now.");
    expect(await collection.version()).toBeGreaterThan(v);

    expect(await collection.deleteDocuments([docs[6]!.id, "missing"])).toBeGreaterThan(0);
    expect(await collection.count(`document_id = '${docs[6]!.id}'`)).toBe(0);

    // Persistence: a new connection sees the same collection.
    const again = await (await RagIndex.open({ dir: index.dir })).open("kb");
    expect(await again.count()).toBe(await collection.count());
    expect(again.meta.embedderId).toBe(embedder.id);
  });

  it("searches BM25 and vectors with filters and access labels applied inside the search", async () => {
    const { docs, embedder, collection, chunker } = await setup();
    await ingestDocuments(docs, { collection, embedder, chunker });
    // Finance words plus words every document has: unfiltered, every top hit is finance; filtered,
    // other documents still match, so a post-filter would return fewer than k.
    const q = "invoice ledger dividend audit payroll report notes week";
    const qv = (await embedder.embed([q]))[0]!;
    const open = await collection.searchText(q, { k: 5 });
    expect(open.every((h) => h.chunk.access.includes("team:finance"))).toBe(true);

    const asPublic = accessPredicate({ labels: [] });
    const text = await collection.searchText(q, { k: 5, where: asPublic });
    const vec = await collection.searchVector(qv, { k: 5, where: asPublic });
    // Still k results (filtered before top-k, not after), none of them finance.
    expect(text).toHaveLength(5);
    expect(vec).toHaveLength(5);
    for (const h of [...text, ...vec]) expect(h.chunk.access).not.toContain("team:finance");

    const asFinance = accessPredicate({ labels: ["team:finance"] });
    const fin = await collection.searchVector(qv, { k: 3, where: asFinance });
    expect(fin.every((h) => h.chunk.metadata.topic === "finance")).toBe(true);
    expect(vec[0]!.score).toBeLessThanOrEqual(fin[0]!.score);

    const where = andPredicates(
      asPublic,
      compileFilter({ topic: "cooking", updatedAt: { $gte: Date.UTC(2024, 0, 20) } }),
    );
    const cooking = await collection.searchText("oven garlic flour", { k: 50, where: where! });
    expect(cooking.length).toBeGreaterThan(0);
    for (const h of cooking) {
      expect(h.chunk.metadata.topic).toBe("cooking");
      expect(h.chunk.updatedAt).toBeGreaterThanOrEqual(Date.UTC(2024, 0, 20));
    }
    const ranks = text.map((h) => h.rank);
    expect(ranks).toEqual([1, 2, 3, 4, 5]);
    expect(text[0]!.score).toBeGreaterThanOrEqual(text[1]!.score);
  });

  it("keeps scalar indexes on the filtered columns, and filters through them as a scan would", async () => {
    const { docs, embedder, collection, chunker } = await setup(60);
    const scalar = ["kind", "access", "meta_kv", "id", "document_id"];
    // Declared on the empty collection, before any row exists.
    expect((await collection.indexes()).map((i) => i.columns[0])).toEqual(expect.arrayContaining(scalar));
    const rows = async () =>
      (await collection.table.query().select(["id", "kind", "access", "meta_kv"]).toArray()).map((r) => ({
        id: r.id as string,
        kind: r.kind as string,
        access: Array.from(r.access.toArray()) as string[],
        kv: Array.from(r.meta_kv.toArray()) as string[],
      }));
    type Row = Awaited<ReturnType<typeof rows>>[number];
    const cases: Array<[string, (r: Row) => boolean]> = [
      [accessPredicate({ labels: [] })!, (r) => r.access.includes("public")],
      [accessPredicate({ labels: ["team:a"] })!, (r) => r.access.some((l) => l === "public" || l === "team:a")],
      [
        accessPredicate({ labels: ["team:finance"] })!,
        (r) => r.access.some((l) => l === "public" || l === "team:finance"),
      ],
      [
        andPredicates("kind = 'chunk'", accessPredicate({ labels: ["team:b"] }))!,
        (r) => r.kind === "chunk" && r.access.some((l) => l === "public" || l === "team:b"),
      ],
      [compileFilter({ topic: "cooking" })!, (r) => r.kv.includes("topic=cooking")],
      [compileFilter({ topic: { $ne: "cooking" } })!, (r) => !r.kv.includes("topic=cooking")],
      [
        compileFilter({ topic: { $nin: ["cooking", "finance"] } })!,
        (r) => !r.kv.includes("topic=cooking") && !r.kv.includes("topic=finance"),
      ],
      [
        `NOT (${accessPredicate({ labels: ["team:a"] })})`,
        (r) => !r.access.some((l) => l === "public" || l === "team:a"),
      ],
    ];
    const check = async () => {
      const all = await rows();
      for (const [where, keep] of cases) {
        const got = (await collection.table.query().where(where).select(["id"]).toArray()).map((r) => r.id).sort();
        expect(got, where).toEqual(
          all
            .filter(keep)
            .map((r) => r.id)
            .sort(),
        );
      }
      return all;
    };
    // Half the rows written since the indexes were declared (not yet folded in), then all of them.
    await ingestDocuments(docs.slice(0, 30), { collection, embedder, chunker, optimize: false });
    expect((await check()).length).toBeGreaterThan(0);
    await ingestDocuments(docs.slice(30), { collection, embedder, chunker });
    const all = await check();
    for (const i of (await collection.table.listIndices()).filter((x) => scalar.includes(x.columns[0]!))) {
      expect((await collection.table.indexStats(i.name))!.numUnindexedRows, i.name).toBe(0);
      expect((await collection.table.indexStats(i.name))!.numIndexedRows, i.name).toBe(all.length);
    }
    // Through the indexes, a filtered search still returns k results when k rows qualify.
    const hits = await collection.searchText("invoice ledger dividend audit payroll report", {
      k: 5,
      where: accessPredicate({ labels: [] })!,
    });
    expect(hits).toHaveLength(5);
    for (const h of hits) expect(h.chunk.access).toEqual(["public"]);
  });

  it("builds an ANN index past the threshold and still honours access labels", async () => {
    const { docs, embedder, collection, chunker } = await setup(400, { threshold: 300, type: "ivf_pq" } as never);
    await ingestDocuments(docs, { collection, embedder, chunker, batchSize: 100 });
    const idx = await collection.indexes();
    expect(idx.map((i) => i.type)).toEqual(expect.arrayContaining(["FTS", "IvfPq"]));
    // Several queries, summed: one query's overlap swings with the randomly trained quantiser.
    let overlap = 0;
    for (const q of [
      "invoice ledger dividend audit payroll",
      "telescope galaxy orbit",
      "garlic butter oven",
      "harbor anchor tide",
    ]) {
      const qv = (await embedder.embed([q]))[0]!;
      const where = accessPredicate({ labels: ["team:a"] });
      const hits = await collection.searchVector(qv, { k: 10, where, nprobes: 64, refineFactor: 10 });
      expect(hits).toHaveLength(10);
      for (const h of hits) expect(h.chunk.access.some((l) => l === "public" || l === "team:a")).toBe(true);
      const exact = await collection.searchVector(qv, { k: 10, where, exact: true });
      overlap += hits.filter((h) => exact.some((e) => e.chunk.id === h.chunk.id)).length;
    }
    // The quantised index, probing every partition and refining on full vectors, finds most exact neighbours.
    expect(overlap).toBeGreaterThanOrEqual(32);
  });

  it("finds the exact neighbours through an HNSW index too", async () => {
    const { docs, embedder, collection, chunker } = await setup(400, { threshold: 300, type: "ivf_hnsw_sq" } as never);
    await ingestDocuments(docs, { collection, embedder, chunker, batchSize: 200 });
    expect((await collection.indexes()).map((i) => i.type)).toContain("IvfHnswSq");
    let overlap = 0;
    for (const q of ["telescope galaxy orbit", "garlic butter oven", "harbor anchor tide"]) {
      const qv = (await embedder.embed([q]))[0]!;
      const ann = await collection.searchVector(qv, { k: 10, ef: 64 });
      const exact = await collection.searchVector(qv, { k: 10, exact: true });
      overlap += ann.filter((h) => exact.some((e) => e.chunk.id === h.chunk.id)).length;
    }
    expect(overlap).toBeGreaterThanOrEqual(24);
  });

  it("keeps versions, tags them and rolls back", async () => {
    const { docs, embedder, collection, chunker } = await setup(20);
    await ingestDocuments(docs.slice(0, 10), { collection, embedder, chunker });
    const tagged = await collection.tag("first-ten");
    const rows10 = await collection.count();
    await ingestDocuments(docs.slice(10), { collection, embedder, chunker });
    expect(await collection.count()).toBeGreaterThan(rows10);
    const versions = await collection.versions();
    expect(versions.find((v) => v.version === tagged)!.tags).toEqual(["first-ten"]);
    const restored = await collection.rollback("first-ten");
    expect(restored).toBeGreaterThan(tagged);
    expect(await collection.count()).toBe(rows10);
    // The rollback is itself a version: undo it.
    await collection.rollback(restored - 1);
    expect(await collection.count()).toBeGreaterThan(rows10);
    await expect(collection.rollback(99999)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(collection.rollback("nope")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(collection.tag("first-ten")).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("resumes an interrupted ingest where it stopped", async () => {
    const { docs, embedder, collection, chunker } = await setup(40);
    const abort = new AbortController();
    let batches = 0;
    await expect(
      ingestDocuments(docs, {
        collection,
        embedder,
        chunker,
        batchSize: 10,
        signal: abort.signal,
        onProgress: () => {
          if (++batches === 2) abort.abort(new Error("interrupted"));
        },
      }),
    ).rejects.toThrow(/interrupted/);
    const partial = new Set((await collection.fingerprints()).keys());
    expect(partial.size).toBe(20);
    const resumed = await ingestDocuments(docs, { collection, embedder, chunker, batchSize: 10 });
    expect(resumed).toMatchObject({ written: 20, unchanged: 20 });
    expect((await collection.fingerprints()).size).toBe(40);
  });

  it("searches an empty collection without error", async () => {
    const { embedder, collection } = await setup(10);
    expect(await collection.searchText("anything at all", { k: 5 })).toEqual([]);
    const qv = (await embedder.embed(["telescope galaxy"]))[0]!;
    expect(await collection.searchVector(qv, { k: 5 })).toEqual([]);
  });

  it("reports clear errors", async () => {
    const { docs, index, collection, chunker } = await setup(10);
    await expect(index.open("nope")).rejects.toThrow(/no collection "nope".*/);
    await expect(index.create("kb", { dimensions: 16, embedderId: "x" })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(index.create("bad name!", { dimensions: 16, embedderId: "x" })).rejects.toThrow(
      /invalid collection name/,
    );
    const other = new LsaEmbedder({ dimensions: 8 }).fit(docs.map((d) => d.content));
    await expect(ingestDocuments(docs, { collection, embedder: other, chunker })).rejects.toThrow(
      /holds vectors of lsa-tfidf/,
    );
    await expect(collection.searchVector(new Float32Array(3), { k: 1 })).rejects.toThrow(/3-wide/);
    expect(await collection.searchText("", { k: 3 })).toEqual([]);
    expect(await collection.searchText("zzzunknownword", { k: 3 })).toEqual([]);
  });
});

describe("filters", () => {
  it("compile to SQL with quoting, metadata pairs and operators", () => {
    expect(compileFilter({ sourceName: "o'brien", team: { $in: ["a", "b"] }, updatedAt: { $gte: 5, $lt: 9 } })).toBe(
      "source_name = 'o''brien' AND array_has_any(meta_kv, ['team=a', 'team=b']) AND (updated_at >= 5 AND updated_at < 9)",
    );
    expect(compileFilter({ $or: [{ topic: "x" }, { $not: { priority: { $gt: 1 } } }] })).toBe(
      "(array_has(meta_kv, 'topic=x') OR NOT (source_priority > 1))",
    );
    expect(() => compileFilter({ topic: { $gt: 3 } })).toThrow(/only \$eq, \$ne, \$in and \$nin/);
    expect(() => compileFilter({ topic: { $like: "x" } as never })).toThrow(/unknown operator \$like/);
    expect(() => compileFilter({ "bad key'": 1 })).toThrow(/not a valid metadata key/);
    expect(accessPredicate({ labels: ["team:a"] })).toBe("array_has_any(access, ['public', 'team:a'])");
    expect(accessPredicate({ all: true })).toBeUndefined();
    expect(() => accessPredicate({ labels: ["x' OR 1=1 --"] })).toThrow(/invalid access label/);
    expect(metadataPairs({ team: "a", tags: ["x", "y"], nested: { k: 1 }, nil: null })).toEqual([
      "team=a",
      "tags=x",
      "tags=y",
      "nested.k=1",
    ]);
  });
});
