import { ValidationError } from "@quintet/core";

/** 32-bit FNV-1a of a string (UTF-16 code units), then a murmur3 finaliser for avalanche. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** murmur3's finaliser: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Word k-shingles of a text: lower-cased letter/digit runs joined k at a time. A text shorter
 * than k words is one shingle, so it still has a signature.
 */
export function wordShingles(text: string, k = 3): Set<string> {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+(?:[.,]\p{N}+)*/gu) ?? [];
  const out = new Set<string>();
  if (words.length === 0) return out;
  if (words.length < k) {
    out.add(words.join(" "));
    return out;
  }
  for (let i = 0; i + k <= words.length; i++) out.add(words.slice(i, i + k).join(" "));
  return out;
}

/** Exact Jaccard similarity of two sets (1 for two empty sets). */
export function jaccard<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  const [s, l] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of s) if (l.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

export interface MinHasherOptions {
  /** Hash functions (signature length); default 128. Error of the Jaccard estimate ≈ 1/√n. */
  numPerm?: number;
  /** Words per shingle (default 3). */
  shingleSize?: number;
  seed?: number;
}

/**
 * MinHash signatures: for each of `numPerm` seeded hash functions, the minimum hash over a text's
 * shingles. The share of positions where two signatures agree is an unbiased estimate of the
 * Jaccard similarity of the shingle sets. Hash function i is `fmix32(h ⊕ seedᵢ)` over the
 * shingle's 32-bit hash, a standard substitute for random permutations.
 */
export class MinHasher {
  readonly numPerm: number;
  readonly shingleSize: number;
  private readonly seeds: Uint32Array;

  constructor(options: MinHasherOptions = {}) {
    this.numPerm = options.numPerm ?? 128;
    this.shingleSize = options.shingleSize ?? 3;
    if (!Number.isInteger(this.numPerm) || this.numPerm < 4 || this.numPerm > 4096)
      throw new ValidationError(`numPerm must be an integer in 4..4096, got ${this.numPerm}`, { hint: "E.g. 128." });
    if (!Number.isInteger(this.shingleSize) || this.shingleSize < 1)
      throw new ValidationError(`shingleSize must be a positive integer, got ${this.shingleSize}`, { hint: "E.g. 3." });
    this.seeds = new Uint32Array(this.numPerm);
    // splitmix32-style sequence: distinct, well-spread seeds from one number.
    let x = (options.seed ?? 1) >>> 0;
    for (let i = 0; i < this.numPerm; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      this.seeds[i] = fmix32(x);
    }
  }

  /** The signature of a text (all 0xffffffff for a text without words). */
  signature(text: string): Uint32Array {
    return this.signatureOf(wordShingles(text, this.shingleSize));
  }

  /** The signature of a set of shingles. */
  signatureOf(shingles: Iterable<string>): Uint32Array {
    const sig = new Uint32Array(this.numPerm).fill(0xffffffff);
    for (const s of shingles) {
      const h = hash32(s);
      for (let i = 0; i < this.numPerm; i++) {
        const v = fmix32(h ^ this.seeds[i]!);
        if (v < sig[i]!) sig[i] = v;
      }
    }
    return sig;
  }
}

/** Estimated Jaccard similarity: the share of equal signature positions. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length)
    throw new ValidationError(`signatures differ in length (${a.length} vs ${b.length})`, {
      hint: "Compare signatures made by the same MinHasher.",
    });
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}
