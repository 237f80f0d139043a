import { ValidationError } from "@quintet/core";
import type { ChunkRef, Hit, StoredChunk } from "../index/collection.js";

/** One ranked list to fuse: its name (`bm25`, `vector`, `vector:q2`…), family and weight. */
export interface RankedList<C extends ChunkRef = StoredChunk> {
  name: string;
  /** `bm25` or `vector`: weighted fusion normalises and weights by family. */
  family: "bm25" | "vector";
  hits: Hit<C>[];
  /** Weight of this list (default 1). */
  weight?: number;
}

/** Reciprocal-rank fusion, or a weighted sum of normalised scores. */
export type Fusion =
  | {
      method: "rrf";
      k?: number;
      /** Share of the vector lists in [0, 1] (default 0.5: equal); BM25 lists get 1 − vectorWeight, both scaled ×2. */
      vectorWeight?: number;
    }
  | {
      method: "weighted";
      /** Weight of the vector lists; BM25 lists get 1 − vectorWeight. */
      vectorWeight: number;
      /** Score normalisation per list: min–max to [0, 1] (default) or distribution-based (mean ± 3σ). */
      normalize?: "minmax" | "dbsf";
    };

/** A fused candidate with each list's contribution, for explanations. */
export interface FusedCandidate<C extends ChunkRef = StoredChunk> {
  id: string;
  hit: Hit<C>;
  score: number;
  /** Best (lowest) rank and its raw score per family, over all lists of that family. */
  bm25?: { rank: number; score: number; list: string };
  vector?: { rank: number; score: number; list: string };
}

function normalizer(scores: number[], how: "minmax" | "dbsf"): (s: number) => number {
  if (scores.length === 0) return () => 0;
  if (how === "dbsf") {
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    const sd = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / scores.length);
    const lo = mean - 3 * sd;
    const hi = mean + 3 * sd;
    return (s) => (hi > lo ? Math.min(1, Math.max(0, (s - lo) / (hi - lo))) : 1);
  }
  const lo = Math.min(...scores);
  const hi = Math.max(...scores);
  return (s) => (hi > lo ? (s - lo) / (hi - lo) : 1);
}

/**
 * Fuses ranked lists into one. RRF scores a chunk Σ wᵢ / (k + rankᵢ) (k = 60 by default, as Cormack
 * et al.); weighted fusion scores Σ wᵢ · norm(scoreᵢ), each list normalised on its own, a chunk
 * missing from a list contributing 0. Ties break by best rank, then id, so results are deterministic.
 */
export function fuse<C extends ChunkRef = StoredChunk>(
  lists: readonly RankedList<C>[],
  fusion: Fusion = { method: "rrf" },
): FusedCandidate<C>[] {
  const byId = new Map<string, FusedCandidate<C> & { bestRank: number }>();
  const vw = fusion.vectorWeight ?? 0.5;
  if (!(vw >= 0 && vw <= 1)) {
    throw new ValidationError(`vectorWeight must be in [0, 1], got ${vw}`, {
      hint: "E.g. 0.5 weighs BM25 and vectors equally.",
    });
  }
  const k = fusion.method === "rrf" ? (fusion.k ?? 60) : 0;
  if (fusion.method === "rrf" && !(k >= 0))
    throw new ValidationError(`RRF k must be ≥ 0, got ${k}`, { hint: "The usual value is 60." });
  for (const list of lists) {
    const w = list.weight ?? 1;
    // RRF weights are scaled so that equal weights (0.5) give the classic unweighted sum.
    const familyWeight = (list.family === "vector" ? vw : 1 - vw) * (fusion.method === "rrf" ? 2 : 1);
    const norm =
      fusion.method === "weighted"
        ? normalizer(
            list.hits.map((h) => h.score),
            fusion.normalize ?? "minmax",
          )
        : undefined;
    for (const h of list.hits) {
      const contribution = w * familyWeight * (norm ? norm(h.score) : 1 / (k + h.rank));
      let c = byId.get(h.chunk.id);
      if (!c) {
        c = { id: h.chunk.id, hit: h, score: 0, bestRank: h.rank };
        byId.set(h.chunk.id, c);
      }
      c.score += contribution;
      c.bestRank = Math.min(c.bestRank, h.rank);
      const prev = c[list.family];
      if (!prev || h.rank < prev.rank) c[list.family] = { rank: h.rank, score: h.score, list: list.name };
      if (list.family === "vector" && h.chunk.vector && !c.hit.chunk.vector) c.hit = h;
    }
  }
  return [...byId.values()]
    .sort((a, b) => b.score - a.score || a.bestRank - b.bestRank || (a.id < b.id ? -1 : 1))
    .map(({ bestRank: _, ...c }) => c);
}
