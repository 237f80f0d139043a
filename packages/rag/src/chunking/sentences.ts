import { splitSentences } from "@quintet/llm";
import { z } from "zod";
import type { Chunk, Document } from "../documents/types.js";
import { makeChunk, parseOptions } from "./recursive.js";
import { TokenCounter } from "./tokens.js";
import type { Chunker, Span } from "./types.js";

export const SentenceWindowOptionsSchema = z.object({
  /** Sentences on each side included in the returned context (default 2). */
  window: z.number().int().min(0).max(20).default(2),
  /** Sentences shorter than this many characters are joined to the next (default 20). */
  minChars: z.number().int().min(0).default(20),
  model: z.string().default("text-embedding-3-small"),
});
export type SentenceWindowOptions = z.input<typeof SentenceWindowOptionsSchema>;

/** Sentence spans of a text, with fragments shorter than `minChars` joined to their neighbour. */
export function sentenceSpans(text: string, minChars = 0, within: Span = { start: 0, end: text.length }): Span[] {
  const raw = splitSentences(text.slice(within.start, within.end)).map((s) => ({
    start: s.start + within.start,
    end: s.end + within.start,
  }));
  const out: Span[] = [];
  for (const s of raw) {
    const last = out.at(-1);
    if (last && last.end - last.start < minChars) last.end = s.end;
    else out.push({ ...s });
  }
  const last = out.at(-1);
  if (out.length > 1 && last && last.end - last.start < minChars) {
    out.pop();
    out.at(-1)!.end = last.end;
  }
  return out;
}

/**
 * Sentence-window chunking: every sentence is its own chunk (precise matching), and carries the
 * `window` sentences around it as `context`, which is what a model is given.
 */
export class SentenceWindowChunker implements Chunker {
  readonly name: string;
  private readonly o: z.output<typeof SentenceWindowOptionsSchema>;
  private readonly tokens: TokenCounter;

  constructor(options: SentenceWindowOptions = {}) {
    this.o = parseOptions(SentenceWindowOptionsSchema, options, "sentence window chunker");
    this.tokens = new TokenCounter(this.o.model);
    this.name = `sentence-window:${this.o.window}`;
  }

  async chunk(doc: Document): Promise<Chunk[]> {
    const spans = sentenceSpans(doc.content, this.o.minChars);
    const w = this.o.window;
    return spans.map((s, i) => {
      const from = spans[Math.max(0, i - w)]!.start;
      const to = spans[Math.min(spans.length - 1, i + w)]!.end;
      return makeChunk(doc, s, i, this.tokens, { context: doc.content.slice(from, to) });
    });
  }
}
