import { ValidationError } from "@quintet/core";
import { splitSentences } from "@quintet/llm";
import { z } from "zod";
import { contentHash } from "../documents/create.js";
import type { Chunk, Document } from "../documents/types.js";
import { TokenCounter } from "./tokens.js";
import type { Chunker, Span } from "./types.js";

/** Separators tried in order: paragraphs, lines, sentences, words, then characters. */
type Level = "paragraph" | "line" | "sentence" | "word" | "char";
const LEVELS: Level[] = ["paragraph", "line", "sentence", "word", "char"];

export const RecursiveOptionsSchema = z
  .object({
    /** Most tokens per chunk (of `text`, heading context included). */
    chunkTokens: z.number().int().min(8).max(100_000).default(512),
    /** Tokens repeated from the end of one chunk at the start of the next. */
    overlapTokens: z.number().int().min(0).default(64),
    /** Tokenizer model for counting (tiktoken); default the OpenAI embedding models' cl100k. */
    model: z.string().default("text-embedding-3-small"),
  })
  .refine((o) => o.overlapTokens < o.chunkTokens, { message: "overlapTokens must be smaller than chunkTokens" });
export type RecursiveOptions = z.input<typeof RecursiveOptionsSchema>;

export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) {
    throw new ValidationError(
      `invalid ${what} options: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      { hint: "See the chunker's options in docs/rag.md." },
    );
  }
  return parsed.data;
}

/**
 * Splits spans of text into pieces of at most `max` tokens, breaking at the coarsest boundary that
 * works (paragraph, line, sentence, word, character), then merges neighbouring pieces back up to
 * `max` with `overlap` tokens carried over. Offsets always point into the original text.
 */
export class TokenSplitter {
  constructor(
    readonly tokens: TokenCounter,
    readonly max: number,
    readonly overlap: number,
  ) {}

  split(text: string, span: Span = { start: 0, end: text.length }): Span[] {
    const pieces = this.pieces(text, trim(text, span), 0);
    return this.merge(text, pieces);
  }

  private pieces(text: string, span: Span, level: number, known?: number): Array<Span & { n: number }> {
    if (span.end <= span.start) return [];
    // Counting is the expensive part (BPE on long runs is superlinear), so a span is counted once.
    const n = known ?? this.tokens.count(text.slice(span.start, span.end));
    if (n <= this.max) return [{ ...span, n }];
    const kind = LEVELS[level];
    if (!kind) return [{ ...span, n }];
    const parts = cut(text, span, kind, this.max, n);
    if (parts.length <= 1) return this.pieces(text, span, level + 1, n);
    return parts.flatMap((p) => this.pieces(text, p, level + 1));
  }

  private merge(text: string, pieces: Array<Span & { n: number }>): Span[] {
    const out: Span[] = [];
    let cur: Array<Span & { n: number }> = [];
    let total = 0;
    const emit = () => {
      if (cur.length) out.push({ start: cur[0]!.start, end: cur.at(-1)!.end });
    };
    for (const p of pieces) {
      if (cur.length && total + p.n > this.max) {
        emit();
        // Carry trailing pieces as overlap, as many as fit in the overlap budget and leave room for p.
        const carried: Array<Span & { n: number }> = [];
        let c = 0;
        for (let i = cur.length - 1; i >= 0; i--) {
          const q = cur[i]!;
          if (c + q.n > this.overlap || c + q.n + p.n > this.max) break;
          carried.unshift(q);
          c += q.n;
        }
        cur = carried;
        total = c;
      }
      cur.push(p);
      total += p.n;
    }
    emit();
    // Sums of piece counts can miss by a token or two at the joins; check exactly and split again if needed.
    return out.flatMap((s) => {
      const n = this.tokens.count(text.slice(s.start, s.end));
      if (n <= this.max) return [s];
      const mid = midpoint(text, s);
      return mid
        ? this.merge(text, [
            ...this.pieces(text, { start: s.start, end: mid }, 0),
            ...this.pieces(text, { start: mid, end: s.end }, 0),
          ])
        : [s];
    });
  }
}

function midpoint(text: string, s: Span): number | undefined {
  const half = Math.floor((s.start + s.end) / 2);
  const ws = text.lastIndexOf(" ", half);
  const m = ws > s.start ? ws : half;
  return m > s.start && m < s.end ? m : undefined;
}

function trim(text: string, span: Span): Span {
  let { start, end } = span;
  while (start < end && /\s/.test(text[start]!)) start++;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return { start, end };
}

/** Cuts a span at every boundary of one kind; separators stay with the piece before them. */
function cut(text: string, span: Span, kind: Level, max: number, tokens: number): Span[] {
  const s = text.slice(span.start, span.end);
  const bounds: number[] = [];
  if (kind === "paragraph" || kind === "line" || kind === "word") {
    const re = kind === "paragraph" ? /\n[ \t]*\n\s*/g : kind === "line" ? /\n\s*/g : /\s+/g;
    for (const m of s.matchAll(re)) bounds.push(m.index + m[0].length);
  } else if (kind === "sentence") {
    for (const sent of splitSentences(s).slice(1)) bounds.push(sent.start);
  } else {
    // Characters: a run of text with no whitespace longer than the budget (a URL, base64); cut by token estimate.
    const per = Math.max(1, Math.floor((s.length / tokens) * max * 0.9));
    for (let i = per; i < s.length; i += per) bounds.push(i);
  }
  const out: Span[] = [];
  let prev = 0;
  for (const b of bounds) {
    if (b > prev && b < s.length) {
      out.push(trim(text, { start: span.start + prev, end: span.start + b }));
      prev = b;
    }
  }
  out.push(trim(text, { start: span.start + prev, end: span.end }));
  return out.filter((p) => p.end > p.start);
}

/** Builds a chunk of `doc` from a span, with an optional heading path prefixed to its indexed text. */
export function makeChunk(
  doc: Document,
  span: Span,
  index: number,
  tokens: TokenCounter,
  extra: { headingPath?: string[]; kind?: Chunk["kind"]; parentId?: string; context?: string } = {},
): Chunk {
  const content = doc.content.slice(span.start, span.end);
  const headingPath = extra.headingPath ?? [];
  const text = headingPath.length ? `${headingPath.join(" > ")}\n\n${content}` : content;
  const kind = extra.kind ?? "chunk";
  const chunk: Chunk = {
    id: `${doc.id}#${kind === "parent" ? "p" : ""}${index}`,
    documentId: doc.id,
    index,
    kind,
    text,
    content,
    headingPath,
    start: span.start,
    end: span.end,
    tokens: tokens.count(text),
    contentHash: contentHash(text),
  };
  if (extra.parentId) chunk.parentId = extra.parentId;
  if (extra.context !== undefined && extra.context !== content) chunk.context = extra.context;
  return chunk;
}

/**
 * Recursive chunking by tokens: paragraphs first, then lines, sentences, words and characters, each
 * chunk at most `chunkTokens` tiktoken tokens with `overlapTokens` of overlap.
 */
export class RecursiveChunker implements Chunker {
  readonly name: string;
  readonly splitter: TokenSplitter;
  readonly tokens: TokenCounter;

  constructor(options: RecursiveOptions = {}) {
    const o = parseOptions(RecursiveOptionsSchema, options, "recursive chunker");
    this.tokens = new TokenCounter(o.model);
    this.splitter = new TokenSplitter(this.tokens, o.chunkTokens, o.overlapTokens);
    this.name = `recursive:${o.chunkTokens}/${o.overlapTokens}`;
  }

  async chunk(doc: Document): Promise<Chunk[]> {
    return this.splitter.split(doc.content).map((s, i) => makeChunk(doc, s, i, this.tokens));
  }
}
