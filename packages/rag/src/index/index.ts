/** The RAG index on LanceDB: collections of chunks with vectors, BM25 full text, metadata, access labels and versions. */
export {
  type AnnIndexType,
  type AnnOptions,
  Collection,
  type CollectionMeta,
  type CollectionVersion,
  type DocumentEntry,
  ftsQuery,
  type Hit,
  type SearchOptions,
  type StoredChunk,
} from "./collection.js";
export { embedderFor, lsaModelPath, saveLsaModel } from "./embedders.js";
export {
  accessPredicate,
  andPredicates,
  compileFilter,
  FILTER_FIELDS,
  type FieldCondition,
  type Filter,
  type FilterValue,
  type Principal,
  sqlString,
} from "./filter.js";
export { type IngestOptions, type IngestProgress, type IngestReport, ingestDocuments } from "./ingest.js";
export { type CollectionInfo, type CreateCollectionOptions, RagIndex, type RagIndexOptions } from "./rag-index.js";
export { metadataPairs } from "./schema.js";
