import { readFileSync } from "node:fs";
import { ConfigError, ValidationError } from "@quintet/core";
import { z } from "zod";
import { DEFAULT_PRICES } from "./default-prices.js";

/** US dollars per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  /** Input tokens served from the provider's prompt cache; default: `input`. */
  cachedInput?: number;
  /** Input tokens written to the prompt cache (Anthropic); default: `input`. */
  cacheWrite?: number;
}

/**
 * Prices keyed by `provider:model` (e.g. `openai:gpt-4o-mini`, `azure:my-deployment`).
 * A key ending in `*` is a prefix pattern (`openai:gpt-4o-mini*`, `ollama:*`); exact keys
 * win over patterns, longer patterns over shorter ones.
 */
export type PriceTable = Record<string, ModelPrice>;

const PriceSchema = z
  .object({
    input: z.number().nonnegative(),
    output: z.number().nonnegative(),
    cachedInput: z.number().nonnegative().optional(),
    cacheWrite: z.number().nonnegative().optional(),
  })
  .strict();
const TableSchema = z.record(z.string().regex(/^[a-z-]+:.+$/, "keys are provider:model"), PriceSchema);

function issues(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const where = i.path.join(".") || "(root)";
      // zod reports a bad record key only as "Invalid key in record".
      return i.code === "invalid_key"
        ? `${where}: keys are provider:model, e.g. openai:gpt-4o`
        : `${where}: ${i.message}`;
    })
    .join("; ");
}

/**
 * Validates a price table (USD per million tokens) for `createLlm({ prices })`. Entries are
 * merged over the built-in table, so defining one model keeps the others.
 *
 * @example definePrices({ "azure:prod-gpt4o": { input: 2.5, output: 10 } })
 */
export function definePrices(table: PriceTable): PriceTable {
  const parsed = TableSchema.safeParse(table);
  if (!parsed.success) {
    throw new ValidationError(`invalid price table: ${issues(parsed.error)}`, {
      hint: 'Map "provider:model" to { input, output } in USD per million tokens, e.g. { "openai:gpt-4o": { input: 2.5, output: 10 } }.',
    });
  }
  return parsed.data as PriceTable;
}

const fileCache = new Map<string, PriceTable>();

/** Reads a `QUINTET_PRICES` JSON file (same shape as {@link PriceTable}). */
export function readPriceFile(path: string): PriceTable {
  const cached = fileCache.get(path);
  if (cached) return cached;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(`cannot read price file ${path}: ${(err as Error).message}`, {
      hint: "QUINTET_PRICES must name a JSON file mapping provider:model to { input, output } (USD per 1M tokens).",
      cause: err,
    });
  }
  const parsed = TableSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(`invalid price file ${path}: ${issues(parsed.error)}`, {
      hint: 'Each entry is "provider:model": { "input": <USD per 1M>, "output": <USD per 1M> }.',
    });
  }
  fileCache.set(path, parsed.data as PriceTable);
  return parsed.data as PriceTable;
}

/** The effective table: built-in prices, then the `QUINTET_PRICES` file, then `overrides`. */
export function resolvePrices(
  overrides: PriceTable | undefined,
  env: Record<string, string | undefined> = process.env,
): PriceTable {
  const file = env.QUINTET_PRICES ? readPriceFile(env.QUINTET_PRICES) : {};
  return { ...DEFAULT_PRICES, ...file, ...(overrides ? definePrices(overrides) : {}) };
}

/** The price of `provider:model`: exact key, then the longest matching `*` pattern. */
export function findPrice(table: PriceTable, provider: string, model: string): ModelPrice | undefined {
  const key = `${provider}:${model}`;
  if (table[key]) return table[key];
  let best: { len: number; price: ModelPrice } | undefined;
  for (const [k, price] of Object.entries(table)) {
    if (!k.endsWith("*")) continue;
    const prefix = k.slice(0, -1);
    if (key.startsWith(prefix) && (!best || prefix.length > best.len)) best = { len: prefix.length, price };
  }
  if (best) return best.price;
  // An Azure deployment named after the OpenAI model it serves is priced like it.
  if (provider === "azure") return findPrice(table, "openai", model);
  return undefined;
}

/** Dollars for one call's token usage. */
export function costOf(
  price: ModelPrice,
  usage: { inputTokens: number; outputTokens: number; cachedInputTokens?: number; cacheWriteTokens?: number },
): number {
  const cached = usage.cachedInputTokens ?? 0;
  const written = usage.cacheWriteTokens ?? 0;
  const fresh = Math.max(0, usage.inputTokens - cached - written);
  const perMillion =
    fresh * price.input +
    cached * (price.cachedInput ?? price.input) +
    written * (price.cacheWrite ?? price.input) +
    usage.outputTokens * price.output;
  // Rounded to 1e-10 USD so that float noise does not show up in stored costs.
  return Math.round((perMillion / 1e6) * 1e10) / 1e10;
}
