import { cosineSimilarity } from "@quintet/llm";

export interface MmrItem {
  id: string;
  /** Relevance to the query (any scale; normalised to [0, 1] here). */
  relevance: number;
  vector: Float32Array;
}

/**
 * Maximal marginal relevance (Carbonell & Goldstein): picks, one at a time, the item maximising
 * λ·relevance − (1 − λ)·max similarity to the items already picked, so near-duplicates give way to
 * chunks that add something. λ = 1 is plain relevance order. Returns the picks with their
 * redundancy (max cosine to earlier picks).
 */
export function mmr(
  items: readonly MmrItem[],
  k: number,
  lambda = 0.7,
): Array<{ id: string; redundancy: number; score: number }> {
  if (items.length === 0 || k <= 0) return [];
  const rel = items.map((i) => i.relevance);
  const lo = Math.min(...rel);
  const hi = Math.max(...rel);
  const norm = (r: number) => (hi > lo ? (r - lo) / (hi - lo) : 1);
  const left = items.map((it, i) => ({ it, i, maxSim: 0 }));
  const out: Array<{ id: string; redundancy: number; score: number }> = [];
  while (out.length < k && left.length) {
    let best = 0;
    let bestScore = Number.NEGATIVE_INFINITY;
    left.forEach((c, j) => {
      const s = lambda * norm(c.it.relevance) - (1 - lambda) * (out.length ? c.maxSim : 0);
      if (s > bestScore) {
        bestScore = s;
        best = j;
      }
    });
    const [pick] = left.splice(best, 1);
    out.push({ id: pick!.it.id, redundancy: pick!.maxSim, score: bestScore });
    for (const c of left) c.maxSim = Math.max(c.maxSim, cosineSimilarity(c.it.vector, pick!.it.vector));
  }
  return out;
}
