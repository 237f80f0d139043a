import { contentTerms } from "@quintet/llm";
import { formatLiveItem, type LiveContextItem } from "../freshness/live.js";
import type { RetrievedChunk } from "../retrieval/retriever.js";

/** A passage an answer may cite: an indexed chunk or a live result. */
export interface AnswerPassage {
  id: string;
  /** What the model (or the extractive picker) reads. */
  text: string;
  title: string;
  uri?: string;
  documentId?: string;
  source: { name: string; kind: string; priority: number; key?: string };
  kind: "indexed" | "live";
  updatedAt?: number;
  fetchedAt?: number;
  /** For live data: the time it is as of. */
  timestamp?: number;
  /** Rank in retrieval (1-based) and its score; live passages have none. */
  rank?: number;
  score?: number;
  /** Share of the question's content words the passage contains (0..1): the evidence strength used for abstention. */
  coverage: number;
}

/** Share of the question's content words (stemmed, stopwords removed) found in a text; 0 when the question has none. */
export function termCoverage(question: string, text: string): number {
  const q = [...new Set(contentTerms(question))];
  if (q.length === 0) return 0;
  const t = new Set(contentTerms(text));
  return q.filter((x) => t.has(x)).length / q.length;
}

/** Passages from retrieval results (the chunk's sentence-window context when it has one). */
export function passagesFromRetrieval(question: string, results: readonly RetrievedChunk[]): AnswerPassage[] {
  return results.map((r) => {
    const c = r.chunk;
    const text = c.context ?? c.content;
    const p: AnswerPassage = {
      id: c.id,
      text,
      title: c.title || c.source.key,
      uri: c.source.uri,
      documentId: c.documentId,
      source: { name: c.source.name, kind: c.source.kind, priority: c.source.priority ?? 0, key: c.source.key },
      kind: "indexed",
      fetchedAt: c.fetchedAt,
      rank: r.rank,
      score: r.score,
      coverage: termCoverage(question, `${c.title} ${text}`),
    };
    const t = c.updatedAt ?? c.createdAt;
    if (t !== undefined) p.updatedAt = t;
    return p;
  });
}

/** Passages from live results: the data with its source and as-of time written into the text. */
export function passagesFromLive(question: string, items: readonly LiveContextItem[]): AnswerPassage[] {
  return items.map((it) => ({
    id: it.id,
    text: formatLiveItem(it),
    title: it.title,
    ...(it.uri ? { uri: it.uri } : {}),
    source: { name: it.source, kind: "live", priority: 0 },
    kind: "live" as const,
    updatedAt: it.timestamp,
    fetchedAt: it.fetchedAt,
    timestamp: it.timestamp,
    coverage: termCoverage(question, `${it.title} ${it.text}`),
  }));
}
