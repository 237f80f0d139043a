import type { PriceTable } from "./prices.js";

/**
 * List prices in US dollars per million tokens, standard (non-batch) tier.
 *
 * Sources: https://openai.com/api/pricing and https://www.anthropic.com/pricing
 * (Anthropic cache reads are 0.1x and 5-minute cache writes 1.25x the input price),
 * as published in August 2025. Providers change prices: override or extend this table
 * with `definePrices` or a `QUINTET_PRICES` JSON file rather than trusting it for billing.
 *
 * A key ending in `*` matches any model id starting with the rest (dated snapshots such
 * as `gpt-4o-mini-2024-07-18` or `claude-3-5-haiku-20241022`); the longest match wins.
 */
export const DEFAULT_PRICES_DATE = "2025-08";

export const DEFAULT_PRICES: PriceTable = {
  // OpenAI chat models
  "openai:gpt-5*": { input: 1.25, output: 10, cachedInput: 0.125 },
  "openai:gpt-5-mini*": { input: 0.25, output: 2, cachedInput: 0.025 },
  "openai:gpt-5-nano*": { input: 0.05, output: 0.4, cachedInput: 0.005 },
  "openai:gpt-4.1*": { input: 2, output: 8, cachedInput: 0.5 },
  "openai:gpt-4.1-mini*": { input: 0.4, output: 1.6, cachedInput: 0.1 },
  "openai:gpt-4.1-nano*": { input: 0.1, output: 0.4, cachedInput: 0.025 },
  "openai:gpt-4o*": { input: 2.5, output: 10, cachedInput: 1.25 },
  "openai:gpt-4o-mini*": { input: 0.15, output: 0.6, cachedInput: 0.075 },
  "openai:o3*": { input: 2, output: 8, cachedInput: 0.5 },
  "openai:o3-mini*": { input: 1.1, output: 4.4, cachedInput: 0.55 },
  "openai:o4-mini*": { input: 1.1, output: 4.4, cachedInput: 0.275 },
  "openai:o1*": { input: 15, output: 60, cachedInput: 7.5 },
  "openai:o1-mini*": { input: 1.1, output: 4.4, cachedInput: 0.55 },
  "openai:gpt-4-turbo*": { input: 10, output: 30 },
  "openai:gpt-3.5-turbo*": { input: 0.5, output: 1.5 },
  // OpenAI embedding models (input only)
  "openai:text-embedding-3-small": { input: 0.02, output: 0 },
  "openai:text-embedding-3-large": { input: 0.13, output: 0 },
  "openai:text-embedding-ada-002": { input: 0.1, output: 0 },
  // Anthropic
  "anthropic:claude-opus-4*": { input: 15, output: 75, cachedInput: 1.5, cacheWrite: 18.75 },
  "anthropic:claude-opus-4-5*": { input: 5, output: 25, cachedInput: 0.5, cacheWrite: 6.25 },
  "anthropic:claude-sonnet-4*": { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 },
  "anthropic:claude-3-7-sonnet*": { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 },
  "anthropic:claude-3-5-sonnet*": { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 },
  "anthropic:claude-haiku-4-5*": { input: 1, output: 5, cachedInput: 0.1, cacheWrite: 1.25 },
  "anthropic:claude-3-5-haiku*": { input: 0.8, output: 4, cachedInput: 0.08, cacheWrite: 1 },
  "anthropic:claude-3-haiku*": { input: 0.25, output: 1.25, cachedInput: 0.03, cacheWrite: 0.3 },
  "anthropic:claude-3-opus*": { input: 15, output: 75, cachedInput: 1.5, cacheWrite: 18.75 },
  // Models that run on the user's own hardware have no per-token price.
  "ollama:*": { input: 0, output: 0 },
  "llama:*": { input: 0, output: 0 },
};
