import { z } from "zod";
import type { Chunk, Document } from "../documents/types.js";
import { makeChunk, parseOptions, RecursiveOptionsSchema, TokenSplitter } from "./recursive.js";
import { TokenCounter } from "./tokens.js";
import type { Chunker, Span } from "./types.js";

/** A markdown section: its heading path and the span of its body (heading line excluded). */
export interface MarkdownSection extends Span {
  headingPath: string[];
}

/**
 * Splits markdown into sections at ATX (`## Title`) and setext (`Title\n---`) headings, ignoring
 * `#` lines inside fenced code blocks. Each section knows the path of headings above it.
 */
export function markdownSections(md: string): MarkdownSection[] {
  const sections: MarkdownSection[] = [];
  const stack: Array<{ level: number; title: string }> = [];
  let bodyStart = 0;
  let fence: string | undefined;
  const path = () => stack.map((h) => h.title);
  const close = (end: number) => {
    if (end > bodyStart && md.slice(bodyStart, end).trim())
      sections.push({ headingPath: path(), start: bodyStart, end });
  };
  let pos = 0;
  const lines = md.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const lineStart = pos;
    pos += line.length + 1;
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (!fence) fence = f[1]![0]!;
      else if (f[1]![0] === fence) fence = undefined;
      continue;
    }
    if (fence) continue;
    let level = 0;
    let title = "";
    let headingEnd = pos;
    const atx = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    const next = lines[i + 1];
    if (atx) {
      level = atx[1]!.length;
      title = atx[2]!.trim();
    } else if (
      next !== undefined &&
      line.trim() &&
      /^\s{0,3}(=+|-+)\s*$/.test(next) &&
      !/^\s*([-*+]|\d+[.)])\s/.test(line)
    ) {
      level = next.trim().startsWith("=") ? 1 : 2;
      title = line.trim();
      headingEnd = pos + next.length + 1;
      pos = headingEnd;
      i++;
    }
    if (!level || !title) continue;
    close(lineStart);
    while (stack.length && stack.at(-1)!.level >= level) stack.pop();
    stack.push({ level, title: title.replace(/[*_`]/g, "") });
    bodyStart = Math.min(headingEnd, md.length);
  }
  close(md.length);
  return sections;
}

export const StructureOptionsSchema = RecursiveOptionsSchema.and(
  z.object({
    /** Prefix each chunk's indexed text with its heading path (default true). */
    includeHeadingPath: z.boolean().default(true),
  }),
);
export type StructureOptions = z.input<typeof StructureOptionsSchema>;

/**
 * Structure-aware chunking for markdown (and HTML, which sources convert to markdown): one or more
 * chunks per section, never across a heading, each carrying its heading path ("Guide > Install >
 * Linux") in `headingPath` and, by default, at the top of its indexed text so a chunk that says
 * "run apt" is still found for "install on Linux". Plain-text documents are chunked recursively.
 */
export class StructureChunker implements Chunker {
  readonly name: string;
  private readonly tokens: TokenCounter;
  private readonly o: z.output<typeof StructureOptionsSchema>;
  private readonly splitter: TokenSplitter;

  constructor(options: StructureOptions = {}) {
    this.o = parseOptions(StructureOptionsSchema, options, "structure chunker");
    this.tokens = new TokenCounter(this.o.model);
    this.splitter = new TokenSplitter(this.tokens, this.o.chunkTokens, this.o.overlapTokens);
    this.name = `structure:${this.o.chunkTokens}/${this.o.overlapTokens}`;
  }

  async chunk(doc: Document): Promise<Chunk[]> {
    if (doc.format !== "markdown")
      return this.splitter.split(doc.content).map((s, i) => makeChunk(doc, s, i, this.tokens));
    const out: Chunk[] = [];
    for (const section of markdownSections(doc.content)) {
      const headingPath = this.o.includeHeadingPath ? section.headingPath : [];
      // Leave room for the heading path that is prefixed to each chunk's text.
      const prefix = headingPath.length ? this.tokens.count(`${headingPath.join(" > ")}\n\n`) : 0;
      const budget = Math.max(16, this.o.chunkTokens - prefix);
      const splitter =
        budget === this.o.chunkTokens
          ? this.splitter
          : new TokenSplitter(this.tokens, budget, Math.min(this.o.overlapTokens, Math.floor(budget / 4)));
      for (const span of splitter.split(doc.content, section)) {
        out.push(makeChunk(doc, span, out.length, this.tokens, { headingPath: section.headingPath }));
      }
    }
    return out;
  }
}
