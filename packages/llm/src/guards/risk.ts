import { ValidationError } from "@quintet/core";
import { z } from "zod";

export interface EvidenceSignals {
  /** Retrieval scores of the passages used, normalised to 0..1 (e.g. cosine similarity). */
  retrievalScores?: readonly number[];
  /** Citation validity from {@link checkCitations} (0..1). */
  citationScore?: number;
  /** Mean lexical support from {@link checkCitations} (0..1). */
  support?: number;
  /** Self-consistency agreement (0..1). */
  agreement?: number;
  /** Highest prompt-injection score among the inputs/passages (0..1). */
  injectionScore?: number;
}

export const AbstainThresholdsSchema = z
  .object({
    /** Abstain when the best retrieval score is below this. */
    minTopRetrieval: z.number().min(0).max(1).default(0.3),
    /** Abstain when fewer than this many passages score at least `minTopRetrieval`. */
    minSupportingPassages: z.number().int().min(0).default(1),
    minCitationScore: z.number().min(0).max(1).default(0.5),
    minSupport: z.number().min(0).max(1).default(0.5),
    minAgreement: z.number().min(0).max(1).default(0.5),
    maxInjectionScore: z.number().min(0).max(1).default(0.8),
  })
  .strict();
export type AbstainThresholds = z.input<typeof AbstainThresholdsSchema>;

function checkUnit(name: string, v: number | undefined) {
  if (v !== undefined && !(v >= 0 && v <= 1)) {
    throw new ValidationError(`${name} must be in 0..1, got ${v}`, {
      hint: "Normalise scores to 0..1 before passing them.",
    });
  }
}

function validateSignals(s: EvidenceSignals) {
  checkUnit("citationScore", s.citationScore);
  checkUnit("support", s.support);
  checkUnit("agreement", s.agreement);
  checkUnit("injectionScore", s.injectionScore);
  for (const [i, r] of (s.retrievalScores ?? []).entries()) checkUnit(`retrievalScores[${i}]`, r);
}

/**
 * Decides whether to abstain instead of answering. Each signal that is present is compared
 * with its threshold; any failure abstains, and every failing check is listed in `reasons`.
 * Signals that are absent are not held against the answer.
 */
export function shouldAbstain(
  signals: EvidenceSignals,
  thresholds: AbstainThresholds = {},
): { abstain: boolean; reasons: string[] } {
  validateSignals(signals);
  const parsed = AbstainThresholdsSchema.safeParse(thresholds);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid abstention thresholds: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      {
        hint: "Thresholds are numbers in 0..1 (minSupportingPassages an integer).",
      },
    );
  }
  const t = parsed.data;
  const reasons: string[] = [];
  if (signals.retrievalScores !== undefined) {
    const top = Math.max(0, ...signals.retrievalScores);
    const strong = signals.retrievalScores.filter((s) => s >= t.minTopRetrieval).length;
    if (signals.retrievalScores.length === 0) reasons.push("no passages were retrieved");
    else if (top < t.minTopRetrieval) reasons.push(`best retrieval score ${top.toFixed(2)} < ${t.minTopRetrieval}`);
    else if (strong < t.minSupportingPassages)
      reasons.push(`${strong} passages score ≥ ${t.minTopRetrieval}, need ${t.minSupportingPassages}`);
  }
  if (signals.citationScore !== undefined && signals.citationScore < t.minCitationScore)
    reasons.push(`citation validity ${signals.citationScore.toFixed(2)} < ${t.minCitationScore}`);
  if (signals.support !== undefined && signals.support < t.minSupport)
    reasons.push(`lexical support ${signals.support.toFixed(2)} < ${t.minSupport}`);
  if (signals.agreement !== undefined && signals.agreement < t.minAgreement)
    reasons.push(`self-consistency agreement ${signals.agreement.toFixed(2)} < ${t.minAgreement}`);
  if (signals.injectionScore !== undefined && signals.injectionScore >= t.maxInjectionScore)
    reasons.push(`prompt-injection score ${signals.injectionScore.toFixed(2)} ≥ ${t.maxInjectionScore}`);
  return { abstain: reasons.length > 0, reasons };
}

export interface RiskAssessment {
  /** 0 (well supported) .. 1 (likely hallucinated or unsupported). */
  risk: number;
  /** Human-readable reasons, the weakest signal first. */
  reasons: string[];
  /** Each signal's contribution: its risk (1 − strength) and its weight among present signals. */
  components: Record<string, { risk: number; weight: number }>;
}

const WEIGHTS = { support: 0.3, citation: 0.25, agreement: 0.25, evidence: 0.2 } as const;

/**
 * A risk score for an answer from whatever signals are available: a weighted mean of
 * (1 − strength) over support, citation validity, agreement and evidence strength (mean of the
 * top three retrieval scores), renormalised over the signals present, then raised toward 1 by
 * a prompt-injection score (risk = 1 − (1 − base)(1 − injection)). With no signals at all the
 * risk is 1: an answer nobody checked is not low-risk.
 */
export function assessAnswer(signals: EvidenceSignals): RiskAssessment {
  validateSignals(signals);
  const parts: Array<[keyof typeof WEIGHTS, number, string]> = [];
  if (signals.support !== undefined)
    parts.push(["support", 1 - signals.support, `lexical support ${signals.support.toFixed(2)}`]);
  if (signals.citationScore !== undefined)
    parts.push(["citation", 1 - signals.citationScore, `citation validity ${signals.citationScore.toFixed(2)}`]);
  if (signals.agreement !== undefined)
    parts.push(["agreement", 1 - signals.agreement, `agreement ${signals.agreement.toFixed(2)}`]);
  if (signals.retrievalScores !== undefined) {
    const top = [...signals.retrievalScores].sort((a, b) => b - a).slice(0, 3);
    const strength = top.length ? top.reduce((a, b) => a + b, 0) / top.length : 0;
    parts.push([
      "evidence",
      1 - strength,
      top.length ? `evidence strength ${strength.toFixed(2)}` : "no evidence retrieved",
    ]);
  }
  const components: RiskAssessment["components"] = {};
  if (parts.length === 0 && signals.injectionScore === undefined) {
    return { risk: 1, reasons: ["no grounding signals were provided"], components };
  }
  const total = parts.reduce((a, [k]) => a + WEIGHTS[k], 0);
  let base = 0;
  for (const [k, r] of parts) {
    const w = WEIGHTS[k] / total;
    components[k] = { risk: r, weight: w };
    base += w * r;
  }
  if (parts.length === 0) base = 1;
  let risk = base;
  const reasons = parts
    .filter(([, r]) => r >= 0.3)
    .sort((a, b) => b[1] - a[1])
    .map(([, , why]) => why);
  if (signals.injectionScore !== undefined) {
    components.injection = { risk: signals.injectionScore, weight: 0 };
    risk = 1 - (1 - base) * (1 - signals.injectionScore);
    if (signals.injectionScore >= 0.3) reasons.unshift(`prompt-injection score ${signals.injectionScore.toFixed(2)}`);
  }
  return { risk: Math.min(1, Math.max(0, risk)), reasons, components };
}
