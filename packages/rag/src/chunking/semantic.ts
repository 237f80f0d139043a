import { cosineSimilarity, type Embedder } from "@quintet/llm";
import { z } from "zod";
import type { Chunk, Document } from "../documents/types.js";
import { makeChunk, parseOptions, TokenSplitter } from "./recursive.js";
import { sentenceSpans } from "./sentences.js";
import { TokenCounter } from "./tokens.js";
import type { Chunker, Span } from "./types.js";

export const SemanticOptionsSchema = z.object({
  /** Break where the distance between neighbouring sentences is above this percentile of the document's distances (default 90). */
  breakpointPercentile: z.number().min(0).max(100).default(90),
  /** Or break above this fixed cosine distance instead (0–2); overrides the percentile. */
  breakpointDistance: z.number().min(0).max(2).optional(),
  /** Sentences on each side embedded together with a sentence, to smooth noise (default 1). */
  buffer: z.number().int().min(0).max(5).default(1),
  /** Groups larger than this are split recursively (default 512). */
  maxTokens: z.number().int().min(8).default(512),
  /** Groups smaller than this are joined to the next (default 32). */
  minTokens: z.number().int().min(0).default(32),
  model: z.string().default("text-embedding-3-small"),
});
export type SemanticOptions = z.input<typeof SemanticOptionsSchema> & { embedder: Embedder };

/** The value below which `p` percent of `xs` lie (linear interpolation, as numpy's default). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const r = (p / 100) * (s.length - 1);
  const lo = Math.floor(r);
  const hi = Math.ceil(r);
  return s[lo]! + (s[hi]! - s[lo]!) * (r - lo);
}

/**
 * Semantic breakpoints: embeds each sentence with its neighbours and starts a new chunk where the
 * cosine distance between consecutive sentences jumps (a change of topic), then keeps chunks
 * between `minTokens` and `maxTokens`.
 */
export class SemanticChunker implements Chunker {
  readonly name: string;
  private readonly o: z.output<typeof SemanticOptionsSchema>;
  private readonly embedder: Embedder;
  private readonly tokens: TokenCounter;

  constructor(options: SemanticOptions) {
    const { embedder, ...rest } = options;
    this.o = parseOptions(SemanticOptionsSchema, rest, "semantic chunker");
    this.embedder = embedder;
    this.tokens = new TokenCounter(this.o.model);
    this.name = `semantic:${this.o.breakpointDistance ?? `p${this.o.breakpointPercentile}`}/${this.o.maxTokens}`;
  }

  /** Cosine distances between each sentence and the next (length = sentences − 1). */
  async distances(text: string, spans: Span[], signal?: AbortSignal): Promise<number[]> {
    const b = this.o.buffer;
    const windows = spans.map((_, i) =>
      text.slice(spans[Math.max(0, i - b)]!.start, spans[Math.min(spans.length - 1, i + b)]!.end),
    );
    const vectors = await this.embedder.embed(windows, signal ? { signal } : {});
    const d: number[] = [];
    for (let i = 0; i + 1 < vectors.length; i++) d.push(1 - cosineSimilarity(vectors[i]!, vectors[i + 1]!));
    return d;
  }

  async chunk(doc: Document, options: { signal?: AbortSignal } = {}): Promise<Chunk[]> {
    const spans = sentenceSpans(doc.content, 1);
    if (spans.length === 0) return [];
    let groups: Span[] = [];
    if (spans.length === 1) groups = [spans[0]!];
    else {
      const d = await this.distances(doc.content, spans, options.signal);
      const threshold = this.o.breakpointDistance ?? percentile(d, this.o.breakpointPercentile);
      let start = spans[0]!.start;
      for (let i = 0; i < d.length; i++) {
        if (d[i]! > threshold) {
          groups.push({ start, end: spans[i]!.end });
          start = spans[i + 1]!.start;
        }
      }
      groups.push({ start, end: spans.at(-1)!.end });
    }
    // Join groups that are too small to stand alone, then split those that are too big.
    const joined: Span[] = [];
    for (const g of groups) {
      const last = joined.at(-1);
      if (last && this.tokens.count(doc.content.slice(last.start, last.end)) < this.o.minTokens) last.end = g.end;
      else joined.push({ ...g });
    }
    const splitter = new TokenSplitter(this.tokens, this.o.maxTokens, 0);
    const out: Chunk[] = [];
    for (const g of joined)
      for (const s of splitter.split(doc.content, g)) out.push(makeChunk(doc, s, out.length, this.tokens));
    return out;
  }
}
