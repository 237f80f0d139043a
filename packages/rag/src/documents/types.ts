/** A JSON value as stored in document and chunk metadata. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Where documents come from. `inline` is text handed in by code (tests, evaluation corpora). */
export type SourceKind = "file" | "web" | "api" | "sql" | "inline";

/** The origin of a document, carried into every chunk and every answer that cites it. */
export interface SourceInfo {
  kind: SourceKind;
  /** Name of the configured source ("handbook", "tickets-api"); part of the document id. */
  name: string;
  /** Where the document can be found again: absolute file path, URL, API item URL, `sql:<query>#<key>`. */
  uri: string;
  /** The document's key within its source (relative path, row key, item id); part of the document id. */
  key: string;
  /** Rank when sources disagree, higher wins (used by reconciliation); default 0. */
  priority?: number;
}

/** Formats a document's `content` can be in; HTML and PDF are converted to markdown or text on load. */
export type ContentFormat = "text" | "markdown";

/**
 * One retrievable unit of knowledge as a source produced it, before chunking. Ids are stable
 * (`<kind>:<source name>:<key>`), so reloading the same file, row or API item yields the same id,
 * and `contentHash` tells whether its text changed.
 */
export interface Document {
  /** Stable id, see {@link documentId}. */
  id: string;
  title: string;
  /** The text, in `format`. */
  content: string;
  format: ContentFormat;
  /** `sha256:<hex>` of `content` (see {@link contentHash}); equal texts from different sources share it. */
  contentHash: string;
  source: SourceInfo;
  /** Epoch ms the source says the document was created, when it says. */
  createdAt?: number;
  /** Epoch ms the source says the document last changed (file mtime, API `updated_at`), when it says. */
  updatedAt?: number;
  /** Epoch ms Quintet read it. */
  fetchedAt: number;
  /** MIME type of the original (e.g. `text/html`, `application/pdf`). */
  mimeType?: string;
  /** Free metadata; scalar values can be used in retrieval filters. */
  metadata: Record<string, JsonValue>;
  /**
   * Access labels: a principal sees the document only if it holds at least one of them.
   * Documents without explicit labels get {@link PUBLIC_LABEL}.
   */
  access: string[];
}

/** The label every principal holds; documents get it when no access labels are given. */
export const PUBLIC_LABEL = "public";

/** What a chunk is for: `chunk` rows are searched; `parent` rows are returned in place of their children. */
export type ChunkKind = "chunk" | "parent";

/** A piece of a document small enough to embed and rank. */
export interface Chunk {
  /** `<document id>#<index>` (`#p<index>` for parents); stable while the chunking is unchanged. */
  id: string;
  documentId: string;
  /** Position among the document's chunks of the same kind. */
  index: number;
  kind: ChunkKind;
  /** What is indexed and embedded: the heading path as context, then the body. */
  text: string;
  /** The body alone, as it appears in the document. */
  content: string;
  /** Wider text to hand to a model instead of `content` (a sentence window); absent when the same. */
  context?: string;
  /** The parent chunk returned in place of this one (parent–child chunking). */
  parentId?: string;
  /** Headings above the chunk, outermost first (markdown and HTML). */
  headingPath: string[];
  /** Character offsets of `content` in the document's content. */
  start: number;
  end: number;
  /** Tokens of `text` counted with a real tokenizer (tiktoken). */
  tokens: number;
  /** `sha256:<hex>` of `text`. */
  contentHash: string;
}
