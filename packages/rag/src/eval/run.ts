import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ValidationError } from "@quintet/core";
import { LsaEmbedder, type LsaOptions } from "@quintet/llm";
import { RecursiveChunker } from "../chunking/recursive.js";
import type { Hit } from "../index/collection.js";
import { ingestDocuments } from "../index/ingest.js";
import { RagIndex } from "../index/rag-index.js";
import { type Fusion, fuse, type RankedList } from "../retrieval/fusion.js";
import { LexicalReranker, type RerankExample } from "../retrieval/rerank/lexical.js";
import type { RerankCandidate, Reranker, RerankResult } from "../retrieval/rerank/types.js";
import { type RetrieveOptions, Retriever } from "../retrieval/retriever.js";
import { type BeirDataset, beirDocuments, loadBeir } from "./beir.js";
import { evaluateRun, type RunMetrics } from "./metrics.js";

/** One retrieval configuration evaluated on the split. */
export interface ConfigResult {
  name: string;
  description: string;
  metrics: RunMetrics;
  /** Per-query latency through the Retriever, in ms. */
  latency: { p50: number; p95: number };
}

export interface BeirEvalReport {
  dataset: string;
  split: string;
  documents: number;
  chunks: number;
  queries: number;
  embedder: { id: string; dimensions: number; options: LsaOptions };
  tuning?: {
    split: string;
    queries: number;
    rrf: { k: number; vectorWeight: number; ndcg10: number };
    weighted: { vectorWeight: number; normalize: "minmax" | "dbsf"; ndcg10: number };
    chosen: Fusion;
    reranker?: { weights: Record<string, number>; examples: number; loss: number };
  };
  configs: ConfigResult[];
  timings: { loadMs: number; fitMs: number; ingestMs: number; ingestDocsPerSec: number; fitCached: boolean };
  /** When the run happened, ISO. */
  at: string;
}

export type EvalStage = "load" | "fit" | "ingest" | "tune" | "evaluate";

export interface BeirEvalOptions {
  /** The BEIR folder. */
  dataset: string;
  /** Split reported on (default test). */
  split?: string;
  /** Split to tune fusion and fit the reranker on (default train, when present; `false` to skip tuning). */
  tuneSplit?: string | false;
  /** LSA settings (default 256 dimensions, minDf 2, 2 power iterations). */
  lsa?: LsaOptions;
  /** Folder to cache fitted LSA models in (keyed by corpus and settings); default none. */
  cacheDir?: string;
  /** Where to build the index; default a temp folder removed afterwards. */
  indexDir?: string;
  /** Chunk size in tokens (default 512; BEIR abstracts mostly fit in one chunk). */
  chunkTokens?: number;
  /** Evaluate only the first n judged queries (quick runs). */
  maxQueries?: number;
  /** Configurations to report (default all). */
  configs?: string[];
  onProgress?: (stage: EvalStage, done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Every configuration {@link runBeirEval} knows, in report order. */
export const EVAL_CONFIGS = ["bm25", "vector-lsa", "hybrid-rrf", "hybrid-tuned", "hybrid-tuned+rerank"] as const;

const DEPTH = 100;
const CANDIDATES = 200;
const RERANK_TOP = 50;

/** Passes candidates through unchanged, remembering them (to fit the reranker on exactly what the Retriever sees). */
class RecordingReranker implements Reranker {
  readonly name = "recording";
  readonly calls: Array<{ query: string; candidates: RerankCandidate[] }> = [];
  async rerank(query: string, candidates: readonly RerankCandidate[]): Promise<RerankResult[]> {
    this.calls.push({ query, candidates: [...candidates] });
    return candidates.map((c, i) => ({ id: c.id, score: -i }));
  }
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** BEIR document ids in rank order from chunk hits (a document counts at its best chunk). */
function docRanking(
  chunks: ReadonlyArray<{ documentId: string; metadata: Record<string, unknown> }>,
  depth = DEPTH,
): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const c of chunks) {
    const id = String(c.metadata.beirId ?? c.documentId);
    if (!seen.has(id)) {
      seen.add(id);
      out.push(id);
      if (out.length >= depth) break;
    }
  }
  return out;
}

function lsaCacheKey(ds: BeirDataset, opts: LsaOptions): string {
  const h = createHash("sha256").update(JSON.stringify(opts));
  for (const d of ds.corpus)
    h.update(d.id).update("\u0000").update(d.title).update("\u0000").update(d.text).update("\u0001");
  return h.digest("hex").slice(0, 24);
}

/** LSA settings for BEIR runs: 256 dimensions, words seen in ≥ 2 documents, 2 power iterations. */
export const DEFAULT_EVAL_LSA: LsaOptions = { dimensions: 256, minDf: 2, powerIterations: 2 };

/**
 * Fits LSA on a BEIR corpus (title and text), or loads the model fitted before with the same corpus
 * and settings from `cacheDir`.
 */
export function fitBeirLsa(
  ds: BeirDataset,
  options: LsaOptions = DEFAULT_EVAL_LSA,
  cacheDir?: string,
): { embedder: LsaEmbedder; cached: boolean; ms: number } {
  const t = performance.now();
  const cachePath = cacheDir ? join(cacheDir, `lsa-${ds.name}-${lsaCacheKey(ds, options)}.json`) : undefined;
  if (cachePath && existsSync(cachePath))
    return { embedder: LsaEmbedder.load(cachePath), cached: true, ms: performance.now() - t };
  const embedder = new LsaEmbedder(options).fit(beirDocuments(ds).map((d) => d.content));
  if (cachePath) {
    mkdirSync(cacheDir!, { recursive: true });
    embedder.save(cachePath);
  }
  return { embedder, cached: false, ms: performance.now() - t };
}

function judged(qrels: Map<string, Map<string, number>>, max?: number): Map<string, Map<string, number>> {
  const entries = [...qrels.entries()].filter(([, r]) => [...r.values()].some((g) => g > 0));
  return new Map(max ? entries.slice(0, max) : entries);
}

/**
 * Evaluates retrieval on a BEIR dataset: fits LSA embeddings on the corpus (offline, no download),
 * indexes it in LanceDB, tunes fusion (RRF k and weights, weighted-score fusion) and fits the
 * lexical reranker on the tuning split's qrels, then reports nDCG@10, recall@10/100 and MRR@10 of
 * each configuration on the report split, running every query through the real Retriever.
 */
export async function runBeirEval(options: BeirEvalOptions): Promise<BeirEvalReport> {
  const split = options.split ?? "test";
  const progress = options.onProgress ?? (() => {});
  const wanted = options.configs ?? [...EVAL_CONFIGS];
  for (const c of wanted) {
    if (!(EVAL_CONFIGS as readonly string[]).includes(c)) {
      throw new ValidationError(`unknown evaluation configuration "${c}"`, {
        hint: `Choose from ${EVAL_CONFIGS.join(", ")}.`,
      });
    }
  }
  let t = performance.now();
  progress("load", 0, 1);
  const ds = await loadBeir(options.dataset, { split });
  const tuneSplit =
    options.tuneSplit === false
      ? undefined
      : (options.tuneSplit ??
        (existsSync(join(ds.dir, "qrels", "train.tsv")) && split !== "train" ? "train" : undefined));
  const tuneQrels = tuneSplit ? judged((await loadBeir(options.dataset, { split: tuneSplit })).qrels) : undefined;
  const evalQrels = judged(ds.qrels, options.maxQueries);
  const loadMs = performance.now() - t;
  progress("load", 1, 1);

  // Fit (or load) LSA on the corpus text.
  const lsaOptions: LsaOptions = { ...DEFAULT_EVAL_LSA, ...options.lsa };
  const docs = beirDocuments(ds);
  progress("fit", 0, 1);
  const { embedder, cached: fitCached, ms: fitMs } = fitBeirLsa(ds, lsaOptions, options.cacheDir);
  progress("fit", 1, 1);

  // Index.
  const tempDir = options.indexDir ? undefined : mkdtempSync(join(tmpdir(), "quintet-beir-"));
  const index = await RagIndex.open({ dir: options.indexDir ?? tempDir! });
  try {
    const name = `beir-${ds.name}`.replace(/[^\w-]/g, "-").slice(0, 64);
    if (await index.has(name)) await index.drop(name);
    const collection = await index.create(name, {
      dimensions: embedder.dimensions!,
      embedderId: embedder.id,
      chunker: `recursive:${options.chunkTokens ?? 512}/64`,
    });
    t = performance.now();
    const chunker = new RecursiveChunker({ chunkTokens: options.chunkTokens ?? 512, overlapTokens: 64 });
    const _ingest = await ingestDocuments(docs, {
      collection,
      embedder,
      chunker,
      batchSize: 256,
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (p) => progress("ingest", p.documents, docs.length),
    });
    const ingestMs = performance.now() - t;

    const base: RetrieveOptions = { access: { all: true }, k: DEPTH + 50, candidates: CANDIDATES };
    const recorder = new RecordingReranker();
    let chosen: Fusion = { method: "rrf", k: 60 };
    let tuning: BeirEvalReport["tuning"];
    const lexical = new LexicalReranker();

    if (tuneQrels && (wanted.includes("hybrid-tuned") || wanted.includes("hybrid-tuned+rerank"))) {
      const qids = [...tuneQrels.keys()];
      // The two ranked lists of every tuning query, searched once; fusion variants are then cheap.
      const lists: Array<{ q: string; bm25: Hit[]; vector: Hit[] }> = [];
      const qvecs = await embedder.embed(qids.map((q) => ds.queries.get(q)!));
      for (let i = 0; i < qids.length; i++) {
        options.signal?.throwIfAborted();
        const text = ds.queries.get(qids[i]!)!;
        const v = qvecs[i]!;
        lists.push({
          q: qids[i]!,
          bm25: await collection.searchText(text, { k: CANDIDATES }),
          vector: v.some((x) => x !== 0) ? await collection.searchVector(v, { k: CANDIDATES }) : [],
        });
        if (i % 50 === 0) progress("tune", i, qids.length * 2);
      }
      const score = (f: Fusion) => {
        const run = new Map<string, string[]>();
        for (const l of lists) {
          const ranked: RankedList[] = [
            { name: "bm25", family: "bm25", hits: l.bm25 },
            { name: "vector", family: "vector", hits: l.vector },
          ];
          run.set(l.q, docRanking(fuse(ranked, f).map((c) => c.hit.chunk)));
        }
        return evaluateRun(run, tuneQrels)["ndcg@10"];
      };
      let rrf = { k: 60, vectorWeight: 0.5, ndcg10: -1 };
      for (const k of [1, 5, 10, 20, 40, 60, 100]) {
        for (const vw of [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]) {
          const s = score({ method: "rrf", k, vectorWeight: vw });
          if (s > rrf.ndcg10) rrf = { k, vectorWeight: vw, ndcg10: s };
        }
      }
      let weighted = { vectorWeight: 0.5, normalize: "minmax" as "minmax" | "dbsf", ndcg10: -1 };
      for (const normalize of ["minmax", "dbsf"] as const) {
        for (let vw = 0.05; vw < 0.96; vw += 0.05) {
          const w = Math.round(vw * 100) / 100;
          const s = score({ method: "weighted", vectorWeight: w, normalize });
          if (s > weighted.ndcg10) weighted = { vectorWeight: w, normalize, ndcg10: s };
        }
      }
      chosen =
        weighted.ndcg10 > rrf.ndcg10
          ? { method: "weighted", vectorWeight: weighted.vectorWeight, normalize: weighted.normalize }
          : { method: "rrf", k: rrf.k, vectorWeight: rrf.vectorWeight };
      tuning = { split: tuneSplit!, queries: qids.length, rrf, weighted, chosen };

      if (wanted.includes("hybrid-tuned+rerank")) {
        // Fit the reranker on the candidates the Retriever hands it for the tuning queries.
        const rec = new Retriever({ collection, embedder, reranker: recorder });
        const examples: RerankExample[] = [];
        for (let i = 0; i < qids.length; i++) {
          options.signal?.throwIfAborted();
          const q = qids[i]!;
          await rec.retrieve(ds.queries.get(q)!, { ...base, fusion: chosen, rerank: { topN: RERANK_TOP } });
          const call = recorder.calls.pop()!;
          const relevantDocs = tuneQrels.get(q)!;
          const relevant = new Set(
            call.candidates.filter((c) => (relevantDocs.get(beirIdOf(c.id)) ?? 0) > 0).map((c) => c.id),
          );
          if (relevant.size > 0 && relevant.size < call.candidates.length)
            examples.push({ query: call.query, candidates: call.candidates, relevant });
          if (i % 50 === 0) progress("tune", qids.length + i, qids.length * 2);
        }
        const loss = lexical.fit(examples, { epochs: 300 });
        tuning.reranker = { weights: { ...lexical.weights }, examples: examples.length, loss };
      }
      progress("tune", 1, 1);
    }

    // Evaluate each configuration through the Retriever.
    const retriever = new Retriever({ collection, embedder, reranker: lexical });
    const configs: Record<(typeof EVAL_CONFIGS)[number], { description: string; options: Partial<RetrieveOptions> }> = {
      bm25: { description: "BM25 (LanceDB full-text index, English stemming)", options: { mode: "bm25" } },
      "vector-lsa": {
        description: `LSA vectors (${embedder.dimensions} dims, fitted on the corpus), exact search`,
        options: { mode: "vector" },
      },
      "hybrid-rrf": {
        description: "BM25 + LSA, reciprocal-rank fusion (k = 60, equal weights)",
        options: { fusion: { method: "rrf", k: 60 } },
      },
      "hybrid-tuned": {
        description: `BM25 + LSA, ${describeFusion(chosen)}${tuning ? ` (tuned on ${tuning.split})` : ""}`,
        options: { fusion: chosen },
      },
      "hybrid-tuned+rerank": {
        description: `hybrid-tuned, top ${RERANK_TOP} reranked by the lexical cross-feature scorer${tuning?.reranker ? ` (fitted on ${tuning.split})` : ""}`,
        options: { fusion: chosen, rerank: { topN: RERANK_TOP } },
      },
    };
    const results: ConfigResult[] = [];
    const evalIds = [...evalQrels.keys()];
    let done = 0;
    for (const name of wanted as Array<(typeof EVAL_CONFIGS)[number]>) {
      const run = new Map<string, string[]>();
      const lat: number[] = [];
      for (const q of evalIds) {
        options.signal?.throwIfAborted();
        const t1 = performance.now();
        const r = await retriever.retrieve(ds.queries.get(q)!, { ...base, ...configs[name].options });
        lat.push(performance.now() - t1);
        run.set(q, docRanking(r.results.map((x) => x.chunk)));
        progress("evaluate", ++done, evalIds.length * wanted.length);
      }
      results.push({
        name,
        description: configs[name].description,
        metrics: evaluateRun(run, evalQrels),
        latency: { p50: quantile(lat, 0.5), p95: quantile(lat, 0.95) },
      });
    }
    return {
      dataset: ds.name,
      split,
      documents: docs.length,
      chunks: await collection.count(),
      queries: evalIds.length,
      embedder: { id: embedder.id, dimensions: embedder.dimensions!, options: lsaOptions },
      ...(tuning ? { tuning } : {}),
      configs: results,
      timings: { loadMs, fitMs, ingestMs, ingestDocsPerSec: docs.length / (ingestMs / 1000), fitCached },
      at: new Date().toISOString(),
    };
  } finally {
    index.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}

/** The BEIR id of a chunk id (`inline:<dataset>:<id>#<n>`). */
function beirIdOf(chunkId: string): string {
  const doc = chunkId.slice(0, chunkId.lastIndexOf("#"));
  return doc.slice(doc.indexOf(":", doc.indexOf(":") + 1) + 1);
}

export function describeFusion(f: Fusion): string {
  return f.method === "rrf"
    ? `reciprocal-rank fusion (k = ${f.k ?? 60}, vector weight ${f.vectorWeight ?? 0.5})`
    : `weighted ${f.normalize ?? "minmax"}-normalised scores (vector weight ${f.vectorWeight})`;
}
