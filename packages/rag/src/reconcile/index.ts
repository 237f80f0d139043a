/** Multi-source reconciliation: near-duplicates (MinHash + LSH), conflicting facts, resolution, provenance. */
export {
  type Agreement,
  type Claim,
  type Conflict,
  type ConflictOptions,
  detectConflicts,
} from "./conflicts.js";
export { type DuplicateCluster, type DuplicatePair, findNearDuplicates, type NearDuplicateOptions } from "./dedup.js";
export { extractFacts, type Fact, type FactKind } from "./facts.js";
export { candidateProbability, LshIndex, lshParams } from "./lsh.js";
export { estimateJaccard, fmix32, hash32, jaccard, MinHasher, type MinHasherOptions, wordShingles } from "./minhash.js";
export {
  type PassageProvenance,
  type ReconcileOptions,
  type ReconcileResult,
  type Resolution,
  type ResolutionRule,
  reconcile,
  resolveConflicts,
} from "./reconcile.js";
export { priorityOf, type SourcedPassage, timeOf } from "./types.js";
