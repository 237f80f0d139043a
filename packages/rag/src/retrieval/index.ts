/** Retrieval: hybrid BM25 + vector search, fusion, MMR, reranking, query transformations, context packing, explanations. */
export { type FusedCandidate, type Fusion, fuse, type RankedList } from "./fusion.js";
export { type MmrItem, mmr } from "./mmr.js";
export { type PackedContext, type PackItem, type PackOptions, packContext } from "./pack.js";
export { decomposeQuery, hypotheticalDocument, multiQuery, rewriteQuery } from "./query.js";
export * from "./rerank/index.js";
export {
  type Explanation,
  formatExplanation,
  type QueryVariant,
  type RetrievalResult,
  type RetrievedChunk,
  type RetrieveOptions,
  Retriever,
  type RetrieverOptions,
} from "./retriever.js";
