import { contentTerms, splitSentences } from "@quintet/llm";
import type { AnswerPassage } from "./passages.js";

export interface ExtractiveOptions {
  /** Sentences in the answer at most (default 3). */
  maxSentences?: number;
  /** Sentences shorter than this many words are not picked (default 4). */
  minWords?: number;
  /** Sentences that must not be quoted (e.g. the losing side of a resolved conflict), as exact substrings. */
  avoid?: readonly string[];
  /** BM25 parameters over the sentence collection (defaults 1.2 and 0.75). */
  k1?: number;
  b?: number;
}

export interface ExtractedSentence {
  text: string;
  /** 1-based number of the passage it comes from (its citation). */
  marker: number;
  passageId: string;
  score: number;
  /** Question words it contains (stemmed). */
  terms: string[];
}

export interface ExtractiveAnswer {
  /** The picked sentences, each followed by its citation, in the order picked. */
  text: string;
  sentences: ExtractedSentence[];
  /** Share of the question's content words the picked sentences cover. */
  coverage: number;
  queryTerms: string[];
}

/** Markdown markup that reads badly inside a quoted sentence. */
function plain(s: string): string {
  return s
    .replace(/!\[[^\]]*\]\([^)]*\)/g, "")
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/^\s{0,3}(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s?)/gm, "")
    .replace(/[*_`]{1,3}([^*_`]+)[*_`]{1,3}/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * An extractive, cited answer for when no language model is configured: every sentence of the
 * passages is scored by BM25 against the question (idf over the sentences), then sentences are
 * picked greedily by score weighted by the question words they add, skipping near-repeats, and
 * each is quoted with its passage number. It never writes a word the sources did not.
 */
export function extractiveAnswer(
  question: string,
  passages: readonly AnswerPassage[],
  options: ExtractiveOptions = {},
): ExtractiveAnswer {
  const maxSentences = options.maxSentences ?? 3;
  const minWords = options.minWords ?? 4;
  const k1 = options.k1 ?? 1.2;
  const b = options.b ?? 0.75;
  const queryTerms = [...new Set(contentTerms(question))];
  const empty: ExtractiveAnswer = { text: "", sentences: [], coverage: 0, queryTerms };
  if (queryTerms.length === 0) return empty;
  const q = new Set(queryTerms);
  const cands: Array<{ text: string; marker: number; passageId: string; terms: string[]; len: number; order: number }> =
    [];
  passages.forEach((p, i) => {
    for (const block of p.text.split(/\n{2,}|\n(?=\s*(?:#|[-*+]\s|\d+[.)]\s))/)) {
      // A heading line is a label, not an answer.
      if (/^\s{0,3}#{1,6}\s/.test(block) && !block.includes("\n")) continue;
      for (const s of splitSentences(block)) {
        const text = plain(s.text);
        const words = text.split(" ").filter(Boolean).length;
        if (words < minWords || words > 80) continue;
        if (options.avoid?.some((a) => a && text.includes(a))) continue;
        const terms = contentTerms(text);
        cands.push({ text, marker: i + 1, passageId: p.id, terms, len: terms.length, order: cands.length });
      }
    }
  });
  if (cands.length === 0) return empty;
  const n = cands.length;
  const avgLen = cands.reduce((a, c) => a + c.len, 0) / n || 1;
  const df = new Map<string, number>();
  for (const c of cands) for (const t of new Set(c.terms)) if (q.has(t)) df.set(t, (df.get(t) ?? 0) + 1);
  const scored = cands.map((c) => {
    const tf = new Map<string, number>();
    for (const t of c.terms) if (q.has(t)) tf.set(t, (tf.get(t) ?? 0) + 1);
    let score = 0;
    for (const [t, f] of tf) {
      const d = df.get(t)!;
      const idf = Math.log(1 + (n - d + 0.5) / (d + 0.5));
      score += (idf * f * (k1 + 1)) / (f + k1 * (1 - b + (b * c.len) / avgLen));
    }
    return { ...c, score, matched: [...tf.keys()] };
  });
  const picked: typeof scored = [];
  const covered = new Set<string>();
  const pool = scored.filter((c) => c.score > 0);
  while (picked.length < maxSentences && pool.length > 0) {
    let best = -1;
    let bestValue = 0;
    pool.forEach((c, i) => {
      const fresh = c.matched.filter((t) => !covered.has(t)).length;
      // Later sentences must add a question word, or be nearly as strong as the first.
      if (picked.length > 0 && fresh === 0 && c.score < 0.8 * picked[0]!.score) return;
      const value = c.score * (1 + fresh / queryTerms.length);
      if (value > bestValue || (value === bestValue && best >= 0 && c.order < pool[best]!.order)) {
        best = i;
        bestValue = value;
      }
    });
    if (best < 0) break;
    const c = pool.splice(best, 1)[0]!;
    const norm = c.text.toLowerCase();
    if (picked.some((p) => p.text.toLowerCase() === norm)) continue;
    picked.push(c);
    for (const t of c.matched) covered.add(t);
  }
  const sentences: ExtractedSentence[] = picked.map((c) => ({
    text: c.text,
    marker: c.marker,
    passageId: c.passageId,
    score: c.score,
    terms: c.matched,
  }));
  const text = sentences
    .map((s) => {
      const t = /[.!?…]["')\]]?$/.test(s.text) ? s.text : `${s.text}.`;
      return `${t} [${s.marker}]`;
    })
    .join(" ");
  return { text, sentences, coverage: covered.size / queryTerms.length, queryTerms };
}
