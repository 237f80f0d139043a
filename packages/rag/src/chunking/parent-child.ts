import { z } from "zod";
import type { Chunk, Document } from "../documents/types.js";
import { makeChunk, parseOptions, TokenSplitter } from "./recursive.js";
import { TokenCounter } from "./tokens.js";
import type { Chunker } from "./types.js";

export const ParentChildOptionsSchema = z
  .object({
    /** Tokens per child (what is searched); default 128. */
    childTokens: z.number().int().min(8).default(128),
    childOverlapTokens: z.number().int().min(0).default(16),
    model: z.string().default("text-embedding-3-small"),
  })
  .refine((o) => o.childOverlapTokens < o.childTokens, {
    message: "childOverlapTokens must be smaller than childTokens",
  });
export type ParentChildOptions = z.input<typeof ParentChildOptionsSchema> & {
  /** Makes the parents (what is returned); e.g. a StructureChunker with 1024 tokens. */
  parent: Chunker;
};

/**
 * Parent–child chunking (retrieve small, return big): the parent chunker's chunks become `parent`
 * rows, and each is split again into small `chunk` rows that point at it with `parentId`. Search
 * ranks the children; retrieval with `expandParents` hands back the parent instead.
 */
export class ParentChildChunker implements Chunker {
  readonly name: string;
  private readonly parent: Chunker;
  private readonly tokens: TokenCounter;
  private readonly splitter: TokenSplitter;

  constructor(options: ParentChildOptions) {
    const { parent, ...rest } = options;
    const o = parseOptions(ParentChildOptionsSchema, rest, "parent-child chunker");
    this.parent = parent;
    this.tokens = new TokenCounter(o.model);
    this.splitter = new TokenSplitter(this.tokens, o.childTokens, o.childOverlapTokens);
    this.name = `parent-child:${parent.name}/${o.childTokens}`;
  }

  async chunk(doc: Document, options: { signal?: AbortSignal } = {}): Promise<Chunk[]> {
    const parents = await this.parent.chunk(doc, options);
    const out: Chunk[] = [];
    let child = 0;
    parents.forEach((p, pi) => {
      const parent: Chunk = { ...p, kind: "parent", index: pi, id: `${doc.id}#p${pi}` };
      out.push(parent);
      for (const span of this.splitter.split(doc.content, { start: p.start, end: p.end })) {
        out.push(makeChunk(doc, span, child++, this.tokens, { headingPath: p.headingPath, parentId: parent.id }));
      }
    });
    return out;
  }
}
