import { QuintetError, TimeoutError, ValidationError } from "@quintet/core";
import type { RerankCandidate, Reranker, RerankResult } from "./types.js";

export interface HttpRerankerOptions {
  /** Full endpoint, e.g. `https://api.cohere.com/v2/rerank`, `https://api.jina.ai/v1/rerank`, `https://api.voyageai.com/v1/rerank`. */
  url: string;
  model: string;
  apiKey?: string;
  headers?: Record<string, string>;
  /** Name of the top-k field: `top_n` (Cohere, Jina; default) or `top_k` (Voyage). */
  topField?: "top_n" | "top_k";
  timeoutMs?: number;
  /** Retries of 429/5xx (default 2). */
  retries?: number;
  fetch?: typeof fetch;
}

/**
 * A hosted cross-encoder through the rerank API that Cohere, Jina and Voyage share: POST
 * `{ model, query, documents, top_n }`, answer `{ results | data: [{ index, relevance_score }] }`.
 */
export class HttpReranker implements Reranker {
  readonly name: string;
  constructor(private readonly o: HttpRerankerOptions) {
    if (!o.url || !o.model)
      throw new ValidationError("HttpReranker needs url and model", {
        hint: "E.g. { url: 'https://api.cohere.com/v2/rerank', model: 'rerank-v3.5' }.",
      });
    this.name = `http:${o.model}`;
  }

  async rerank(
    query: string,
    candidates: readonly RerankCandidate[],
    options: { signal?: AbortSignal; topN?: number } = {},
  ): Promise<RerankResult[]> {
    if (candidates.length === 0) return [];
    const body = {
      model: this.o.model,
      query,
      documents: candidates.map((c) => (c.title ? `${c.title}\n${c.text}` : c.text)),
      [this.o.topField ?? "top_n"]: options.topN ?? candidates.length,
    };
    const f = this.o.fetch ?? fetch;
    const retries = this.o.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(this.o.timeoutMs ?? 30_000);
      let res: Response;
      try {
        res = await f(this.o.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}),
            ...this.o.headers,
          },
          body: JSON.stringify(body),
          signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
        });
      } catch (err) {
        options.signal?.throwIfAborted();
        if (attempt < retries) continue;
        if (timeout.aborted) throw new TimeoutError(`reranker ${this.o.url} timed out`, { hint: "Raise timeoutMs." });
        throw new QuintetError("PROVIDER_ERROR", `reranker ${this.o.url} unreachable: ${(err as Error).message}`, {
          hint: "Check the URL.",
          cause: err,
        });
      }
      if ((res.status === 429 || res.status >= 500) && attempt < retries) {
        const ra = Number(res.headers.get("retry-after"));
        await res.body?.cancel().catch(() => {});
        await new Promise((r) => setTimeout(r, Number.isFinite(ra) ? Math.min(ra * 1000, 10_000) : 250 * 2 ** attempt));
        continue;
      }
      const text = await res.text();
      if (!res.ok) {
        throw new QuintetError(
          res.status === 401 || res.status === 403
            ? "UNAUTHORIZED"
            : res.status === 429
              ? "RATE_LIMITED"
              : "PROVIDER_ERROR",
          `reranker answered ${res.status}: ${text.slice(0, 200)}`,
          { hint: res.status === 401 ? "Check the API key." : "Check the model name and request size." },
        );
      }
      let json: any;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new QuintetError("PROVIDER_ERROR", `reranker answered non-JSON: ${text.slice(0, 80)}`, {
          hint: "Check the URL.",
          cause: err,
        });
      }
      const results = json?.results ?? json?.data;
      if (!Array.isArray(results)) {
        throw new QuintetError("PROVIDER_ERROR", "reranker answer has no results/data list", {
          hint: "Use a Cohere/Jina/Voyage-compatible endpoint.",
        });
      }
      const out: RerankResult[] = [];
      for (const r of results) {
        const i = r?.index;
        const s = r?.relevance_score ?? r?.score;
        if (!Number.isInteger(i) || i < 0 || i >= candidates.length || typeof s !== "number") {
          throw new QuintetError(
            "PROVIDER_ERROR",
            `reranker returned an invalid result ${JSON.stringify(r)?.slice(0, 80)}`,
            {
              hint: "Each result needs an index into the documents and a relevance_score.",
            },
          );
        }
        out.push({ id: candidates[i]!.id, score: s });
      }
      return out.sort((a, b) => b.score - a.score);
    }
  }
}
