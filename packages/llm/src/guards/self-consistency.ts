import { ValidationError } from "@quintet/core";
import type { Embedder } from "../embeddings/types.js";
import { cosineSimilarity } from "../embeddings/types.js";
import { extractFinalAnswer } from "../prompts/prompt.js";
import type { SpanRunner } from "../providers/traced.js";
import type { GenerateRequest, GenerateResult, LlmClient } from "../providers/types.js";
import { normalizeAnswer } from "../text/tokenize.js";
import { type GuardVerdict, runGuard } from "./verdict.js";

export interface SelfConsistencyOptions {
  llm: LlmClient;
  request: GenerateRequest;
  /** Number of samples (default 5, at most 20). */
  k?: number;
  /** Sampling temperature; must be > 0 for samples to differ (default 0.7). */
  temperature?: number;
  /** Pulls the answer out of a completion (default: the "Final answer:" line, else the whole text). */
  extract?: (text: string) => string;
  /** Merge answers whose embeddings are at least `similarityThreshold` cosine-similar. */
  embedder?: Embedder;
  similarityThreshold?: number;
  /** Samples in flight at once (default 3). */
  concurrency?: number;
  /** Agreement below this fails the verdict (default 0.5). */
  minAgreement?: number;
  /** Runs the samples in a `guard` span and records the verdict as `guard.*` attributes. */
  tracer?: SpanRunner;
}

export interface ConsistencySample {
  text: string;
  answer: string;
  normalized: string;
  cluster: number;
  result: GenerateResult;
}

export interface AnswerCluster {
  /** The first-seen raw answer of the cluster (its representative). */
  answer: string;
  normalized: string;
  size: number;
  members: number[];
}

export interface SelfConsistencyResult {
  samples: ConsistencySample[];
  clusters: AnswerCluster[];
  /** The largest cluster's representative answer (ties: the one seen first). */
  majority: string;
  /** Share of samples in the largest cluster, 0..1. */
  agreement: number;
  usage: { inputTokens: number; outputTokens: number; totalTokens: number; costUsd: number | undefined };
  /** Passed when `agreement` ≥ `minAgreement`; `score` is the agreement, `reasons` the split of answers when it failed. */
  verdict: GuardVerdict;
}

function defaultExtract(text: string): string {
  const r = extractFinalAnswer(text);
  return r.found ? r.answer : text.trim();
}

/**
 * Self-consistency (Wang et al., 2022): sample k answers at a non-zero temperature, cluster
 * them (equal after normalisation, or — with an embedder — semantically close), and report the
 * majority answer with the share of samples that agree. Low agreement is a useful hallucination
 * signal; high agreement is not proof of correctness (a model can be consistently wrong).
 */
export async function selfConsistency(options: SelfConsistencyOptions): Promise<SelfConsistencyResult> {
  const k = options.k ?? 5;
  const temperature = options.temperature ?? 0.7;
  const minAgreement = options.minAgreement ?? 0.5;
  if (!(minAgreement >= 0 && minAgreement <= 1)) {
    throw new ValidationError(`minAgreement must be in 0..1, got ${minAgreement}`, { hint: "The default is 0.5." });
  }
  if (!Number.isInteger(k) || k < 2 || k > 20) {
    throw new ValidationError(`self-consistency k must be an integer in 2..20, got ${k}`, { hint: "Use k = 5 to 10." });
  }
  if (!(temperature > 0 && temperature <= 2)) {
    throw new ValidationError(`self-consistency needs a temperature in (0, 2], got ${temperature}`, {
      hint: "Sampling at temperature 0 returns the same answer k times; use 0.5–1.0.",
    });
  }
  return runGuard(
    options.tracer,
    "self-consistency",
    () => sample(options, k, temperature, minAgreement),
    (r) => ({ verdict: r.verdict, metrics: { samples: k, clusters: r.clusters.length, majority: r.majority } }),
  );
}

async function sample(
  options: SelfConsistencyOptions,
  k: number,
  temperature: number,
  minAgreement: number,
): Promise<SelfConsistencyResult> {
  const extract = options.extract ?? defaultExtract;
  const results: GenerateResult[] = new Array(k);
  let next = 0;
  const worker = async () => {
    while (next < k) {
      const i = next++;
      options.request.signal?.throwIfAborted();
      results[i] = await options.llm.generate({
        ...options.request,
        temperature,
        ...(options.request.seed !== undefined ? { seed: options.request.seed + i } : {}),
        metadata: { ...options.request.metadata, "guard.name": "self-consistency", "guard.sample": String(i) },
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 3, k) }, worker));

  const samples: ConsistencySample[] = results.map((result) => {
    const answer = extract(result.text);
    return { text: result.text, answer, normalized: normalizeAnswer(answer), cluster: -1, result };
  });
  const clusters: AnswerCluster[] = [];
  const byNorm = new Map<string, number>();
  samples.forEach((s, i) => {
    let c = byNorm.get(s.normalized);
    if (c === undefined) {
      c = clusters.length;
      clusters.push({ answer: s.answer, normalized: s.normalized, size: 0, members: [] });
      byNorm.set(s.normalized, c);
    }
    clusters[c]!.size++;
    clusters[c]!.members.push(i);
    s.cluster = c;
  });
  let merged = clusters;
  if (options.embedder && clusters.length > 1) {
    const vecs = await options.embedder.embed(clusters.map((c) => c.answer));
    const threshold = options.similarityThreshold ?? 0.9;
    // Greedy single pass in first-seen order: each cluster joins the earliest kept cluster it is close to.
    const kept: number[] = [];
    const target = new Array<number>(clusters.length);
    clusters.forEach((_, i) => {
      const j = kept.find((kIdx) => cosineSimilarity(vecs[kIdx]!, vecs[i]!) >= threshold);
      if (j === undefined) {
        kept.push(i);
        target[i] = i;
      } else target[i] = j;
    });
    const remap = new Map(kept.map((idx, n) => [idx, n]));
    merged = kept.map((idx) => ({ ...clusters[idx]!, size: 0, members: [] }));
    clusters.forEach((c, i) => {
      const m = merged[remap.get(target[i]!)!]!;
      m.size += c.size;
      m.members.push(...c.members);
    });
    for (const m of merged) m.members.sort((a, b) => a - b);
    samples.forEach((s) => {
      s.cluster = remap.get(target[s.cluster]!)!;
    });
  }
  let top = merged[0]!;
  for (const c of merged) if (c.size > top.size) top = c;
  const cost = results.every((r) => r.costUsd !== undefined) ? results.reduce((a, r) => a + r.costUsd!, 0) : undefined;
  const agreement = top.size / k;
  const passed = agreement >= minAgreement;
  const verdict: GuardVerdict = {
    guard: "self-consistency",
    passed,
    score: agreement,
    reasons: passed
      ? []
      : [
          `${top.size} of ${k} samples agree (${agreement.toFixed(2)} < ${minAgreement}); answers: ${merged
            .map((c) => `"${c.answer.length > 40 ? `${c.answer.slice(0, 39)}…` : c.answer}" ×${c.size}`)
            .join(", ")}`,
        ],
  };
  return {
    samples,
    clusters: merged,
    majority: top.answer,
    agreement,
    verdict,
    usage: {
      inputTokens: results.reduce((a, r) => a + r.usage.inputTokens, 0),
      outputTokens: results.reduce((a, r) => a + r.usage.outputTokens, 0),
      totalTokens: results.reduce((a, r) => a + r.usage.totalTokens, 0),
      costUsd: cost,
    },
  };
}
