import { QuintetError, type Store, ValidationError } from "@quintet/core";
import { z } from "zod";
import type { LlmClient } from "../providers/types.js";
import { countTokens } from "../text/tokens.js";
import { EmbeddingCache, embeddingCacheKey } from "./cache.js";
import { type Embedder, l2Normalize } from "./types.js";

export const ProviderEmbedderOptionsSchema = z.object({
  /** Most texts per provider request (OpenAI allows 2048). */
  maxBatchSize: z.number().int().min(1).default(256),
  /** Most input tokens per provider request (OpenAI allows 300k); counted with tiktoken. */
  maxBatchTokens: z.number().int().min(1).default(100_000),
  /** Provider requests in flight at once. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** Scale vectors to unit length (after the cache, so cached and fresh vectors agree). */
  normalize: z.boolean().default(false),
  /** Known width; otherwise learnt from the first response. */
  dimensions: z.number().int().min(1).optional(),
});
export type ProviderEmbedderOptions = z.input<typeof ProviderEmbedderOptionsSchema> & {
  /** Cache vectors in this store (namespace `embeddings`); omit to disable caching. */
  store?: Store;
};

export interface EmbedderStats {
  cacheHits: number;
  cacheMisses: number;
  providerCalls: number;
  inputTokens: number;
}

/**
 * Embeddings from a provider's `embed` endpoint, with batching by count and by tokens, a
 * concurrency limit and a content-hash cache in the store. Retries and timeouts are the
 * provider client's. Cache hits never reach the provider, and a partly cached request sends
 * only the misses (each distinct text once).
 */
export class ProviderEmbedder implements Embedder {
  readonly id: string;
  private dims: number | undefined;
  private readonly opts: z.output<typeof ProviderEmbedderOptionsSchema>;
  private readonly cache: EmbeddingCache | undefined;
  readonly stats: EmbedderStats = { cacheHits: 0, cacheMisses: 0, providerCalls: 0, inputTokens: 0 };

  constructor(
    private readonly llm: LlmClient,
    options: ProviderEmbedderOptions = {},
  ) {
    if (!llm.embed) {
      throw new QuintetError("UNSUPPORTED", `model ${llm.uri} does not offer embeddings`, {
        hint: "Use an embedding model URI (e.g. openai:text-embedding-3-small), or the offline LsaEmbedder.",
      });
    }
    const { store, ...rest } = options;
    const parsed = ProviderEmbedderOptionsSchema.safeParse(rest);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid embedder options: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
        { hint: "maxBatchSize, maxBatchTokens and concurrency must be positive integers." },
      );
    }
    this.opts = parsed.data;
    this.dims = parsed.data.dimensions;
    this.cache = store ? new EmbeddingCache(store) : undefined;
    this.id = llm.uri;
  }

  get dimensions(): number | undefined {
    return this.dims;
  }

  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<Float32Array[]> {
    const signal = options.signal;
    signal?.throwIfAborted();
    texts.forEach((t, i) => {
      if (typeof t !== "string" || t.length === 0) {
        throw new ValidationError(`text ${i} to embed is empty`, { hint: "Drop empty strings before embedding." });
      }
    });
    const keys = texts.map((t) => embeddingCacheKey(this.id, t));
    const found = this.cache ? await this.cache.getMany([...new Set(keys)]) : new Map<string, Float32Array>();
    const missing = new Map<string, string>();
    keys.forEach((k, i) => {
      if (found.has(k)) this.stats.cacheHits++;
      else {
        this.stats.cacheMisses++;
        missing.set(k, texts[i]!);
      }
    });

    const batches = this.batch([...missing.entries()]);
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        signal?.throwIfAborted();
        const res = await this.llm.embed!({ texts: batch.map(([, t]) => t), ...(signal ? { signal } : {}) });
        this.stats.providerCalls++;
        this.stats.inputTokens += res.usage.inputTokens;
        if (res.vectors.length !== batch.length) {
          throw new QuintetError(
            "PROVIDER_ERROR",
            `${this.id} returned ${res.vectors.length} vectors for ${batch.length} texts`,
            {
              hint: "The provider answered out of contract; retry, or lower maxBatchSize.",
            },
          );
        }
        const fresh = batch.map(([key], j) => ({ key, vector: res.vectors[j]! }));
        for (const f of fresh) {
          if (this.dims === undefined) this.dims = f.vector.length;
          if (f.vector.length !== this.dims) {
            throw new QuintetError(
              "PROVIDER_ERROR",
              `${this.id} returned a ${f.vector.length}-wide vector, expected ${this.dims}`,
              {
                hint: "Set `dimensions` to the model's width, or use one model per embedder.",
              },
            );
          }
          found.set(f.key, f.vector);
        }
        await this.cache?.putMany(this.id, fresh);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, batches.length) }, worker));

    return keys.map((k) => {
      const v = Float32Array.from(found.get(k)!);
      return this.opts.normalize ? l2Normalize(v) : v;
    });
  }

  /** Groups texts into requests under both the count and token limits, keeping input order. */
  private batch(items: Array<[string, string]>): Array<Array<[string, string]>> {
    const out: Array<Array<[string, string]>> = [];
    let cur: Array<[string, string]> = [];
    let tokens = 0;
    for (const item of items) {
      const n = countTokens(item[1], "text-embedding-3-small");
      if (n > this.opts.maxBatchTokens) {
        throw new ValidationError(`a text to embed has ${n} tokens, over maxBatchTokens ${this.opts.maxBatchTokens}`, {
          hint: "Chunk long documents before embedding (embedding models accept ~8k tokens per input).",
        });
      }
      if (cur.length > 0 && (cur.length >= this.opts.maxBatchSize || tokens + n > this.opts.maxBatchTokens)) {
        out.push(cur);
        cur = [];
        tokens = 0;
      }
      cur.push(item);
      tokens += n;
    }
    if (cur.length) out.push(cur);
    return out;
  }
}
