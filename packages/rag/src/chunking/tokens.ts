import { countTokens } from "@quintet/llm";

/** Counts tokens with tiktoken for `model` (cl100k for embedding models); cached per text for repeated pieces. */
export class TokenCounter {
  private readonly cache = new Map<string, number>();
  constructor(readonly model = "text-embedding-3-small") {}

  count(text: string): number {
    if (text.length === 0) return 0;
    // Short pieces repeat (separators, list markers); long ones rarely do and would bloat the cache.
    if (text.length > 64) return countTokens(text, this.model);
    let n = this.cache.get(text);
    if (n === undefined) {
      n = countTokens(text, this.model);
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(text, n);
    }
    return n;
  }
}
