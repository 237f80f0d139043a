export { HttpReranker, type HttpRerankerOptions } from "./http.js";
export {
  DEFAULT_LEXICAL_WEIGHTS,
  LEXICAL_FEATURES,
  type LexicalFeature,
  LexicalReranker,
  type LexicalWeights,
  type RerankExample,
} from "./lexical.js";
export { LlmListwiseReranker, type LlmRerankerOptions } from "./llm.js";
export type { RerankCandidate, Reranker, RerankResult, RetrievalSignals } from "./types.js";
