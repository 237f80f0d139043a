import { QuintetError, ValidationError } from "@quintet/core";
import { cosineSimilarity, type Embedder, type LlmClient, l2Normalize } from "@quintet/llm";
import type { ChunkRef, Collection, SearchOptions, StoredChunk } from "../index/collection.js";
import { accessPredicate, andPredicates, compileFilter, type Filter, type Principal } from "../index/filter.js";
import { type Fusion, fuse, type RankedList } from "./fusion.js";
import { mmr } from "./mmr.js";
import { decomposeQuery, hypotheticalDocument, multiQuery, rewriteQuery } from "./query.js";
import type { RerankCandidate, Reranker } from "./rerank/types.js";

/** A query actually searched: the user's, or one derived from it by the LLM. */
export interface QueryVariant {
  text: string;
  kind: "original" | "rewrite" | "multi-query" | "sub-question" | "hyde";
  /** Which retrievers searched it (HyDE passages are only embedded). */
  searched: Array<"bm25" | "vector">;
}

/** Why a chunk was returned, step by step. */
export interface Explanation {
  /** Best BM25 rank (1-based) and score over the query variants, and which variant. */
  bm25?: { rank: number; score: number; query: string };
  /** Best vector rank and cosine similarity, and which variant. */
  vector?: { rank: number; score: number; query: string };
  fused: { method: Fusion["method"] | "bm25" | "vector"; score: number; rank: number };
  rerank?: { by: string; score: number; rank: number; previousRank: number };
  mmr?: { rank: number; redundancy: number; lambda: number };
  /** Set when a parent chunk was returned for the children that matched. */
  parent?: { children: string[] };
  /** The access and metadata predicate every search ran with. */
  where?: string;
}

export interface RetrievedChunk {
  chunk: StoredChunk;
  rank: number;
  /** The final ordering score: the reranker's when reranked, else the fused score. */
  score: number;
  explanation: Explanation;
}

export interface RetrieveOptions {
  /** Who is asking: only chunks carrying one of these labels (or `public`) are searched. Required. */
  access: Principal;
  /** Results to return (default 10). */
  k?: number;
  mode?: "hybrid" | "bm25" | "vector";
  /** Candidates taken from each ranked list (default max(50, 5k)). */
  candidates?: number;
  fusion?: Fusion;
  filter?: Filter;
  /** Diversify with maximal marginal relevance (λ default 0.7). */
  mmr?: boolean | { lambda?: number };
  /** Rerank the top `topN` fused candidates (default: all) with the retriever's reranker. */
  rerank?: boolean | { topN?: number };
  /** Return parent chunks instead of the children that matched (default true). */
  expandParents?: boolean;
  /** LLM query transformations (need the retriever's `llm`). */
  transform?: { rewrite?: boolean; multiQuery?: number; hyde?: boolean; decompose?: boolean | number };
  /** ANN tuning for the vector search. */
  vectorSearch?: Pick<SearchOptions, "nprobes" | "ef" | "refineFactor" | "exact">;
  signal?: AbortSignal;
}

export interface RetrievalResult {
  query: string;
  queries: QueryVariant[];
  results: RetrievedChunk[];
  /** Milliseconds per stage. */
  timings: Record<string, number>;
}

export interface RetrieverOptions {
  collection: Collection;
  /** The embedder the collection was built with. */
  embedder: Embedder;
  reranker?: Reranker;
  /** For query rewriting, multi-query, HyDE and decomposition. */
  llm?: LlmClient;
}

const MAX_QUERY_CHARS = 8000;

/** A candidate while ranking: its {@link ChunkRef}, and the full row once read (parents). */
interface PoolEntry {
  chunk: ChunkRef;
  full?: StoredChunk;
  score: number;
  explanation: Explanation;
}

/**
 * Hybrid retrieval over one collection: BM25 and vector search (each with the access and metadata
 * filters applied inside the search), fused by reciprocal rank or weighted scores, optionally
 * reranked, diversified with MMR and expanded to parent chunks, each result with an explanation.
 */
export class Retriever {
  readonly collection: Collection;
  readonly embedder: Embedder;
  readonly reranker: Reranker | undefined;
  readonly llm: LlmClient | undefined;

  constructor(options: RetrieverOptions) {
    if (options.embedder.id !== options.collection.meta.embedderId) {
      throw new QuintetError(
        "VALIDATION_FAILED",
        `collection "${options.collection.name}" was built with ${options.collection.meta.embedderId}; the retriever was given ${options.embedder.id}`,
        { hint: "Query with the embedder the collection was built with." },
      );
    }
    this.collection = options.collection;
    this.embedder = options.embedder;
    this.reranker = options.reranker;
    this.llm = options.llm;
  }

  private needLlm(what: string): LlmClient {
    if (!this.llm) {
      throw new QuintetError("PROVIDER_NOT_CONFIGURED", `${what} needs a language model, and the retriever has none`, {
        hint: "Pass `llm` to the Retriever (e.g. createLlm(process.env.QUINTET_LLM)); set QUINTET_LLM=openai:gpt-4o-mini, ollama:qwen2.5 or llama:./model.gguf.",
      });
    }
    return this.llm;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<RetrievalResult> {
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    const lap = (name: string, since: number) => {
      timings[name] = (timings[name] ?? 0) + (performance.now() - since);
    };
    if (typeof query !== "string" || !query.trim())
      throw new ValidationError("the query is empty", { hint: "Pass a non-empty question." });
    if (query.length > MAX_QUERY_CHARS) {
      throw new ValidationError(`the query is ${query.length} characters, over the ${MAX_QUERY_CHARS} limit`, {
        hint: "Search with the question, not a whole document; summarise long inputs first.",
      });
    }
    if (!options?.access) {
      throw new ValidationError("retrieve() needs `access`: the principal whose labels limit what may be returned", {
        hint: "Pass { access: { labels: user.labels } }, or { access: { all: true } } for trusted back-office code.",
      });
    }
    const k = options.k ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > 1000)
      throw new ValidationError(`k must be an integer in 1–1000, got ${k}`, { hint: "E.g. 10." });
    const depth = options.candidates ?? Math.max(50, 5 * k);
    const mode = options.mode ?? "hybrid";
    const fusion: Fusion = options.fusion ?? { method: "rrf", k: 60 };
    const where = andPredicates(accessPredicate(options.access), compileFilter(options.filter));
    const signal = options.signal;
    const sig = signal ? { signal } : {};

    // 1. Query variants.
    let t = performance.now();
    const variants: QueryVariant[] = [];
    const searchers: Array<"bm25" | "vector"> = mode === "hybrid" ? ["bm25", "vector"] : [mode];
    const tr = options.transform ?? {};
    let base = query.trim();
    if (tr.rewrite) {
      const r = await rewriteQuery(this.needLlm("query rewriting"), base, sig);
      variants.push({ text: base, kind: "original", searched: [...searchers] });
      base = r;
      if (r.toLowerCase() !== query.trim().toLowerCase())
        variants.push({ text: r, kind: "rewrite", searched: [...searchers] });
    } else variants.push({ text: base, kind: "original", searched: [...searchers] });
    const extra: Array<Promise<QueryVariant[]>> = [];
    if (tr.multiQuery) {
      extra.push(
        multiQuery(this.needLlm("multi-query"), base, tr.multiQuery, sig).then((qs) =>
          qs.map((q) => ({ text: q, kind: "multi-query" as const, searched: [...searchers] })),
        ),
      );
    }
    if (tr.decompose) {
      const max = typeof tr.decompose === "number" ? tr.decompose : 4;
      extra.push(
        decomposeQuery(this.needLlm("query decomposition"), base, max, sig).then((qs) =>
          qs.length > 1 ? qs.map((q) => ({ text: q, kind: "sub-question" as const, searched: [...searchers] })) : [],
        ),
      );
    }
    if (tr.hyde && searchers.includes("vector")) {
      extra.push(
        hypotheticalDocument(this.needLlm("HyDE"), base, sig).then((p) => [
          { text: p, kind: "hyde" as const, searched: ["vector" as const] },
        ]),
      );
    }
    for (const vs of await Promise.all(extra)) {
      for (const v of vs) if (!variants.some((x) => x.text === v.text && x.kind !== "hyde")) variants.push(v);
    }
    lap("transform", t);

    // 2. Embed the variants searched by vector.
    t = performance.now();
    const needVectors = Boolean(options.mmr) || Boolean(options.rerank);
    const toEmbed = variants.filter((v) => v.searched.includes("vector"));
    const qvecs = new Map<string, Float32Array>();
    if (toEmbed.length) {
      const vs = await this.embedder.embed(
        toEmbed.map((v) => v.text),
        sig,
      );
      toEmbed.forEach((v, i) => {
        const vec = l2Normalize(Float32Array.from(vs[i]!));
        // A query with no known word embeds to zero: it would match everything equally, so skip it.
        if (vec.some((x) => x !== 0)) qvecs.set(v.text, vec);
        else v.searched = v.searched.filter((s) => s !== "vector");
      });
    }
    lap("embed", t);

    // 3. Search every variant with every retriever, in parallel. Ranking reads only ids (and text,
    // vectors when reranking or diversifying); the full rows of the results are read at the end.
    t = performance.now();
    const search = (limit: number, full: boolean): Promise<Array<RankedList<ChunkRef>>> => {
      const o: SearchOptions = {
        k: limit,
        withVectors: needVectors,
        withText: Boolean(options.rerank),
        ...(where ? { where } : {}),
      };
      const jobs: Array<Promise<RankedList<ChunkRef>>> = [];
      for (const v of variants) {
        if (v.searched.includes("bm25")) {
          const hits = full ? this.collection.searchText(v.text, o) : this.collection.searchTextRefs(v.text, o);
          jobs.push(hits.then((h) => ({ name: `bm25:${v.text}`, family: "bm25" as const, hits: h })));
        }
        const qv = qvecs.get(v.text);
        if (v.searched.includes("vector") && qv) {
          const vo = { ...o, ...options.vectorSearch };
          const hits = full ? this.collection.searchVector(qv, vo) : this.collection.searchVectorRefs(qv, vo);
          jobs.push(hits.then((h) => ({ name: `vector:${v.text}`, family: "vector" as const, hits: h })));
        }
      }
      return Promise.all(jobs);
    };
    // One ranked list, neither reranked nor diversified, fused by rank: its first k hits are the
    // results, so they are read whole in one query. Children that fold into parents need the
    // deeper list, which is then searched as usual.
    const lists_ = variants.reduce(
      (n, v) =>
        n + (v.searched.includes("bm25") ? 1 : 0) + (v.searched.includes("vector") && qvecs.has(v.text) ? 1 : 0),
      0,
    );
    let fullRows = lists_ === 1 && !options.rerank && !options.mmr && fusion.method === "rrf";
    let lists = await search(fullRows ? k : depth, fullRows);
    if (fullRows && (options.expandParents ?? true) && lists.some((l) => l.hits.some((h) => h.chunk.parentId))) {
      fullRows = false;
      lists = await search(depth, false);
    }
    signal?.throwIfAborted();
    lap("search", t);

    // 4. Fuse. Several variants of a family share that family's weight.
    t = performance.now();
    const perFamily = {
      bm25: lists.filter((l) => l.family === "bm25").length,
      vector: lists.filter((l) => l.family === "vector").length,
    };
    const fused = fuse(
      lists.map((l) => ({ ...l, weight: 1 / Math.max(1, perFamily[l.family]) })),
      fusion,
    );
    const method: Explanation["fused"]["method"] = mode === "hybrid" ? fusion.method : mode;
    let pool: PoolEntry[] = fused.map((c, i) => ({
      chunk: c.hit.chunk,
      ...(fullRows ? { full: c.hit.chunk as StoredChunk } : {}),
      score: c.score,
      explanation: {
        ...(c.bm25 ? { bm25: { rank: c.bm25.rank, score: c.bm25.score, query: c.bm25.list.slice(5) } } : {}),
        ...(c.vector ? { vector: { rank: c.vector.rank, score: c.vector.score, query: c.vector.list.slice(7) } } : {}),
        fused: { method, score: c.score, rank: i + 1 },
        ...(where ? { where } : {}),
      } as Explanation,
    }));
    lap("fuse", t);

    // Cosine to the original query for every candidate (BM25-only hits too), for rerank features and MMR.
    const q0 = qvecs.get(base) ?? qvecs.get(query.trim());
    const cosine = (c: ChunkRef) => (q0 && c.vector ? cosineSimilarity(q0, c.vector) : undefined);

    // 5. Rerank.
    if (options.rerank) {
      if (!this.reranker) {
        throw new ValidationError("rerank was asked for, but the retriever has no reranker", {
          hint: "Pass `reranker` to the Retriever (LexicalReranker for a local one).",
        });
      }
      t = performance.now();
      const topN = typeof options.rerank === "object" && options.rerank.topN ? options.rerank.topN : pool.length;
      const head = pool.slice(0, topN);
      const candidates: RerankCandidate[] = head.map((p, i) => {
        const vs = cosine(p.chunk);
        return {
          id: p.chunk.id,
          text: p.chunk.text ?? "",
          title: p.chunk.title ?? "",
          signals: {
            fusedScore: p.score,
            fusedRank: i + 1,
            ...(p.explanation.bm25 ? { bm25Score: p.explanation.bm25.score, bm25Rank: p.explanation.bm25.rank } : {}),
            ...(vs !== undefined ? { vectorScore: vs } : {}),
            ...(p.explanation.vector ? { vectorRank: p.explanation.vector.rank } : {}),
          },
        };
      });
      const ranked = await this.reranker.rerank(base, candidates, sig);
      const byId = new Map(head.map((p, i) => [p.chunk.id, { p, i }]));
      const reordered = ranked
        .map((r, i) => {
          const e = byId.get(r.id);
          if (!e) return undefined;
          byId.delete(r.id);
          e.p.explanation.rerank = { by: this.reranker!.name, score: r.score, rank: i + 1, previousRank: e.i + 1 };
          return { ...e.p, score: r.score };
        })
        .filter((x): x is PoolEntry => Boolean(x));
      // Candidates the reranker dropped keep their fused order after the reranked ones.
      pool = [...reordered, ...[...byId.values()].map((e) => e.p), ...pool.slice(topN)];
      lap("rerank", t);
    }

    // 6. MMR over the head of the pool.
    if (options.mmr) {
      t = performance.now();
      const lambda = typeof options.mmr === "object" && options.mmr.lambda !== undefined ? options.mmr.lambda : 0.7;
      const head = pool.slice(0, Math.min(pool.length, Math.max(4 * k, 20))).filter((p) => p.chunk.vector);
      const picks = mmr(
        head.map((p, i) => ({ id: p.chunk.id, relevance: 1 / (i + 1), vector: p.chunk.vector! })),
        head.length,
        lambda,
      );
      const byId = new Map(head.map((p) => [p.chunk.id, p]));
      const picked = picks.map((m, i) => {
        const p = byId.get(m.id)!;
        p.explanation.mmr = { rank: i + 1, redundancy: m.redundancy, lambda };
        return p;
      });
      const pickedIds = new Set(picks.map((m) => m.id));
      pool = [...picked, ...pool.filter((p) => !pickedIds.has(p.chunk.id))];
      lap("mmr", t);
    }

    // 7. Parents in place of children (first occurrence keeps the position).
    if (options.expandParents ?? true) {
      const parentIds = [
        ...new Set(
          pool
            .slice(0, 4 * k)
            .map((p) => p.chunk.parentId)
            .filter((x): x is string => Boolean(x)),
        ),
      ];
      if (parentIds.length) {
        t = performance.now();
        const parents = new Map((await this.collection.get(parentIds)).map((c) => [c.id, c]));
        const out: PoolEntry[] = [];
        const slot = new Map<string, PoolEntry>();
        for (const p of pool) {
          const pid = p.chunk.parentId;
          const parent = pid ? parents.get(pid) : undefined;
          if (!parent) {
            out.push(p);
            continue;
          }
          const existing = slot.get(parent.id);
          if (existing) existing.explanation.parent!.children.push(p.chunk.id);
          else {
            const e = {
              ...p,
              chunk: parent,
              full: parent,
              explanation: { ...p.explanation, parent: { children: [p.chunk.id] } },
            };
            slot.set(parent.id, e);
            out.push(e);
          }
        }
        pool = out;
        lap("parents", t);
      }
    }

    // 8. Full rows of the results. The access and metadata predicate is checked again: a row
    // rewritten since the search (new labels) is dropped, and the next candidates fill its place.
    t = performance.now();
    const results: RetrievedChunk[] = [];
    for (let next = 0; results.length < k && next < pool.length; ) {
      const take = pool.slice(next, next + k - results.length);
      next += take.length;
      const missing = take.filter((p) => !p.full).map((p) => p.chunk.id);
      const rows = missing.length
        ? new Map((await this.collection.get(missing, where ? { where } : {})).map((c) => [c.id, c]))
        : undefined;
      for (const p of take) {
        const full = p.full ?? rows?.get(p.chunk.id);
        if (!full) continue;
        const chunk = { ...full };
        delete chunk.vector;
        results.push({ chunk, rank: results.length + 1, score: p.score, explanation: p.explanation });
      }
    }
    lap("fetch", t);
    timings.total = performance.now() - t0;
    return { query, queries: variants, results, timings };
  }
}

/** One line per result stage, for people: `bm25 #3 (7.21) · vector #1 (0.82) · rrf 0.032 → #1 · rerank #2`. */
export function formatExplanation(e: Explanation): string {
  const parts: string[] = [];
  parts.push(e.bm25 ? `bm25 #${e.bm25.rank} (${e.bm25.score.toFixed(2)})` : "bm25 –");
  parts.push(e.vector ? `vector #${e.vector.rank} (cos ${e.vector.score.toFixed(3)})` : "vector –");
  parts.push(`${e.fused.method} ${e.fused.score.toFixed(4)} → #${e.fused.rank}`);
  if (e.rerank)
    parts.push(`rerank[${e.rerank.by}] #${e.rerank.previousRank} → #${e.rerank.rank} (${e.rerank.score.toFixed(3)})`);
  if (e.mmr) parts.push(`mmr #${e.mmr.rank} (redundancy ${e.mmr.redundancy.toFixed(2)})`);
  if (e.parent) parts.push(`parent of ${e.parent.children.length} matching chunk(s)`);
  return parts.join(" · ");
}
