/**
 * A byte-level BPE vocabulary in GPT-2's layout (what `tokenizer.ggml.model = "gpt2"`
 * means to llama.cpp): 256 byte tokens spelled through GPT-2's byte-to-unicode table,
 * then merges learned greedily from a small corpus, then special tokens.
 */

/** GPT-2's reversible byte -> printable code point table. */
export function gpt2ByteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  const isPrintable = new Set(printable);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    // Printable bytes stand for themselves; the rest are shifted past 255 so that no
    // token ever contains whitespace or control characters.
    table[b] = String.fromCodePoint(isPrintable.has(b) ? b : 256 + next++);
  }
  return table;
}

/** llama.cpp token attribute types as stored in `tokenizer.ggml.token_type`. */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface ByteBpeVocab {
  tokens: string[];
  tokenTypes: number[];
  /** Merge rules "left right", highest priority first. */
  merges: string[];
  /** Ids of the special tokens by their text. */
  special: Record<string, number>;
}

// The same split GPT-2 uses before BPE: contractions, letters with one leading space,
// digits, punctuation runs, whitespace.
const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Learn up to `numMerges` merges from `corpus` (most frequent adjacent pair first, ties
 * broken by the pair's text so the result is deterministic).
 */
export function buildByteBpeVocab(corpus: string, numMerges: number, specialTokens: readonly string[]): ByteBpeVocab {
  const byteToUnicode = gpt2ByteToUnicode();
  const tokens = [...byteToUnicode];
  const tokenTypes: number[] = tokens.map(() => TokenType.NORMAL);
  const known = new Set(tokens);

  const wordCounts = new Map<string, number>();
  for (const m of corpus.matchAll(PRETOKENIZE)) {
    const word = Array.from(Buffer.from(m[0], "utf8"), (b) => byteToUnicode[b]!).join("");
    wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
  }
  const words = [...wordCounts.entries()].map(([w, count]) => ({ symbols: Array.from(w), count }));

  const merges: string[] = [];
  while (merges.length < numMerges) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    let best: string | undefined;
    let bestCount = 1; // a pair seen once teaches nothing
    for (const [pair, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== undefined && pair < best)) {
        best = pair;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(" ") as [string, string];
    const merged = left + right;
    merges.push(best);
    if (!known.has(merged)) {
      known.add(merged);
      tokens.push(merged);
      tokenTypes.push(TokenType.NORMAL);
    }
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === left && w.symbols[i + 1] === right) {
          out.push(merged);
          i++;
        } else {
          out.push(w.symbols[i]!);
        }
      }
      w.symbols = out;
    }
  }

  const special: Record<string, number> = {};
  for (const s of specialTokens) {
    special[s] = tokens.length;
    tokens.push(s);
    tokenTypes.push(TokenType.CONTROL);
  }
  return { tokens, tokenTypes, merges, special };
}

/** A small built-in English corpus so the merges look like a real tokenizer's. */
export const TINY_CORPUS = `
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun and the fox runs into the forest.
A model reads tokens and predicts the next token. The tokenizer splits text into pieces that the model knows.
Quintet is an engineering stack for TypeScript: data, models, language models, retrieval, agents and serving.
Users ask questions and the assistant answers with facts from the passages it was given, citing each passage.
JSON objects have keys and values: {"name": "value", "count": 3, "ok": true, "items": [1, 2, 3]}.
In the beginning there was the word, and the word was a number: 0 1 2 3 4 5 6 7 8 9 10 100 1000.
She said that they would not go there, because it was raining, and the road was long and the night was dark.
Hello, world! How are you today? I am fine, thank you. What is the time? It is ten past nine in the morning.
`;
