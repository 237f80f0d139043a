import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { QuintetError, type Store } from "@quintet/core";
import { createLlm, type Embedder, LsaEmbedder, ProviderEmbedder } from "@quintet/llm";
import type { Collection } from "./collection.js";
import type { RagIndex } from "./rag-index.js";

/** Where a collection's fitted LSA model lives: `<index dir>/_models/<collection>.lsa.json`. */
export function lsaModelPath(index: RagIndex, collection: string): string {
  return join(index.dir, "_models", `${collection}.lsa.json`);
}

/** Saves the LSA model a collection's vectors were made with (atomically), so queries can embed the same way. */
export function saveLsaModel(index: RagIndex, collection: string, model: LsaEmbedder): string {
  mkdirSync(join(index.dir, "_models"), { recursive: true });
  const path = lsaModelPath(index, collection);
  model.save(path);
  return path;
}

/**
 * The embedder a collection was built with: its saved LSA model (`lsa-tfidf:*`), or the provider
 * model named by its embedder id (e.g. `openai:text-embedding-3-small`, with the provider's
 * environment variables), cached in `store` when given.
 */
export function embedderFor(
  index: RagIndex,
  collection: Collection,
  options: { store?: Store; env?: NodeJS.ProcessEnv } = {},
): Embedder {
  const id = collection.meta.embedderId;
  if (id.startsWith("lsa-tfidf:")) {
    const path = lsaModelPath(index, collection.name);
    if (!existsSync(path)) {
      throw new QuintetError(
        "NOT_FOUND",
        `collection "${collection.name}" was built with ${id}, but its model file ${path} is missing`,
        {
          hint: "Re-ingest into a new collection (the vectors cannot be queried without the model).",
        },
      );
    }
    const model = LsaEmbedder.load(path);
    if (model.id !== id) {
      throw new QuintetError(
        "VALIDATION_FAILED",
        `the LSA model at ${path} is ${model.id}, the collection expects ${id}`,
        {
          hint: "The model file was replaced; restore it or re-ingest into a new collection.",
        },
      );
    }
    return model;
  }
  const llm = createLlm(id, options.env ? { env: options.env } : {});
  return new ProviderEmbedder(llm, {
    normalize: true,
    dimensions: collection.dimensions,
    ...(options.store ? { store: options.store } : {}),
  });
}
