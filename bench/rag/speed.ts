/**
 * RAG speed at 100,000 chunks, side by side with plain LanceDB and with hnswlib/faiss:
 * - ingest throughput (documents/s and chunks/s: chunk + LSA embed + LanceDB write + BM25 index),
 *   against plain LanceDB writing the same precomputed rows and building the same indexes;
 * - query latency p50/p95 over the SciFact test queries: Quintet's Retriever (BM25, vector, hybrid,
 *   hybrid + rerank, each with access filtering) against plain LanceDB queries;
 * - ANN recall@10 and QPS on the same LSA vectors: LanceDB IVF_PQ / IVF_HNSW_SQ against hnswlib and
 *   faiss (exported to a temp file; exact neighbours by numpy).
 * The corpus is SciFact's 5,183 abstracts, copied with distinct ids until 64-token chunks reach 100k.
 *
 * Run: `npm run bench:rag` or `node --conditions=source --import tsx bench/rag/speed.ts [data dir]`.
 * Writes `bench/results/rag-speed.{json,md}`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, Index, rerankers } from "@lancedb/lancedb";
import { l2Normalize } from "@quintet/llm";
import {
  beirDocuments,
  createDocument,
  DEFAULT_EVAL_LSA,
  type Document,
  fitBeirLsa,
  ftsQuery,
  ingestDocuments,
  LexicalReranker,
  loadBeir,
  RagIndex,
  RecursiveChunker,
  type RetrieveOptions,
  Retriever,
} from "@quintet/rag";
import { cacheDir, machine, PY, quantile, resultsDir, scifactDir } from "./common.js";

const arrow: typeof import("apache-arrow") = createRequire(import.meta.url)("apache-arrow");
// QUINTET_BENCH_RAG_CHUNKS / _DOCS shrink the run for a smoke test; the results are for 100k.
const TARGET = Number(process.env.QUINTET_BENCH_RAG_CHUNKS ?? 100_000);
const K = 10;
const env = machine();
const log = (s: string) => process.stderr.write(`  ${s}\n`);
const work = mkdtempSync(join(tmpdir(), "quintet-bench-rag-"));

const ds = await loadBeir(scifactDir(), { split: "test" });
const { embedder, ms: fitMs, cached } = fitBeirLsa(ds, DEFAULT_EVAL_LSA, cacheDir);
log(`LSA ${embedder.dimensions} dims ${cached ? "loaded" : `fitted in ${(fitMs / 1000).toFixed(0)} s`}`);
const base = beirDocuments(ds).slice(0, Number(process.env.QUINTET_BENCH_RAG_DOCS ?? Number.POSITIVE_INFINITY));
const chunker = new RecursiveChunker({ chunkTokens: 64, overlapTokens: 16 });

// How many copies reach the target (one copy's chunking, timed, is also the chunking speed).
let t = performance.now();
let perCopy = 0;
for (const d of base) perCopy += (await chunker.chunk(d)).length;
const chunkOneCopyMs = performance.now() - t;
const copies = Math.ceil(TARGET / perCopy);
const docs: Document[] = [];
for (let c = 0; c < copies; c++) {
  for (const d of base)
    docs.push(
      createDocument({
        ...d,
        source: { ...d.source, key: `${c}:${d.source.key}` },
        metadata: { ...d.metadata, copy: c },
      }),
    );
}
log(`${perCopy} chunks per copy, ${copies} copies → ${docs.length} documents`);

// A. Chunk + embed alone (what ingest does before writing); the rows are kept for the baselines.
t = performance.now();
const dims = embedder.dimensions!;
const ids: string[] = [];
const texts: string[] = [];
const vecs: Float32Array[] = [];
for (let i = 0; i < docs.length; i += 256) {
  const batch: string[] = [];
  for (const d of docs.slice(i, i + 256)) {
    for (const c of await chunker.chunk(d)) {
      batch.push(c.text);
      ids.push(c.id);
    }
  }
  texts.push(...batch);
  for (const v of await embedder.embed(batch)) vecs.push(l2Normalize(Float32Array.from(v)));
}
const chunkEmbedMs = performance.now() - t;

// B. Full ingest into Quintet (ANN index built separately below).
const index = await RagIndex.open({ dir: join(work, "quintet"), ann: { threshold: Number.POSITIVE_INFINITY } });
const collection = await index.create("bench", {
  dimensions: embedder.dimensions!,
  embedderId: embedder.id,
  chunker: chunker.name,
});
t = performance.now();
const ing = await ingestDocuments(docs, { collection, embedder, chunker, batchSize: 256 });
const ingestMs = performance.now() - t;
t = performance.now();
await collection.buildVectorIndex();
await collection.optimize();
const annBuildMs = performance.now() - t;
log(
  `Quintet ingest ${ing.chunks} chunks in ${(ingestMs / 1000).toFixed(1)} s; IVF_PQ ${(annBuildMs / 1000).toFixed(1)} s`,
);

const n = ids.length;
const flat = new Float32Array(n * dims);
vecs.forEach((v, i) => {
  flat.set(v, i * dims);
});
log(`${n} rows kept for the baselines; writing plain LanceDB`);

// Plain LanceDB: the same rows and vectors, one write, the same two indexes.
const plainDb = await connect(join(work, "plain"));
const vField = new arrow.Field("item", new arrow.Float32(), true);
// Written in 4,096-row batches, as an ingest would.
const plainBatch = (from: number, to: number) =>
  new arrow.Table({
    id: arrow.vectorFromArray(ids.slice(from, to), new arrow.Utf8()),
    text: arrow.vectorFromArray(texts.slice(from, to), new arrow.Utf8()),
    vector: arrow.makeVector(
      arrow.makeData({
        type: new arrow.FixedSizeList(dims, vField),
        length: to - from,
        nullCount: 0,
        child: arrow.makeData({
          type: new arrow.Float32(),
          length: (to - from) * dims,
          data: flat.subarray(from * dims, to * dims),
        }),
      }),
    ),
  });
const PLAIN_BATCH = 4096;
// As Quintet does: the BM25 index is declared on the empty table and folded in by optimize().
// (createIndex on a full 100k-row table waited forever here, with no CPU use, on LanceDB 0.31.)
t = performance.now();
const plain = await plainDb.createEmptyTable("plain", plainBatch(0, 1).schema);
await plain.createIndex("text", { config: Index.fts() });
for (let i = 0; i < n; i += PLAIN_BATCH) await plain.add(plainBatch(i, Math.min(n, i + PLAIN_BATCH)));
const plainWriteMs = performance.now() - t;
log("plain LanceDB rows written; folding them into the BM25 index");
t = performance.now();
await plain.optimize();
const plainFtsMs = performance.now() - t;
log("plain LanceDB FTS built; building IVF_PQ");
t = performance.now();
await plain.createIndex("vector", {
  config: Index.ivfPq({ distanceType: "cosine", numPartitions: Math.round(Math.sqrt(n)), numSubVectors: dims / 8 }),
});
const plainAnnMs = performance.now() - t;
log(
  `plain LanceDB write ${(plainWriteMs / 1000).toFixed(1)} s, FTS ${(plainFtsMs / 1000).toFixed(1)} s, IVF_PQ ${(plainAnnMs / 1000).toFixed(1)} s`,
);

// Query latency over the test queries.
const queries = [...ds.qrels.keys()].map((q) => ds.queries.get(q)!);
const qvecs = (await embedder.embed(queries)).map((v) => l2Normalize(Float32Array.from(v)));
const retriever = new Retriever({ collection, embedder, reranker: new LexicalReranker() });
async function time(fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p95: number; qps: number }> {
  for (let i = 0; i < 10; i++) await fn(i); // warm caches
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < queries.length; i++) {
    const t1 = performance.now();
    await fn(i);
    lat.push(performance.now() - t1);
  }
  return { p50: quantile(lat, 0.5), p95: quantile(lat, 0.95), qps: queries.length / ((performance.now() - t0) / 1000) };
}
const access = { labels: ["team:research"] };
const q = (o: Partial<RetrieveOptions>) => (i: number) =>
  retriever.retrieve(queries[i]!, { access, k: K, candidates: 50, ...o });
const latency: Array<{ system: string; query: string; p50: number; p95: number; qps: number }> = [];
log("timing queries");
const add = async (system: string, query: string, fn: (i: number) => Promise<unknown>) => {
  const r = await time(fn);
  latency.push({ system, query, ...r });
  log(`${system} ${query}: p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms`);
};
await add("Quintet Retriever", "BM25", q({ mode: "bm25" }));
await add("Quintet Retriever", "vector (IVF_PQ, refine ×5)", q({ mode: "vector", vectorSearch: { refineFactor: 5 } }));
await add("Quintet Retriever", "hybrid RRF", q({ vectorSearch: { refineFactor: 5 } }));
await add(
  "Quintet Retriever",
  "hybrid weighted + lexical rerank",
  q({ fusion: { method: "weighted", vectorWeight: 0.1 }, rerank: true, vectorSearch: { refineFactor: 5 } }),
);
await add("plain LanceDB", "BM25", (i) =>
  plain.query().fullTextSearch(ftsQuery(queries[i]!)).select(["id", "text", "_score"]).limit(K).toArray(),
);
await add("plain LanceDB", "vector (IVF_PQ, refine ×5)", (i) =>
  plain
    .query()
    .nearestTo(qvecs[i]!)
    .distanceType("cosine")
    .refineFactor(5)
    .select(["id", "text", "_distance"])
    .limit(K)
    .toArray(),
);
const rrf = await rerankers.RRFReranker.create(60);
let plainHybrid = true;
try {
  await plain
    .query()
    .nearestTo(qvecs[0]!)
    .distanceType("cosine")
    .fullTextSearch(ftsQuery(queries[0]!))
    .rerank(rrf)
    .select(["id", "text"])
    .limit(K)
    .toArray();
} catch (err) {
  plainHybrid = false;
  log(`plain LanceDB hybrid unavailable: ${(err as Error).message.slice(0, 120)}`);
}
if (plainHybrid) {
  await add("plain LanceDB", "hybrid RRFReranker", (i) =>
    plain
      .query()
      .nearestTo(qvecs[i]!)
      .distanceType("cosine")
      .refineFactor(5)
      .fullTextSearch(ftsQuery(queries[i]!))
      .rerank(rrf)
      .select(["id", "text"])
      .limit(K)
      .toArray(),
  );
}

log("ANN comparison");
// ANN: export vectors and all non-zero query vectors; peers and the exact answer from Python.
const allQ = (await embedder.embed([...ds.queries.values()]))
  .map((v) => l2Normalize(Float32Array.from(v)))
  .filter((v) => v.some((x) => x !== 0));
const qflat = new Float32Array(allQ.length * dims);
allQ.forEach((v, i) => {
  qflat.set(v, i * dims);
});
writeFileSync(join(work, "base.f32"), Buffer.from(flat.buffer));
writeFileSync(join(work, "queries.f32"), Buffer.from(qflat.buffer));
const py = spawnSync(
  PY,
  [
    join(import.meta.dirname, "ann_peer.py"),
    join(work, "base.f32"),
    join(work, "queries.f32"),
    String(dims),
    String(K),
    join(work, "peers.json"),
  ],
  {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  },
);
if (py.status !== 0) throw new Error(`ann_peer.py failed: ${py.stderr}`);
const peers = JSON.parse(readFileSync(join(work, "peers.json"), "utf8")) as {
  truth: number[][];
  exact: { qps: number };
  peers: Array<{
    library: string;
    index?: string;
    param?: string;
    buildSeconds?: number;
    recall?: number;
    qps?: number;
    error?: string;
  }>;
};
const pos = new Map(ids.map((id, i) => [id, i]));
const ann: Array<{ library: string; index: string; param: string; buildSeconds: number; recall: number; qps: number }> =
  [];
async function annRun(
  label: string,
  param: string,
  build: number,
  search: (v: Float32Array) => Promise<Array<{ id: string }>>,
) {
  let hit = 0;
  const t0 = performance.now();
  for (let i = 0; i < allQ.length; i++) {
    const got = (await search(allQ[i]!)).map((r) => pos.get(r.id)!);
    const truth = new Set(peers.truth[i]!.slice(0, K));
    hit += got.filter((g) => truth.has(g)).length;
  }
  const s = (performance.now() - t0) / 1000;
  ann.push({
    library: "LanceDB",
    index: label,
    param,
    buildSeconds: build,
    recall: hit / (allQ.length * K),
    qps: allQ.length / s,
  });
  log(`LanceDB ${label} ${param}: recall ${(hit / (allQ.length * K)).toFixed(3)}, ${(allQ.length / s).toFixed(0)} QPS`);
}
const plainSearch = (nprobes: number, refine?: number) => (v: Float32Array) => {
  let qq = plain.query().nearestTo(v).distanceType("cosine").nprobes(nprobes).select(["id"]).limit(K);
  if (refine) qq = qq.refineFactor(refine);
  return qq.toArray();
};
await annRun("flat (no index)", "exact", 0, (v) =>
  plain.query().nearestTo(v).distanceType("cosine").bypassVectorIndex().select(["id"]).limit(K).toArray(),
);
for (const np of [10, 20, 50])
  await annRun(`IVF_PQ ${Math.round(Math.sqrt(n))}×PQ${dims / 8}`, `nprobes=${np}`, plainAnnMs / 1000, plainSearch(np));
for (const np of [10, 20])
  await annRun(
    `IVF_PQ ${Math.round(Math.sqrt(n))}×PQ${dims / 8}`,
    `nprobes=${np}, refine×5`,
    plainAnnMs / 1000,
    plainSearch(np, 5),
  );
t = performance.now();
await plain.createIndex("vector", {
  config: Index.hnswSq({ distanceType: "cosine", numPartitions: 1 }),
  replace: true,
});
const hnswMs = performance.now() - t;
for (const ef of [32, 64, 128, 256]) {
  await annRun("IVF_HNSW_SQ (1 partition)", `ef=${ef}`, hnswMs / 1000, (v) =>
    plain.query().nearestTo(v).distanceType("cosine").ef(ef).select(["id"]).limit(K).toArray(),
  );
}
for (const p of peers.peers) {
  if (p.error) log(`${p.library}: ${p.error}`);
  else
    ann.push({
      library: p.library,
      index: p.index!,
      param: p.param!,
      buildSeconds: p.buildSeconds!,
      recall: p.recall!,
      qps: p.qps!,
    });
}

const ingest = {
  documents: docs.length,
  chunks: ing.chunks,
  quintet: {
    seconds: ingestMs / 1000,
    docsPerSec: docs.length / (ingestMs / 1000),
    chunksPerSec: ing.chunks / (ingestMs / 1000),
    chunkEmbedSeconds: chunkEmbedMs / 1000,
    writeAndIndexSeconds: (ingestMs - chunkEmbedMs) / 1000,
    annBuildSeconds: annBuildMs / 1000,
    chunkingOneCopySeconds: chunkOneCopyMs / 1000,
  },
  plainLanceDb: {
    writeSeconds: plainWriteMs / 1000,
    ftsSeconds: plainFtsMs / 1000,
    annBuildSeconds: plainAnnMs / 1000,
    chunksPerSec: n / ((plainWriteMs + plainFtsMs) / 1000),
  },
};
const result = {
  machine: env,
  corpus: `SciFact ×${copies} (distinct ids), 64-token chunks, ${n} rows, LSA ${dims} dims`,
  ingest,
  latency,
  ann,
  exactNumpyQps: peers.exact.qps,
  queries: { latency: queries.length, ann: allQ.length },
};
const f = (x: number, d = 1) => x.toFixed(d);
const md = [
  "# RAG speed at 100k chunks",
  "",
  `${result.corpus}. ${env}. Single-threaded queries, one after another.`,
  "",
  "## Ingest",
  "",
  "| system | what is timed | seconds | docs/s | chunks/s |",
  "| --- | --- | ---: | ---: | ---: |",
  `| Quintet ingestDocuments | chunk (tiktoken) + LSA embed + LanceDB write + BM25 index | ${f(ingest.quintet.seconds)} | ${f(ingest.quintet.docsPerSec, 0)} | ${f(ingest.quintet.chunksPerSec, 0)} |`,
  `| of which chunk + embed | measured alone | ${f(ingest.quintet.chunkEmbedSeconds)} | | |`,
  `| plain LanceDB | write precomputed rows (4,096-row batches) + BM25 index (optimize) | ${f(ingest.plainLanceDb.writeSeconds + ingest.plainLanceDb.ftsSeconds)} | | ${f(ingest.plainLanceDb.chunksPerSec, 0)} |`,
  `| IVF_PQ build | Quintet / plain LanceDB | ${f(ingest.quintet.annBuildSeconds)} / ${f(ingest.plainLanceDb.annBuildSeconds)} | | |`,
  "",
  `## Query latency (${queries.length} SciFact test queries, k = ${K})`,
  "",
  "| system | query | p50 ms | p95 ms | QPS |",
  "| --- | --- | ---: | ---: | ---: |",
  ...latency.map((l) => `| ${l.system} | ${l.query} | ${f(l.p50)} | ${f(l.p95)} | ${f(l.qps, 0)} |`),
  "",
  "Quintet's queries run with an access-label filter inside the search and return full chunk rows with explanations; plain LanceDB returns id and text.",
  "",
  `## ANN recall@${K} and QPS (${allQ.length} query vectors, ${n} base vectors, ${dims} dims, inner product)`,
  "",
  "| library | index | setting | build s | recall@10 | QPS |",
  "| --- | --- | --- | ---: | ---: | ---: |",
  ...ann.map(
    (a) =>
      `| ${a.library} | ${a.index} | ${a.param} | ${f(a.buildSeconds)} | ${a.recall.toFixed(3)} | ${f(a.qps, 0)} |`,
  ),
  "",
  `Exact search in numpy (BLAS, batched): ${f(peers.exact.qps, 0)} QPS.`,
  "",
].join("\n");
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, "rag-speed.json"), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(resultsDir, "rag-speed.md"), md);
console.log(md);
index.close();
rmSync(work, { recursive: true, force: true });
