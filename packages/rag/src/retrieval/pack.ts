import { ValidationError } from "@quintet/core";
import { countTokens } from "@quintet/llm";

/** Something to put in a model's context: a retrieved chunk's text with where it came from. */
export interface PackItem {
  id: string;
  text: string;
  title?: string;
  uri?: string;
}

export interface PackOptions {
  /** Most tokens of the packed context (the query is counted against it when given). */
  budgetTokens: number;
  /** The question that will sit next to the context; its tokens are reserved from the budget. */
  query?: string;
  /** Tokenizer model (default gpt-4o-mini, o200k). */
  model?: string;
  /** Drop an item whose word 5-shingles overlap an earlier item's this much (Jaccard or containment; default 0.8; 1 = exact only). */
  dedupThreshold?: number;
  /** How each item is written; default `[n] title (uri)\ntext`. */
  format?: (item: PackItem, marker: number) => string;
  separator?: string;
  /** Cut the first item that does not fit to the space left (at a sentence or word boundary) instead of skipping it. */
  truncate?: boolean;
}

export interface PackedContext {
  text: string;
  tokens: number;
  /** Items in the context with their citation marker ([1], [2] …). */
  included: Array<{ id: string; marker: number; tokens: number; truncated: boolean }>;
  dropped: Array<{ id: string; reason: "duplicate" | "budget"; duplicateOf?: string }>;
}

function shingles(text: string, n = 5): Set<string> {
  const w = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const out = new Set<string>();
  if (w.length < n) {
    if (w.length) out.add(w.join(" "));
    return out;
  }
  for (let i = 0; i + n <= w.length; i++) out.add(w.slice(i, i + n).join(" "));
  return out;
}

/** max(Jaccard, containment of the smaller in the larger) between two shingle sets. */
function overlap(a: Set<string>, b: Set<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let inter = 0;
  const [s, l] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of s) if (l.has(x)) inter++;
  return Math.max(inter / (a.size + b.size - inter), inter / s.size);
}

const defaultFormat = (item: PackItem, marker: number) =>
  `${`[${marker}] ${item.title ?? ""}${item.uri ? ` (${item.uri})` : ""}`.trimEnd()}\n${item.text.trim()}`;

/**
 * Packs ranked items into a context under a token budget: in rank order, skipping near-duplicates
 * (overlapping chunks, the same passage from two sources), and stopping items that do not fit
 * (or truncating one, when asked). Each included item gets a citation marker. Throws when the
 * query alone does not fit the budget.
 */
export function packContext(items: readonly PackItem[], options: PackOptions): PackedContext {
  const model = options.model ?? "gpt-4o-mini";
  if (!Number.isInteger(options.budgetTokens) || options.budgetTokens < 1) {
    throw new ValidationError(`budgetTokens must be a positive integer, got ${options.budgetTokens}`, {
      hint: "E.g. 3000.",
    });
  }
  const sep = options.separator ?? "\n\n";
  const sepTokens = countTokens(sep, model);
  const queryTokens = options.query ? countTokens(options.query, model) : 0;
  if (queryTokens >= options.budgetTokens) {
    throw new ValidationError(
      `the query is ${queryTokens} tokens, over the ${options.budgetTokens}-token context budget`,
      {
        hint: "Shorten the query or raise the budget.",
        details: { queryTokens, budgetTokens: options.budgetTokens },
      },
    );
  }
  let left = options.budgetTokens - queryTokens;
  const threshold = options.dedupThreshold ?? 0.8;
  const format = options.format ?? defaultFormat;
  const kept: Array<{ id: string; sh: Set<string>; exact: string }> = [];
  const parts: string[] = [];
  const out: PackedContext = { text: "", tokens: 0, included: [], dropped: [] };
  let truncatedOne = false;
  for (const item of items) {
    const exact = item.text.replace(/\s+/g, " ").trim().toLowerCase();
    const sh = shingles(item.text);
    const dup = kept.find((k) => k.exact === exact || (threshold < 1 && overlap(k.sh, sh) >= threshold));
    if (dup) {
      out.dropped.push({ id: item.id, reason: "duplicate", duplicateOf: dup.id });
      continue;
    }
    const marker = out.included.length + 1;
    let piece = format(item, marker);
    let n = countTokens(piece, model) + (parts.length ? sepTokens : 0);
    let truncated = false;
    if (n > left && options.truncate && !truncatedOne) {
      const head = format({ ...item, text: "" }, marker);
      const room = left - countTokens(head, model) - (parts.length ? sepTokens : 0) - 2;
      if (room > 16) {
        const cut = cutToTokens(item.text, room, model);
        if (cut) {
          piece = format({ ...item, text: `${cut} …` }, marker);
          n = countTokens(piece, model) + (parts.length ? sepTokens : 0);
          truncated = true;
          truncatedOne = true;
        }
      }
    }
    if (n > left) {
      out.dropped.push({ id: item.id, reason: "budget" });
      continue;
    }
    parts.push(piece);
    left -= n;
    out.included.push({ id: item.id, marker, tokens: n, truncated });
    kept.push({ id: item.id, sh, exact });
  }
  out.text = parts.join(sep);
  out.tokens = out.text ? countTokens(out.text, model) : 0;
  return out;
}

/** The longest prefix of `text` ending at a sentence (else word) boundary within `max` tokens. */
function cutToTokens(text: string, max: number, model: string): string | undefined {
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (countTokens(text.slice(0, mid), model) <= max) lo = mid;
    else hi = mid - 1;
  }
  const prefix = text.slice(0, lo);
  const sentence = Math.max(prefix.lastIndexOf(". "), prefix.lastIndexOf(".\n"));
  if (sentence > lo / 2) return prefix.slice(0, sentence + 1);
  const word = prefix.lastIndexOf(" ");
  return word > 0 ? prefix.slice(0, word) : undefined;
}
