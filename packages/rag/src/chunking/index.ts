/** Chunking: recursive by tokens, structure-aware markdown/HTML, sentence windows, semantic breakpoints, parent–child. */
export { type MarkdownSection, markdownSections, StructureChunker, type StructureOptions } from "./markdown.js";
export { ParentChildChunker, type ParentChildOptions } from "./parent-child.js";
export { makeChunk, RecursiveChunker, type RecursiveOptions, TokenSplitter } from "./recursive.js";
export { percentile, SemanticChunker, type SemanticOptions } from "./semantic.js";
export { SentenceWindowChunker, type SentenceWindowOptions, sentenceSpans } from "./sentences.js";
export { TokenCounter } from "./tokens.js";
export type { Chunker, Span } from "./types.js";
