import { generateObject, type LlmClient } from "@quintet/llm";
import { z } from "zod";

const SYSTEM =
  "You help a search engine over a document collection. Answer only with the JSON asked for. Do not answer the question itself unless asked to write a passage.";

function clean(xs: readonly string[], max: number, exclude: string): string[] {
  const seen = new Set([exclude.trim().toLowerCase()]);
  const out: string[] = [];
  for (const x of xs) {
    const t = x.replace(/\s+/g, " ").trim();
    if (t && !seen.has(t.toLowerCase())) {
      seen.add(t.toLowerCase());
      out.push(t);
    }
    if (out.length >= max) break;
  }
  return out;
}

/** Rewrites a conversational or vague query into a self-contained search query. */
export async function rewriteQuery(
  llm: LlmClient,
  query: string,
  options: { signal?: AbortSignal; context?: string } = {},
): Promise<string> {
  const { object } = await generateObject({
    llm,
    schema: z.object({ query: z.string().min(1) }),
    name: "rewritten_query",
    system: SYSTEM,
    prompt: `${options.context ? `Conversation so far:\n${options.context}\n\n` : ""}Rewrite this into one precise, self-contained search query (resolve pronouns, keep key terms, add obvious synonyms):\n${query}\n\nReturn {"query": "..."}.`,
    temperature: 0,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return object.query.trim() || query;
}

/** Alternative phrasings of a query (multi-query retrieval); the original is not included. */
export async function multiQuery(
  llm: LlmClient,
  query: string,
  n = 3,
  options: { signal?: AbortSignal } = {},
): Promise<string[]> {
  const { object } = await generateObject({
    llm,
    schema: z.object({ queries: z.array(z.string()) }),
    name: "query_variants",
    system: SYSTEM,
    prompt: `Write ${n} different search queries that would find documents answering this, using different wording and angles:\n${query}\n\nReturn {"queries": ["...", ...]}.`,
    temperature: 0.7,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return clean(object.queries, n, query);
}

/**
 * HyDE (Gao et al.): a short passage that would answer the query, written by the model. Its
 * embedding is searched instead of the query's, since answers look more like documents than
 * questions do. The passage may be wrong; it is only a search key and never shown as an answer.
 */
export async function hypotheticalDocument(
  llm: LlmClient,
  query: string,
  options: { signal?: AbortSignal } = {},
): Promise<string> {
  const { object } = await generateObject({
    llm,
    schema: z.object({ passage: z.string().min(1) }),
    name: "hypothetical_passage",
    system: SYSTEM,
    prompt: `Write a short factual passage (3–5 sentences) as it might appear in a document that answers:\n${query}\n\nReturn {"passage": "..."}.`,
    temperature: 0,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return object.passage.trim();
}

/** Splits a multi-part question into simpler sub-questions, each searched on its own; a simple question comes back alone. */
export async function decomposeQuery(
  llm: LlmClient,
  query: string,
  max = 4,
  options: { signal?: AbortSignal } = {},
): Promise<string[]> {
  const { object } = await generateObject({
    llm,
    schema: z.object({ subQuestions: z.array(z.string()) }),
    name: "sub_questions",
    system: SYSTEM,
    prompt: `Break this question into at most ${max} simpler sub-questions that can each be looked up on their own. If it is already simple, return it unchanged as the only item.\n${query}\n\nReturn {"subQuestions": ["...", ...]}.`,
    temperature: 0,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const subs = clean(object.subQuestions, max, "");
  return subs.length ? subs : [query];
}
