/** Documents and chunks: the types every RAG room passes around, with stable ids and content hashes. */
export {
  type CreateDocumentInput,
  contentHash,
  createDocument,
  documentFingerprint,
  documentId,
  normalizeAccessLabels,
} from "./create.js";
export {
  type Chunk,
  type ChunkKind,
  type ContentFormat,
  type Document,
  type JsonValue,
  PUBLIC_LABEL,
  type SourceInfo,
  type SourceKind,
} from "./types.js";
