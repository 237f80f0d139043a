import { ValidationError } from "@quintet/core";
import { LshIndex, lshParams } from "./lsh.js";
import { estimateJaccard, jaccard, MinHasher, type MinHasherOptions, wordShingles } from "./minhash.js";

export interface NearDuplicateOptions extends MinHasherOptions {
  /** Jaccard similarity of word shingles at which two texts count as near-duplicates (default 0.7). */
  threshold?: number;
  /** Check candidate pairs with the exact Jaccard of their shingles (default true; false trusts the estimate). */
  verify?: boolean;
  /**
   * Below this many items every pair is compared exactly and LSH is skipped (default 200): a
   * retrieved passage set is small, and banding trades a few missed pairs for speed.
   */
  exhaustiveBelow?: number;
}

/** Two near-duplicate items and their similarity. */
export interface DuplicatePair {
  a: string;
  b: string;
  /** Exact shingle Jaccard when verified, else the MinHash estimate. */
  similarity: number;
}

/** A group of items that are near-duplicates of one another (connected through pairs). */
export interface DuplicateCluster {
  ids: string[];
  pairs: DuplicatePair[];
}

/**
 * Finds near-duplicate texts with MinHash + LSH banding (bands chosen for the threshold), then
 * verifies candidates by exact shingle Jaccard and groups them with union–find. Items with no
 * near-duplicate are not listed.
 */
export function findNearDuplicates(
  items: ReadonlyArray<{ id: string; text: string }>,
  options: NearDuplicateOptions = {},
): { clusters: DuplicateCluster[]; pairs: DuplicatePair[]; candidates: number } {
  const threshold = options.threshold ?? 0.7;
  if (!(threshold > 0 && threshold < 1))
    throw new ValidationError(`threshold must be in (0, 1), got ${threshold}`, { hint: "E.g. 0.7." });
  const hasher = new MinHasher(options);
  const exhaustive = items.length < (options.exhaustiveBelow ?? 200);
  // Candidates are verified exactly, so a false positive costs one comparison while a false
  // negative loses a duplicate: weigh misses higher than the default banding does.
  const { bands, rows } = lshParams(threshold, hasher.numPerm, { falsePositive: 0.25, falseNegative: 0.75 });
  const lsh = new LshIndex(bands, rows);
  const shingles = new Map<string, Set<string>>();
  const sigs = new Map<string, Uint32Array>();
  for (const it of items) {
    if (shingles.has(it.id))
      throw new ValidationError(`duplicate id ${it.id}`, { hint: "Give every item a unique id." });
    const sh = wordShingles(it.text, hasher.shingleSize);
    shingles.set(it.id, sh);
    if (sh.size === 0) continue;
    const sig = hasher.signatureOf(sh);
    sigs.set(it.id, sig);
    if (!exhaustive) lsh.add(it.id, sig);
  }
  let candidates: Array<[string, string]>;
  if (exhaustive) {
    const ids = [...sigs.keys()];
    candidates = [];
    for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) candidates.push([ids[i]!, ids[j]!]);
  } else candidates = lsh.candidatePairs();
  const pairs: DuplicatePair[] = [];
  for (const [a, b] of candidates) {
    const sim =
      options.verify === false
        ? estimateJaccard(sigs.get(a)!, sigs.get(b)!)
        : jaccard(shingles.get(a)!, shingles.get(b)!);
    if (sim >= threshold) pairs.push({ a, b, similarity: sim });
  }
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  for (const p of pairs) {
    const ra = find(p.a);
    const rb = find(p.b);
    if (ra !== rb) parent.set(rb, ra);
  }
  const order = new Map(items.map((it, i) => [it.id, i]));
  const groups = new Map<string, DuplicateCluster>();
  for (const p of pairs) {
    const root = find(p.a);
    let g = groups.get(root);
    if (!g) groups.set(root, (g = { ids: [], pairs: [] }));
    g.pairs.push(p);
    for (const id of [p.a, p.b]) if (!g.ids.includes(id)) g.ids.push(id);
  }
  const clusters = [...groups.values()];
  for (const c of clusters) c.ids.sort((x, y) => order.get(x)! - order.get(y)!);
  clusters.sort((x, y) => order.get(x.ids[0]!)! - order.get(y.ids[0]!)!);
  return { clusters, pairs, candidates: candidates.length };
}
