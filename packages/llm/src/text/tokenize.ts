import { stem } from "./stem.js";
import { ENGLISH_STOPWORDS } from "./stopwords.js";

export interface Token {
  /** The normalised form (lower-cased, stemmed when asked). */
  term: string;
  /** The surface text as it appears in the input. */
  text: string;
  start: number;
  end: number;
}

export interface TokenizeOptions {
  /** Lower-case tokens (default true). */
  lowercase?: boolean;
  /** Drop English stopwords, or the given set (default: keep all). */
  stopwords?: boolean | ReadonlySet<string>;
  /** Apply the Porter steps 1–3 stemmer (default false). */
  stem?: boolean;
  /** Drop tokens shorter than this many characters (default 1). */
  minLength?: number;
}

// A word is letters/digits with inner apostrophes or hyphens ("don't", "state-of-the-art" stays
// whole only through its parts); a number keeps its decimal point and thousands separators.
const TOKEN_RE = /\p{N}+(?:[.,]\p{N}+)*%?|[\p{L}\p{M}][\p{L}\p{M}\p{N}]*(?:['’][\p{L}]+)?/gu;

/**
 * Splits text into word and number tokens with their offsets. Unicode-aware: letters of any
 * script count as word characters; punctuation and symbols separate tokens.
 */
export function tokenize(text: string, options: TokenizeOptions = {}): Token[] {
  const lower = options.lowercase ?? true;
  const stop =
    options.stopwords === true ? ENGLISH_STOPWORDS : options.stopwords === false ? undefined : options.stopwords;
  const minLength = options.minLength ?? 1;
  const out: Token[] = [];
  for (const m of text.matchAll(TOKEN_RE)) {
    const surface = m[0];
    let term = lower ? surface.toLowerCase() : surface;
    term = term.replace(/['’]s$/, "").replace(/’/g, "'");
    if (term.length < minLength) continue;
    if (stop?.has(term.toLowerCase())) continue;
    if (options.stem) term = stem(term);
    out.push({ term, text: surface, start: m.index, end: m.index + surface.length });
  }
  return out;
}

/** The normalised terms of {@link tokenize}. */
export function terms(text: string, options: TokenizeOptions = {}): string[] {
  return tokenize(text, options).map((t) => t.term);
}

/**
 * Content words: lower-cased, stopwords removed, stemmed. The unit the lexical support
 * scores and the TF-IDF vectoriser count.
 */
export function contentTerms(text: string): string[] {
  return terms(text, { stopwords: true, stem: true });
}

/**
 * Numbers in the text, normalised so that "1,200", "1200" and "1200.0" compare equal
 * ("12%" stays distinct from "12").
 */
export function extractNumbers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?<![\p{L}\p{N}])[-−]?\p{N}+(?:[.,]\p{N}+)*%?/gu)) {
    let raw = m[0].replace("−", "-");
    const pct = raw.endsWith("%");
    if (pct) raw = raw.slice(0, -1);
    // A comma followed by exactly three digits is a thousands separator; otherwise treat it as a decimal comma.
    const normalized = /,\d{3}(?!\d)/.test(raw) ? raw.replace(/,/g, "") : raw.replace(",", ".");
    const n = Number(normalized);
    out.push(Number.isFinite(n) ? `${n}${pct ? "%" : ""}` : m[0]);
  }
  return out;
}

/** Character n-grams of a word, padded with `_` on both ends so prefixes and suffixes are distinct. */
export function charNgrams(word: string, n: number): string[] {
  const padded = `_${word}_`;
  if (padded.length <= n) return [padded];
  const out: string[] = [];
  for (let i = 0; i + n <= padded.length; i++) out.push(padded.slice(i, i + n));
  return out;
}

/**
 * Normalises a short answer for comparison: lower case, no articles, no punctuation,
 * collapsed whitespace, numbers canonicalised. "The answer is 1,000." and "answer is 1000"
 * normalise to the same string.
 */
export function normalizeAnswer(text: string): string {
  let s = text.normalize("NFKC").toLowerCase();
  s = s.replace(/\p{N}+(?:[.,]\p{N}+)*/gu, (m) => extractNumbers(m)[0] ?? m);
  s = s.replace(/[^\p{L}\p{N}\s.%-]/gu, " ").replace(/(?<!\p{N})[.-]|[.-](?!\p{N})/gu, " ");
  s = s.replace(/\b(a|an|the)\b/g, " ");
  return s.replace(/\s+/g, " ").trim();
}
