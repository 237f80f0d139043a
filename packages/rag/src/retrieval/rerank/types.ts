/** What first-stage retrieval knew about a candidate, for rerankers that use it. */
export interface RetrievalSignals {
  bm25Score?: number;
  bm25Rank?: number;
  /** Cosine similarity between query and chunk vectors. */
  vectorScore?: number;
  vectorRank?: number;
  fusedScore: number;
  fusedRank: number;
}

export interface RerankCandidate {
  id: string;
  text: string;
  title?: string;
  signals?: RetrievalSignals;
}

export interface RerankResult {
  id: string;
  score: number;
}

/**
 * Reorders first-stage candidates by a finer relevance judgement. Returns every candidate it was
 * given (or the top `topN`), best first.
 */
export interface Reranker {
  /** Shown in explanations (`lexical`, `http:rerank-v3.5`, `llm:gpt-4o-mini`). */
  readonly name: string;
  rerank(
    query: string,
    candidates: readonly RerankCandidate[],
    options?: { signal?: AbortSignal; topN?: number },
  ): Promise<RerankResult[]>;
}
