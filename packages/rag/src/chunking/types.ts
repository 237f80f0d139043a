import type { Chunk, Document } from "../documents/types.js";

/** Splits a document into chunks. Async because some chunkers embed (semantic breakpoints). */
export interface Chunker {
  /** Describes the chunker and its settings (`recursive:512/64`); stored with the index so a change is visible. */
  readonly name: string;
  chunk(doc: Document, options?: { signal?: AbortSignal }): Promise<Chunk[]>;
}

/** A span of a document's text: what splitters pass around before chunks are built. */
export interface Span {
  start: number;
  end: number;
}
