import { countTokens } from "@quintet/llm";

/**
 * Counts tokens with tiktoken for `model` (cl100k for embedding models). Splitting counts the same
 * strings more than once (a span, then the chunk built from it), so counts are memoised for the
 * most recent texts.
 */
export class TokenCounter {
  private cache = new Map<string, number>();
  constructor(
    readonly model = "text-embedding-3-small",
    private readonly maxEntries = 20_000,
  ) {}

  count(text: string): number {
    if (text.length === 0) return 0;
    let n = this.cache.get(text);
    if (n === undefined) {
      n = countTokens(text, this.model);
      // Dropping everything at the cap is crude but cheap, and keeps memory bounded on huge corpora.
      if (this.cache.size >= this.maxEntries) this.cache = new Map();
      this.cache.set(text, n);
    }
    return n;
  }
}
