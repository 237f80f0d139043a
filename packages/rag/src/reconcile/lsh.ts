import { ValidationError } from "@quintet/core";

/** Probability that two items of Jaccard similarity s share at least one band: 1 − (1 − sʳ)ᵇ. */
export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - (1 - s ** rows) ** bands;
}

function integrate(f: (x: number) => number, a: number, b: number, steps = 200): number {
  if (b <= a) return 0;
  const h = (b - a) / steps;
  let sum = 0.5 * (f(a) + f(b));
  for (let i = 1; i < steps; i++) sum += f(a + i * h);
  return sum * h;
}

/**
 * The banding (b bands of r rows, b·r ≤ numPerm) that best separates pairs above `threshold`
 * from those below: it minimises the weighted area of false positives (pairs below the threshold
 * that become candidates) plus false negatives (pairs above it that do not).
 */
const paramCache = new Map<string, { bands: number; rows: number }>();

export function lshParams(
  threshold: number,
  numPerm: number,
  weights: { falsePositive?: number; falseNegative?: number } = {},
): { bands: number; rows: number } {
  const cacheKey = `${threshold}/${numPerm}/${weights.falsePositive ?? ""}/${weights.falseNegative ?? ""}`;
  const hit = paramCache.get(cacheKey);
  if (hit) return { ...hit };
  if (!(threshold > 0 && threshold < 1))
    throw new ValidationError(`threshold must be in (0, 1), got ${threshold}`, { hint: "E.g. 0.8." });
  const wfp = weights.falsePositive ?? 0.5;
  const wfn = weights.falseNegative ?? 0.5;
  let best = { bands: 1, rows: numPerm, err: Number.POSITIVE_INFINITY };
  for (let b = 1; b <= numPerm; b++) {
    const maxR = Math.floor(numPerm / b);
    for (let r = 1; r <= maxR; r++) {
      const fp = integrate((s) => candidateProbability(s, b, r), 0, threshold);
      const fn = integrate((s) => 1 - candidateProbability(s, b, r), threshold, 1);
      const err = wfp * fp + wfn * fn;
      if (err < best.err) best = { bands: b, rows: r, err };
    }
  }
  paramCache.set(cacheKey, { bands: best.bands, rows: best.rows });
  return { bands: best.bands, rows: best.rows };
}

/**
 * Locality-sensitive hashing over MinHash signatures: each signature is cut into bands of `rows`
 * values, and items whose band values are identical land in the same bucket. Only items sharing
 * a bucket are compared, so finding near-duplicates costs about linear time instead of all pairs.
 */
export class LshIndex {
  private readonly buckets: Array<Map<string, string[]>>;
  private readonly ids = new Set<string>();

  constructor(
    readonly bands: number,
    readonly rows: number,
  ) {
    if (!Number.isInteger(bands) || bands < 1 || !Number.isInteger(rows) || rows < 1)
      throw new ValidationError(`bands and rows must be positive integers (got ${bands}×${rows})`, {
        hint: "Use lshParams(threshold, numPerm).",
      });
    this.buckets = Array.from({ length: bands }, () => new Map());
  }

  private key(sig: Uint32Array, band: number): string {
    const start = band * this.rows;
    let k = "";
    for (let i = start; i < start + this.rows; i++) k += `${sig[i]!.toString(36)},`;
    return k;
  }

  add(id: string, sig: Uint32Array): void {
    if (sig.length < this.bands * this.rows)
      throw new ValidationError(`signature of ${id} has ${sig.length} values, need ${this.bands * this.rows}`, {
        hint: "Make bands·rows ≤ numPerm.",
      });
    if (this.ids.has(id))
      throw new ValidationError(`id ${id} is already in the LSH index`, { hint: "Ids are unique." });
    this.ids.add(id);
    for (let b = 0; b < this.bands; b++) {
      const k = this.key(sig, b);
      const list = this.buckets[b]!.get(k);
      if (list) list.push(id);
      else this.buckets[b]!.set(k, [id]);
    }
  }

  /** Ids sharing at least one bucket with the signature. */
  query(sig: Uint32Array): Set<string> {
    const out = new Set<string>();
    for (let b = 0; b < this.bands; b++) for (const id of this.buckets[b]!.get(this.key(sig, b)) ?? []) out.add(id);
    return out;
  }

  /** Every candidate pair (each once, ids in insertion order within a pair). */
  candidatePairs(): Array<[string, string]> {
    const seen = new Set<string>();
    const out: Array<[string, string]> = [];
    for (const band of this.buckets) {
      for (const list of band.values()) {
        for (let i = 0; i < list.length; i++) {
          for (let j = i + 1; j < list.length; j++) {
            const k = `${list[i]}\u0000${list[j]}`;
            if (!seen.has(k)) {
              seen.add(k);
              out.push([list[i]!, list[j]!]);
            }
          }
        }
      }
    }
    return out;
  }
}
