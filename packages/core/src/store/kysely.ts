import type * as Kysely from "kysely";

/** What `import("kysely")` gives. */
export type KyselyModule = typeof Kysely;

let loaded: Promise<KyselyModule> | undefined;

/**
 * Kysely, imported on first use. Its ES build is about a thousand modules (70 ms and
 * several MB of heap to load): a program that imports Quintet only to train a model or
 * call an LLM should not pay for them, nor collect their garbage while it works. Every
 * query runs on a store that loaded it already, so after the first store this is free.
 */
export function kyselyModule(): Promise<KyselyModule> {
  loaded ??= import("kysely").catch((err: unknown) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}
