export { EmbeddingCache, embeddingCacheKey } from "./cache.js";
export {
  type CsrMatrix,
  type DenseMatrix,
  randomizedSvd,
  type SvdOptions,
  symmetricEigen,
  type TruncatedSvd,
} from "./linalg.js";
export { LsaEmbedder, type LsaOptions, type SavedLsaModel } from "./lsa.js";
export {
  type EmbedderStats,
  ProviderEmbedder,
  type ProviderEmbedderOptions,
} from "./provider-embedder.js";
export { cosineSimilarity, type Embedder, l2Normalize } from "./types.js";
