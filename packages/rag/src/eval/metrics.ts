/** Graded relevance of documents for one query (BEIR qrels: doc id → grade; grade ≤ 0 is not relevant). */
export type Judgements = ReadonlyMap<string, number>;

function relevantCount(rel: Judgements): number {
  let n = 0;
  for (const g of rel.values()) if (g > 0) n++;
  return n;
}

/** Fraction of the relevant documents found in the top k. 0 when the query has none. */
export function recallAtK(ranked: readonly string[], rel: Judgements, k: number): number {
  const total = relevantCount(rel);
  if (total === 0) return 0;
  let hit = 0;
  for (const d of ranked.slice(0, k)) if ((rel.get(d) ?? 0) > 0) hit++;
  return hit / total;
}

/** Reciprocal rank of the first relevant document within the top k (0 if none). */
export function mrrAtK(ranked: readonly string[], rel: Judgements, k: number): number {
  const top = ranked.slice(0, k);
  for (let i = 0; i < top.length; i++) if ((rel.get(top[i]!) ?? 0) > 0) return 1 / (i + 1);
  return 0;
}

/**
 * nDCG@k as trec_eval and BEIR (pytrec_eval `ndcg_cut`) compute it: gain = grade (linear),
 * discount log2(rank + 1), normalised by the ideal ordering of the judged grades.
 */
export function ndcgAtK(ranked: readonly string[], rel: Judgements, k: number): number {
  let dcg = 0;
  ranked.slice(0, k).forEach((d, i) => {
    const g = rel.get(d) ?? 0;
    if (g > 0) dcg += g / Math.log2(i + 2);
  });
  const ideal = [...rel.values()]
    .filter((g) => g > 0)
    .sort((a, b) => b - a)
    .slice(0, k);
  let idcg = 0;
  ideal.forEach((g, i) => {
    idcg += g / Math.log2(i + 2);
  });
  return idcg > 0 ? dcg / idcg : 0;
}

/** Mean metrics of a run over the judged queries. */
export interface RunMetrics {
  "ndcg@10": number;
  "recall@10": number;
  "recall@100": number;
  "mrr@10": number;
  queries: number;
}

/**
 * Scores a run (query id → ranked document ids) against qrels. Only queries with at least one
 * relevant judgement count, as in BEIR; a judged query missing from the run scores 0.
 */
export function evaluateRun(
  run: ReadonlyMap<string, readonly string[]>,
  qrels: ReadonlyMap<string, Judgements>,
): RunMetrics {
  const m = { "ndcg@10": 0, "recall@10": 0, "recall@100": 0, "mrr@10": 0, queries: 0 };
  for (const [q, rel] of qrels) {
    if (relevantCount(rel) === 0) continue;
    const ranked = run.get(q) ?? [];
    m["ndcg@10"] += ndcgAtK(ranked, rel, 10);
    m["recall@10"] += recallAtK(ranked, rel, 10);
    m["recall@100"] += recallAtK(ranked, rel, 100);
    m["mrr@10"] += mrrAtK(ranked, rel, 10);
    m.queries++;
  }
  if (m.queries) for (const k of ["ndcg@10", "recall@10", "recall@100", "mrr@10"] as const) m[k] /= m.queries;
  return m;
}
