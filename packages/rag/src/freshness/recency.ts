import { ValidationError } from "@quintet/core";

/** The timestamps recency is read from (a stored chunk has them). */
export interface Timestamped {
  updatedAt?: number;
  createdAt?: number;
  fetchedAt?: number;
}

export interface RecencyOptions {
  /** Age at which the recency factor has halved (e.g. 30 days). */
  halfLifeMs: number;
  /** Share of the final score that comes from recency, 0..1 (default 0.3). */
  weight?: number;
  /** Which timestamp is the content's age: `auto` (default) takes updatedAt, else createdAt, else fetchedAt. */
  field?: "auto" | "updatedAt" | "createdAt" | "fetchedAt";
  now?: number;
}

/** How recency changed one item's score. */
export interface RecencyInfo {
  /** The timestamp used, if the item had one. */
  timestamp?: number;
  ageMs?: number;
  /** 2^(−age / half-life): 1 for brand new, 0.5 at one half-life; 0 when the item has no timestamp. */
  decay: number;
  /** The retrieval score scaled to 0..1 within the list. */
  relevance: number;
  /** The score before boosting. */
  baseScore: number;
}

function checkOptions(o: RecencyOptions): { halfLifeMs: number; weight: number } {
  if (!(o.halfLifeMs > 0) || !Number.isFinite(o.halfLifeMs)) {
    throw new ValidationError(`halfLifeMs must be a positive number, got ${o.halfLifeMs}`, {
      hint: "E.g. 30 days: 2592000000.",
    });
  }
  const weight = o.weight ?? 0.3;
  if (!(weight >= 0 && weight <= 1))
    throw new ValidationError(`recency weight must be in 0..1, got ${weight}`, { hint: "E.g. 0.3." });
  return { halfLifeMs: o.halfLifeMs, weight };
}

/** Exponential time decay: 2^(−age / halfLife), with ages below zero (clock skew) counted as zero. */
export function timeDecay(ageMs: number, halfLifeMs: number): number {
  return 2 ** (-Math.max(0, ageMs) / halfLifeMs);
}

function timestampOf(t: Timestamped, field: NonNullable<RecencyOptions["field"]>): number | undefined {
  const v = field === "auto" ? (t.updatedAt ?? t.createdAt ?? t.fetchedAt) : t[field];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * Re-scores ranked items by `(1 − weight) · relevance + weight · decay`, where relevance is the
 * retrieval score scaled to 0..1 within the list (divided by the best score; min–max when scores
 * can be negative) and decay halves every `halfLifeMs` of the content's age. Returns the items
 * re-sorted (stable for ties) with `score` replaced, `rank` renumbered and a `recency` record.
 * Retrieve more candidates than you need (say 3k), boost, then keep the top k.
 */
export function boostByRecency<T extends { score: number; chunk: Timestamped; rank?: number }>(
  items: readonly T[],
  options: RecencyOptions,
): Array<T & { recency: RecencyInfo }> {
  const { halfLifeMs, weight } = checkOptions(options);
  const now = options.now ?? Date.now();
  const field = options.field ?? "auto";
  if (items.length === 0) return [];
  const scores = items.map((i) => i.score);
  const max = Math.max(...scores);
  const min = Math.min(...scores);
  const relevance = (s: number) => (min >= 0 ? (max > 0 ? s / max : 1) : max > min ? (s - min) / (max - min) : 1);
  const out = items.map((item, i) => {
    const ts = timestampOf(item.chunk, field);
    const decay = ts === undefined ? 0 : timeDecay(now - ts, halfLifeMs);
    const rel = relevance(item.score);
    const info: RecencyInfo = { decay, relevance: rel, baseScore: item.score };
    if (ts !== undefined) {
      info.timestamp = ts;
      info.ageMs = Math.max(0, now - ts);
    }
    return { item, i, score: (1 - weight) * rel + weight * decay, info };
  });
  out.sort((a, b) => b.score - a.score || a.i - b.i);
  return out.map((o, r) => ({
    ...o.item,
    score: o.score,
    ...(o.item.rank !== undefined ? { rank: r + 1 } : {}),
    recency: o.info,
  }));
}
