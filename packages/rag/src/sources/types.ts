import type { Document, SourceKind } from "../documents/types.js";

/** A problem with one item of a source that did not stop the rest (an unreadable file, a bad row). */
export interface SourceWarning {
  /** The item's key (relative path, row number, URL). */
  key: string;
  message: string;
}

export interface LoadOptions {
  signal?: AbortSignal;
  /** Called for each item skipped; without it, warnings are collected nowhere and the item is just skipped. */
  onWarning?: (warning: SourceWarning) => void;
}

/**
 * Anything that yields documents: a folder, an API, a SQL query, a crawler. Loading is lazy (an
 * async iterable), so large sources stream, and ids are stable across loads so a later load can be
 * compared with what is indexed (new, changed, deleted).
 */
export interface Source {
  readonly kind: SourceKind;
  /** Unique among the sources of a collection; part of every document id. */
  readonly name: string;
  load(options?: LoadOptions): AsyncIterable<Document>;
}
