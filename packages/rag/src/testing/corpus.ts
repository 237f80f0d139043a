import { createDocument } from "../documents/create.js";
import type { Document } from "../documents/types.js";

/** Topic vocabularies for generated test corpora. */
export const TOPICS: Record<string, string[]> = {
  astronomy: [
    "telescope",
    "galaxy",
    "orbit",
    "nebula",
    "planet",
    "comet",
    "stellar",
    "redshift",
    "asteroid",
    "eclipse",
  ],
  cooking: ["recipe", "oven", "garlic", "simmer", "flour", "butter", "saucepan", "roast", "seasoning", "dough"],
  finance: ["invoice", "ledger", "dividend", "audit", "equity", "budget", "interest", "refund", "payroll", "liquidity"],
  medicine: [
    "vaccine",
    "antibody",
    "dosage",
    "clinical",
    "symptom",
    "diagnosis",
    "therapy",
    "pathogen",
    "immune",
    "trial",
  ],
  sailing: ["harbor", "anchor", "mainsail", "rudder", "keel", "starboard", "regatta", "mooring", "tide", "compass"],
};
const FILLER = [
  "the",
  "a",
  "with",
  "and",
  "for",
  "about",
  "during",
  "after",
  "this",
  "report",
  "notes",
  "describes",
  "every",
  "team",
  "week",
];

/** Deterministic pseudo-random numbers (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A sentence mostly about one topic. */
export function topicSentence(topic: string, r: () => number, words = 12): string {
  const vocab = TOPICS[topic]!;
  const out: string[] = [];
  for (let i = 0; i < words; i++)
    out.push(r() < 0.6 ? vocab[Math.floor(r() * vocab.length)]! : FILLER[Math.floor(r() * FILLER.length)]!);
  const s = out.join(" ");
  return `${s[0]!.toUpperCase()}${s.slice(1)}.`;
}

/** `n` documents spread over the topics, with `topic` metadata and updatedAt = index days after 2024-01-01. */
export function topicCorpus(
  n: number,
  seed = 7,
  options: { sentences?: number; access?: (i: number, topic: string) => string[] } = {},
): Document[] {
  const r = rng(seed);
  const topics = Object.keys(TOPICS);
  return Array.from({ length: n }, (_, i) => {
    const topic = topics[i % topics.length]!;
    const content = Array.from({ length: options.sentences ?? 4 }, () => topicSentence(topic, r)).join(" ");
    return createDocument({
      source: { kind: "inline", name: "gen", uri: `mem:${i}`, key: `doc-${i}` },
      title: `${topic} note ${i}`,
      content,
      metadata: { topic, n: i },
      updatedAt: Date.UTC(2024, 0, 1) + i * 86_400_000,
      fetchedAt: 0,
      access: options.access?.(i, topic) ?? ["public"],
    });
  });
}
