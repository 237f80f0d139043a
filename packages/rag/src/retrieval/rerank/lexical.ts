import { ValidationError } from "@quintet/core";
import { contentTerms } from "@quintet/llm";
import type { RerankCandidate, Reranker, RerankResult } from "./types.js";

/** The features the lexical reranker scores, in order. */
export const LEXICAL_FEATURES = [
  "fused",
  "bm25",
  "vector",
  "coverage",
  "idfCoverage",
  "bigrams",
  "proximity",
  "title",
] as const;
export type LexicalFeature = (typeof LEXICAL_FEATURES)[number];
export type LexicalWeights = Record<LexicalFeature, number> & { bias: number };

/** Hand-set starting weights: first-stage evidence first, then term coverage and phrase structure. */
export const DEFAULT_LEXICAL_WEIGHTS: LexicalWeights = {
  bias: 0,
  fused: 1,
  bm25: 0.5,
  vector: 0.5,
  coverage: 0.5,
  idfCoverage: 0.5,
  bigrams: 0.3,
  proximity: 0.2,
  title: 0.2,
};

/** A labelled query for fitting: its candidates and which of them are relevant. */
export interface RerankExample {
  query: string;
  candidates: RerankCandidate[];
  relevant: ReadonlySet<string>;
}

/**
 * A local reranker that needs no model: a linear score over query–chunk cross features (the
 * first-stage fused, BM25 and vector scores, coverage of the query's content terms, plain and
 * weighted by their rarity among the candidates, shared bigrams, how close together the matched
 * terms sit, and title matches). Weights are hand-set by default and can be fitted to labelled
 * queries with a pairwise logistic loss ({@link LexicalReranker.fit}).
 */
export class LexicalReranker implements Reranker {
  readonly name = "lexical";
  weights: LexicalWeights;

  constructor(weights: Partial<LexicalWeights> = {}) {
    this.weights = { ...DEFAULT_LEXICAL_WEIGHTS, ...weights };
  }

  /** The feature vectors of each candidate for a query (exposed for inspection and fitting). */
  features(query: string, candidates: readonly RerankCandidate[]): number[][] {
    const q = contentTerms(query);
    const qset = [...new Set(q)];
    const qbigrams = new Set(q.slice(1).map((t, i) => `${q[i]} ${t}`));
    const docs = candidates.map((c) => contentTerms(c.text));
    const df = new Map<string, number>();
    for (const d of docs) for (const t of new Set(d)) if (qset.includes(t)) df.set(t, (df.get(t) ?? 0) + 1);
    const idf = (t: string) => Math.log(1 + (candidates.length + 1) / ((df.get(t) ?? 0) + 1));
    const idfTotal = qset.reduce((s, t) => s + idf(t), 0) || 1;
    const maxBm25 = Math.max(0, ...candidates.map((c) => c.signals?.bm25Score ?? 0)) || 1;
    const maxFused = Math.max(0, ...candidates.map((c) => c.signals?.fusedScore ?? 0)) || 1;
    return candidates.map((c, i) => {
      const terms = docs[i]!;
      const set = new Set(terms);
      const matched = qset.filter((t) => set.has(t));
      const coverage = qset.length ? matched.length / qset.length : 0;
      const idfCoverage = matched.reduce((s, t) => s + idf(t), 0) / idfTotal;
      let bi = 0;
      if (qbigrams.size) {
        const have = new Set(terms.slice(1).map((t, j) => `${terms[j]} ${t}`));
        for (const b of qbigrams) if (have.has(b)) bi++;
      }
      const title = c.title ? new Set(contentTerms(c.title)) : undefined;
      const titleCov = title && qset.length ? qset.filter((t) => title.has(t)).length / qset.length : 0;
      const s = c.signals;
      return [
        s ? s.fusedScore / maxFused : 0,
        s?.bm25Score !== undefined ? s.bm25Score / maxBm25 : 0,
        s?.vectorScore ?? 0,
        coverage,
        idfCoverage,
        qbigrams.size ? bi / qbigrams.size : 0,
        proximity(terms, new Set(matched)),
        titleCov,
      ];
    });
  }

  async rerank(
    query: string,
    candidates: readonly RerankCandidate[],
    options: { topN?: number } = {},
  ): Promise<RerankResult[]> {
    const f = this.features(query, candidates);
    const w = LEXICAL_FEATURES.map((k) => this.weights[k]);
    const scored = candidates.map((c, i) => ({ id: c.id, score: this.weights.bias + dot(w, f[i]!) }));
    scored.sort((a, b) => b.score - a.score);
    return options.topN ? scored.slice(0, options.topN) : scored;
  }

  /**
   * Fits the weights to labelled queries by gradient descent on a pairwise logistic loss (each
   * relevant candidate should outscore each non-relevant one of the same query), with L2
   * regularisation towards zero. Deterministic. Returns the final mean pair loss.
   */
  fit(
    examples: readonly RerankExample[],
    options: { epochs?: number; learningRate?: number; l2?: number; maxNegatives?: number } = {},
  ): number {
    const epochs = options.epochs ?? 200;
    const lr = options.learningRate ?? 0.5;
    const l2 = options.l2 ?? 1e-3;
    const maxNeg = options.maxNegatives ?? 30;
    const pairs: Array<[number[], number[]]> = [];
    for (const ex of examples) {
      const f = this.features(ex.query, ex.candidates);
      const pos = ex.candidates
        .map((c, i) => (ex.relevant.has(c.id) ? f[i]! : undefined))
        .filter((x): x is number[] => Boolean(x));
      const neg = ex.candidates
        .map((c, i) => (ex.relevant.has(c.id) ? undefined : f[i]!))
        .filter((x): x is number[] => Boolean(x))
        .slice(0, maxNeg);
      for (const p of pos) for (const n of neg) pairs.push([p, n]);
    }
    if (pairs.length === 0) {
      throw new ValidationError("no (relevant, non-relevant) candidate pairs to fit the reranker on", {
        hint: "Give examples whose candidates include both relevant and non-relevant chunks.",
      });
    }
    const w = LEXICAL_FEATURES.map((k) => this.weights[k]);
    let loss = 0;
    for (let e = 0; e < epochs; e++) {
      const grad = new Array(w.length).fill(0);
      loss = 0;
      for (const [p, n] of pairs) {
        const d = p.map((x, i) => x - n[i]!);
        const margin = dot(w, d);
        // log(1 + e^−m), computed stably.
        loss += margin > 0 ? Math.log1p(Math.exp(-margin)) : -margin + Math.log1p(Math.exp(margin));
        const g = -1 / (1 + Math.exp(margin));
        for (let i = 0; i < w.length; i++) grad[i] += g * d[i]!;
      }
      for (let i = 0; i < w.length; i++) w[i] -= lr * (grad[i] / pairs.length + l2 * w[i]!);
    }
    LEXICAL_FEATURES.forEach((k, i) => {
      this.weights[k] = w[i]!;
    });
    return loss / pairs.length;
  }
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** How tightly the matched query terms cluster: matched / (shortest window holding them all), in [0, 1]. */
function proximity(terms: readonly string[], matched: ReadonlySet<string>): number {
  if (matched.size === 0) return 0;
  if (matched.size === 1) return 1;
  const need = matched.size;
  const count = new Map<string, number>();
  let have = 0;
  let best = Number.POSITIVE_INFINITY;
  let lo = 0;
  for (let hi = 0; hi < terms.length; hi++) {
    const t = terms[hi]!;
    if (!matched.has(t)) continue;
    count.set(t, (count.get(t) ?? 0) + 1);
    if (count.get(t) === 1) have++;
    while (have === need) {
      best = Math.min(best, hi - lo + 1);
      const l = terms[lo]!;
      if (matched.has(l)) {
        count.set(l, count.get(l)! - 1);
        if (count.get(l) === 0) have--;
      }
      lo++;
    }
  }
  return Number.isFinite(best) ? need / best : 0;
}
