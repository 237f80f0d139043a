/**
 * @quintet/rag: sources and a web crawler, chunking, a hybrid index on LanceDB, retrieval, freshness,
 * multi-source reconciliation, cited answers, evaluation.
 */
export * from "./answer/index.js";
export * from "./chunking/index.js";
export * from "./crawl/index.js";
export * from "./documents/index.js";
export * from "./eval/index.js";
export * from "./freshness/index.js";
export * from "./index/index.js";
export * from "./reconcile/index.js";
export * from "./retrieval/index.js";
export * from "./sources/index.js";
