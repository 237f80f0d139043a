import { ValidationError } from "@quintet/core";
import { defineTool, type Tool } from "@quintet/llm";
import type { RetrieveOptions, Retriever } from "@quintet/rag";
import { z } from "zod";

/** A passage a retriever found. */
export interface RetrievedPassage {
  id: string;
  text: string;
  score: number;
  /** Where it came from (a URL, a file path, a document title) — what the agent cites. */
  source?: string;
  metadata?: Record<string, unknown>;
}

/**
 * Anything that finds passages for a query: a RAG collection (see {@link ragRetriever}), a
 * search API, a test corpus. The researcher role and {@link retrieverTool} take one, so any
 * retrieval backend plugs in.
 */
export type RetrieveFn = (query: string, options: { k: number; signal?: AbortSignal }) => Promise<RetrievedPassage[]>;

export interface RetrieverToolOptions {
  /** Default `search_documents`. */
  name?: string;
  description?: string;
  /** Passages per search (default 5, the model may ask for up to `maxK`). */
  k?: number;
  maxK?: number;
  /** Characters of each passage sent to the model (default 1200). */
  maxChars?: number;
}

/**
 * A retriever (e.g. a RAG collection) as a tool in one line: the model searches with a
 * query and gets numbered passages with their sources to cite.
 *
 * @example
 * const search = retrieverTool((q, { k }) => collection.search(q, { k }), { name: "search_handbook" });
 */
export function retrieverTool(retriever: RetrieveFn, options: RetrieverToolOptions = {}): Tool {
  const k = options.k ?? 5;
  const maxK = options.maxK ?? Math.max(10, k);
  if (!Number.isInteger(k) || k < 1 || k > maxK) {
    throw new ValidationError(`retrieverTool: k must be an integer from 1 to maxK (${maxK}), got ${k}`, {
      hint: "The default is 5.",
    });
  }
  const maxChars = options.maxChars ?? 1200;
  return defineTool({
    name: options.name ?? "search_documents",
    description:
      options.description ??
      "Search the document collection. Returns numbered passages with their sources; cite the source of every fact you use.",
    parameters: z.object({
      query: z.string().min(1).describe("what to look for, in your own words"),
      k: z.number().int().min(1).max(maxK).optional().describe(`how many passages (default ${k})`),
    }),
    execute: async ({ query, k: asked }, ctx) => {
      const found = await retriever(query, { k: asked ?? k, signal: ctx.signal });
      if (found.length === 0) return { passages: [], note: "nothing found; try other words" };
      return {
        passages: found.map((p, i) => ({
          n: i + 1,
          id: p.id,
          source: p.source ?? p.id,
          score: Number(p.score.toFixed(4)),
          text: p.text.length > maxChars ? `${p.text.slice(0, maxChars)}…` : p.text,
        })),
      };
    },
  });
}

/**
 * A `@quintet/rag` Retriever (hybrid search over a collection) as a {@link RetrieveFn}: each
 * result's context (or content) with its source URI to cite. `options` are fixed for every
 * search — `access` above all, so the agent only ever sees what its principal may see.
 *
 * @example
 * const search = retrieverTool(ragRetriever(new Retriever({ collection, embedder }), { access: { labels: ["team:support"] } }));
 */
export function ragRetriever(retriever: Retriever, options: Omit<RetrieveOptions, "k" | "signal">): RetrieveFn {
  return async (query, { k, signal }) => {
    const r = await retriever.retrieve(query, { ...options, k, ...(signal ? { signal } : {}) });
    return r.results.map((x) => ({
      id: x.chunk.id,
      text: x.chunk.context ?? x.chunk.content,
      score: x.score,
      source: x.chunk.source.uri || x.chunk.documentId,
      metadata: { title: x.chunk.title, documentId: x.chunk.documentId, headingPath: x.chunk.headingPath },
    }));
  };
}
