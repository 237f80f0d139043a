import { QuintetError, ValidationError, withSpan } from "@quintet/core";
import {
  type AbstainThresholds,
  type CitationReport,
  checkCitations,
  type GuardVerdict,
  groundedAnswerPrompt,
  type LlmClient,
  recordGuardVerdict,
  type SpanRunner,
  shouldAbstain,
  type Usage,
} from "@quintet/llm";
import { type LiveContextItem, type LiveSource, queryLiveSources } from "../freshness/live.js";
import { boostByRecency, type RecencyOptions } from "../freshness/recency.js";
import { type TtlPolicy, ttlFilter } from "../freshness/ttl.js";
import type { Filter, Principal } from "../index/filter.js";
import type { Conflict } from "../reconcile/conflicts.js";
import { type PassageProvenance, type ReconcileOptions, type Resolution, reconcile } from "../reconcile/reconcile.js";
import type { SourcedPassage } from "../reconcile/types.js";
import { packContext } from "../retrieval/pack.js";
import type { RetrieveOptions, Retriever } from "../retrieval/retriever.js";
import { type ExtractiveOptions, extractiveAnswer } from "./extractive.js";
import { type AnswerPassage, passagesFromLive, passagesFromRetrieval } from "./passages.js";

/** The sentence an answer consists of when the evidence does not support one. */
export const ABSTAIN_TEXT = "I don't know based on the provided passages.";

export interface AnswerOptions {
  /** Retrieves the passages; or pass `passages` you retrieved yourself. */
  retriever?: Retriever;
  /** Who is asking (required with a retriever): only chunks they may see are used. */
  access?: Principal;
  passages?: AnswerPassage[];
  /** Passages to answer from (default 6). */
  k?: number;
  /** Candidates retrieved before recency boosting and reconciliation (default 3k). */
  candidates?: number;
  filter?: Filter;
  mode?: RetrieveOptions["mode"];
  rerank?: RetrieveOptions["rerank"];
  /** Sources whose documents expire: expired chunks are filtered out inside the search. */
  ttl?: TtlPolicy[];
  /** Blend retrieval scores with the content's age. */
  recency?: RecencyOptions;
  /** Queried now; their results enter the context with their timestamps. */
  live?: LiveSource[];
  liveTimeoutMs?: number;
  /** Near-duplicates and conflicts across sources (default on; false to skip). */
  reconcile?: boolean | ReconcileOptions;
  /** Generates the answer; without one the answer is extractive (quoted sentences, each cited). */
  llm?: LlmClient;
  /** An LLM that judges borderline citations (true: the answering LLM). */
  judge?: LlmClient | boolean;
  /** Context budget in tokens (default 3000). */
  budgetTokens?: number;
  /** When the evidence or the citations are weak: replace the answer by an abstention (default) or only flag it. */
  onWeakEvidence?: "abstain" | "flag";
  thresholds?: AbstainThresholds;
  /** Lexical support a cited sentence needs (default 0.6). */
  minSupport?: number;
  extractive?: ExtractiveOptions;
  tracer?: SpanRunner;
  signal?: AbortSignal;
}

/** A passage the answer had in its context, with its citation number. */
export interface AnswerSource {
  marker: number;
  id: string;
  title: string;
  uri?: string;
  source: string;
  kind: "indexed" | "live";
  /** Live data: what it is as of. Indexed: when the content last changed, if known. */
  timestamp?: number;
  /** Cited by at least one sentence of the answer. */
  cited: boolean;
  provenance?: PassageProvenance;
}

export interface AnswerResult {
  question: string;
  answer: string;
  mode: "llm" | "extractive";
  abstained: boolean;
  /** The model's (or the picker's) answer before an abstention replaced it. */
  draft?: string;
  sources: AnswerSource[];
  citations: CitationReport;
  verdicts: { citations: GuardVerdict; abstention: GuardVerdict };
  /** Why the answer abstained or was flagged. */
  reasons: string[];
  /** Disagreements between sources among the passages, and how each was settled. */
  conflicts: Conflict[];
  resolutions: Resolution[];
  /** Passages left out as near-duplicates or superseded copies. */
  dropped: Array<{ passageId: string; keptInstead: string; reason: string }>;
  live: { items: LiveContextItem[]; errors: Array<{ source: string; message: string }> };
  model?: string;
  usage?: Usage;
  costUsd?: number;
  timings: Record<string, number>;
}

const toSourced = (p: AnswerPassage): SourcedPassage => ({
  id: p.id,
  text: p.text,
  title: p.title,
  ...(p.documentId ? { documentId: p.documentId } : {}),
  source: { name: p.source.name, kind: p.source.kind, priority: p.source.priority, ...(p.uri ? { uri: p.uri } : {}) },
  ...(p.updatedAt !== undefined ? { updatedAt: p.updatedAt } : {}),
  ...(p.fetchedAt !== undefined ? { fetchedAt: p.fetchedAt } : {}),
});

function conflictNotes(
  conflicts: readonly Conflict[],
  resolutions: readonly Resolution[],
  marker: Map<string, number>,
) {
  const notes: string[] = [];
  for (const c of conflicts) {
    const r = resolutions.find((x) => x.conflictId === c.id);
    const side = (id: string) => (marker.has(id) ? `[${marker.get(id)}]` : undefined);
    const claims = c.claims.map((cl) => ({ ...cl, m: side(cl.passageId) })).filter((cl) => cl.m);
    if (claims.length < 2) continue;
    const who = claims.map((cl) => `${cl.m} (${cl.source}) says ${cl.text}`).join(", ");
    const win = r?.winner ? side(r.winner.passageId) : undefined;
    notes.push(
      win
        ? `Passages disagree on "${c.subject}": ${who}. Prefer ${win} (${r!.reason}) and mention the disagreement.`
        : `Passages disagree on "${c.subject}": ${who}. Neither is preferred: say that the sources disagree.`,
    );
  }
  return notes;
}

/**
 * Answers a question from retrieved passages with inline citations [1], [2]: retrieval (access
 * labels and filters applied inside the search, TTL-expired chunks left out), optional recency
 * boosting, live sources queried now, reconciliation across sources (near-duplicates dropped,
 * conflicts resolved by priority and recency and pointed out to the model), context packing
 * under a token budget, then generation through the LLM layer's grounded-answer prompt — or,
 * with no LLM, an extractive answer of quoted, cited sentences. Every answer goes through the
 * citation guard, and weak evidence or unsupported citations lead to an abstention; both
 * verdicts are in the result (and in `guard` spans of the trace).
 */
export async function answerQuestion(question: string, options: AnswerOptions): Promise<AnswerResult> {
  if (typeof question !== "string" || !question.trim())
    throw new ValidationError("the question is empty", { hint: "Pass the question to answer." });
  const k = options.k ?? 6;
  if (!Number.isInteger(k) || k < 1 || k > 100)
    throw new ValidationError(`k must be an integer in 1–100, got ${k}`, { hint: "E.g. 6." });
  if (!options.retriever && !options.passages)
    throw new ValidationError("answerQuestion needs a retriever or passages", {
      hint: "Pass { retriever, access } or { passages }.",
    });
  if (options.retriever && !options.access)
    throw new ValidationError("answerQuestion needs `access` with a retriever", {
      hint: "Pass { access: { labels: user.labels } }, or { access: { all: true } } for trusted code.",
    });
  const tracer = options.tracer ?? withSpan;
  const timings: Record<string, number> = {};
  const lap = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      timings[name] = performance.now() - t;
    }
  };
  const sig = options.signal ? { signal: options.signal } : {};

  return tracer("rag.answer", "rag.answer", { "rag.mode": options.llm ? "llm" : "extractive" }, async (span) => {
    // 1. Retrieval and live sources, in parallel.
    const liveP = options.live?.length
      ? lap("live", () =>
          queryLiveSources(options.live!, question, {
            ...(options.liveTimeoutMs ? { timeoutMs: options.liveTimeoutMs } : {}),
            ...sig,
          }),
        )
      : Promise.resolve({ items: [], errors: [] });
    const retrievedP = lap("retrieve", async (): Promise<AnswerPassage[]> => {
      if (!options.retriever) return options.passages!.slice(0, options.candidates ?? 3 * k);
      const filter = options.ttl?.length
        ? options.filter
          ? { $and: [options.filter, ttlFilter(options.ttl)!] }
          : ttlFilter(options.ttl)
        : options.filter;
      const r = await options.retriever.retrieve(question, {
        access: options.access!,
        k: options.candidates ?? 3 * k,
        ...(filter ? { filter } : {}),
        ...(options.mode ? { mode: options.mode } : {}),
        ...(options.rerank ? { rerank: options.rerank } : {}),
        ...sig,
      });
      const results = options.recency ? boostByRecency(r.results, options.recency) : r.results;
      return passagesFromRetrieval(question, results);
    });
    const [live, retrieved] = await Promise.all([liveP, retrievedP]);
    let passages = [...passagesFromLive(question, live.items), ...retrieved];

    // 2. Reconcile across sources.
    let conflicts: Conflict[] = [];
    let resolutions: Resolution[] = [];
    let dropped: AnswerResult["dropped"] = [];
    let provenance: Record<string, PassageProvenance> = {};
    if (options.reconcile !== false && passages.length > 1) {
      const rec = await lap("reconcile", () =>
        reconcile(passages.map(toSourced), typeof options.reconcile === "object" ? options.reconcile : {}),
      );
      const keep = new Set(rec.passages.map((p) => p.id));
      passages = passages.filter((p) => keep.has(p.id));
      ({ conflicts, resolutions, dropped, provenance } = rec);
    }

    // 3. Pack the best k under the budget (the live ones first: they are what was asked for now).
    const head = [
      ...passages.filter((p) => p.kind === "live"),
      ...passages.filter((p) => p.kind === "indexed").slice(0, k),
    ];
    const packed = packContext(
      head.map((p) => ({ id: p.id, text: p.text, title: p.title, ...(p.uri ? { uri: p.uri } : {}) })),
      { budgetTokens: options.budgetTokens ?? 3000, query: question },
    );
    const used = packed.included.map((inc) => head.find((p) => p.id === inc.id)!);
    const marker = new Map(used.map((p, i) => [p.id, i + 1]));

    // 4. Is there evidence worth answering from?
    const thresholds = options.thresholds ?? {};
    const evidence = shouldAbstain({ retrievalScores: used.map((p) => p.coverage) }, thresholds);
    const abstainReasons = [...evidence.reasons];
    const mode: AnswerResult["mode"] = options.llm ? "llm" : "extractive";
    let answer = "";
    let model: string | undefined;
    let usage: Usage | undefined;
    let costUsd: number | undefined;
    const losers = new Set(resolutions.flatMap((r) => r.losers.map((l) => l.passageId)));
    if (!evidence.abstain) {
      if (options.llm) {
        const notes = conflictNotes(conflicts, resolutions, marker);
        const messages = groundedAnswerPrompt(
          question,
          used.map((p) => ({ text: p.text, title: p.title })),
          {
            abstainText: ABSTAIN_TEXT,
            ...(notes.length ? { extraInstructions: `5. ${notes.join(" ")}` } : {}),
          },
        );
        const r = await lap("generate", () =>
          options.llm!.generate({ messages, temperature: 0, metadata: { caller: "rag.answer" }, ...sig }),
        );
        answer = r.text.trim();
        model = r.model;
        usage = r.usage;
        costUsd = r.costUsd;
      } else {
        // Do not quote the losing side of a settled disagreement.
        const avoid = conflicts.flatMap((c) =>
          c.claims
            .filter((cl) => losers.has(cl.passageId) && resolutions.some((r) => r.conflictId === c.id && r.winner))
            .map((cl) => cl.sentence),
        );
        const ex = extractiveAnswer(question, used, { ...options.extractive, avoid });
        answer = ex.text;
        const minCoverage = 0.5;
        if (!answer) abstainReasons.push("no sentence of the passages contains the question's words");
        else if (ex.coverage < minCoverage)
          abstainReasons.push(
            `the quoted sentences cover ${(ex.coverage * 100).toFixed(0)}% of the question's words (< ${minCoverage * 100}%)`,
          );
      }
    }

    // 5. Guards: citations, then abstention on weak support.
    const judge = options.judge === true ? options.llm : options.judge || undefined;
    const citations = await lap("guard", () =>
      checkCitations(
        answer || ABSTAIN_TEXT,
        used.map((p) => ({ text: p.text, title: p.title })),
        {
          abstainText: ABSTAIN_TEXT,
          tracer,
          ...(options.minSupport !== undefined ? { minSupport: options.minSupport } : {}),
          ...(judge ? { judge } : {}),
          ...sig,
        },
      ),
    );
    if (answer && !citations.abstained) {
      const support = shouldAbstain(
        { citationScore: citations.citationValidity, support: citations.support },
        thresholds,
      );
      abstainReasons.push(...support.reasons);
    }
    if (answer && citations.abstained) abstainReasons.push("the model found no answer in the passages");
    const weak = abstainReasons.length > 0;
    const abstained = citations.abstained || !answer || (weak && (options.onWeakEvidence ?? "abstain") === "abstain");
    const draft = answer && abstained && !citations.abstained ? answer : undefined;
    const finalAnswer = abstained ? ABSTAIN_TEXT : answer;
    const abstention = await recordGuardVerdict(tracer, {
      guard: "abstention",
      passed: !weak,
      score: weak ? 0 : 1,
      reasons: abstainReasons,
    });

    const citedMarkers = new Set(abstained ? [] : citations.sentences.flatMap((s) => s.citations));
    const sources: AnswerSource[] = used.map((p, i) => {
      const s: AnswerSource = {
        marker: i + 1,
        id: p.id,
        title: p.title,
        source: p.source.name,
        kind: p.kind,
        cited: citedMarkers.has(i + 1),
      };
      if (p.uri) s.uri = p.uri;
      const ts = p.timestamp ?? p.updatedAt;
      if (ts !== undefined) s.timestamp = ts;
      if (provenance[p.id]) s.provenance = provenance[p.id]!;
      return s;
    });
    span.setAttributes({
      "rag.passages": used.length,
      "rag.abstained": abstained,
      "rag.conflicts": conflicts.length,
      "rag.citation_validity": citations.citationValidity,
    });
    const result: AnswerResult = {
      question,
      answer: finalAnswer,
      mode,
      abstained,
      ...(draft ? { draft } : {}),
      sources,
      citations,
      verdicts: { citations: citations.verdict, abstention },
      reasons: abstainReasons,
      conflicts,
      resolutions,
      dropped,
      live,
      timings,
    };
    if (model) result.model = model;
    if (usage) result.usage = usage;
    if (costUsd !== undefined) result.costUsd = costUsd;
    return result;
  });
}

/** Raised when an answer is required and none can be given; kept for callers that prefer errors to abstentions. */
export function assertAnswered(result: AnswerResult): AnswerResult {
  if (result.abstained) {
    throw new QuintetError("VALIDATION_FAILED", `no grounded answer to "${result.question}"`, {
      hint: result.reasons.join("; ") || "The passages do not contain the answer.",
      details: { reasons: result.reasons },
    });
  }
  return result;
}
