import { describe, expect, it } from "vitest";
import { LsaEmbedder } from "../embeddings/lsa.js";
import type { GenerateRequest, GenerateResult, LlmClient } from "../providers/types.js";
import {
  assessAnswer,
  checkCitations,
  groundedAnswerPrompt,
  lexicalSupport,
  selfConsistency,
  shouldAbstain,
} from "./index.js";

const PASSAGES = [
  "The Eiffel Tower was completed in 1889 and is 330 metres tall.",
  "Paris is the capital of France and has about 2.1 million residents.",
  "The Louvre is the world's most visited museum, with 8.9 million visitors in 2023.",
];

/** A scripted test double of our own LlmClient contract. */
function scripted(texts: string[]): LlmClient & { requests: GenerateRequest[] } {
  const requests: GenerateRequest[] = [];
  let i = 0;
  return {
    uri: "test:scripted",
    requests,
    async generate(req) {
      requests.push(req);
      const text = texts[i++ % texts.length]!;
      return {
        text,
        toolCalls: [],
        finishReason: "stop",
        usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15 },
        costUsd: 0.001,
        model: "test:scripted",
        latencyMs: 1,
      } satisfies GenerateResult;
    },
    // biome-ignore lint/correctness/useYield: generate-only double
    async *stream() {
      throw new Error("not used");
    },
  };
}

describe("groundedAnswerPrompt", () => {
  it("numbers the passages and states the citation and abstention rules", () => {
    const msgs = groundedAnswerPrompt("How tall is the Eiffel Tower?", PASSAGES);
    expect(msgs[0]!.role).toBe("system");
    expect(msgs[0]!.content).toMatch(/\[1\]/);
    expect(msgs[0]!.content).toContain("I don't know based on the provided passages.");
    expect(msgs[1]!.content).toContain("[2]\n<<<\nParis is the capital");
    expect(() => groundedAnswerPrompt("  ", PASSAGES)).toThrow(/question is empty/);
  });
});

describe("checkCitations (lexical)", () => {
  it("accepts supported sentences and flags uncited, unsupported, wrong-number and invalid citations", async () => {
    const answer = [
      "The Eiffel Tower was completed in 1889 [1].",
      "It is 330 metres tall. [1]",
      "Paris is the capital of France.",
      "The Louvre had 9.5 million visitors in 2023 [3].",
      "The Eiffel Tower is painted bright green every spring [1].",
      "Paris has about 2.1 million residents [7].",
    ].join(" ");
    const r = await checkCitations(answer, PASSAGES);
    expect(r.sentences.map((s) => s.verdict)).toEqual([
      "supported",
      "supported",
      "uncited",
      "unsupported",
      "unsupported",
      "invalid-citation",
    ]);
    expect(r.sentences[2]!.suggestedCitation).toBe(2);
    expect(r.sentences[3]!.missingNumbers).toEqual(["9.5"]);
    expect(r.uncited).toHaveLength(1);
    expect(r.unsupported).toHaveLength(3);
    expect(r.citationValidity).toBeCloseTo(2 / 6, 10);
    expect(r.abstained).toBe(false);
  });

  it("suggests the right passage when a claim cites the wrong one", async () => {
    const r = await checkCitations("Paris has about 2.1 million residents [1].", PASSAGES);
    expect(r.sentences[0]).toMatchObject({ verdict: "unsupported", suggestedCitation: 2 });
  });

  it("recognises abstention and claim-free sentences", async () => {
    const r = await checkCitations("I don't know based on the provided passages.", PASSAGES);
    expect(r.abstained).toBe(true);
    expect(r.citationValidity).toBe(1);
    expect((await checkCitations("Yes. The tower is 330 metres tall [1].", PASSAGES)).sentences[0]!.verdict).toBe(
      "no-claim",
    );
  });

  it("scores lexical support as content-word recall", () => {
    expect(lexicalSupport("it is 330 metres tall", PASSAGES[0]!)).toBe(1);
    expect(lexicalSupport("the tower is 330 metres tall", PASSAGES[0]!)).toBeCloseTo(0.75 + 0.25 * (2 / 3), 10);
    expect(lexicalSupport("bananas grow in Ecuador", PASSAGES[0]!)).toBe(0);
  });

  it("lets a judge overrule a lexically plausible but negated claim (with a test double)", async () => {
    const judge = scripted([
      '{"supported": false, "reason": "the passage says it was completed in 1889, not abandoned"}',
    ]);
    const r = await checkCitations("The Eiffel Tower was never completed [1].", PASSAGES, { judge, judgeMode: "all" });
    expect(r.sentences[0]!.verdict).toBe("unsupported");
    expect(r.sentences[0]!.judge?.supported).toBe(false);
    expect(judge.requests[0]!.responseFormat).toMatchObject({ type: "json" });
  });

  it("repairs once when the judge replies with invalid JSON, then gives up safely", async () => {
    const judge = scripted(["not json", '{"supported": true, "reason": "stated"}']);
    const r = await checkCitations("The Eiffel Tower was completed in 1889 [1].", PASSAGES, {
      judge,
      judgeMode: "all",
    });
    expect(r.sentences[0]!.verdict).toBe("supported");
    expect(judge.requests).toHaveLength(2);
    const never = scripted(["nope"]);
    const r2 = await checkCitations("The Eiffel Tower was completed in 1889 [1].", PASSAGES, {
      judge: never,
      judgeMode: "all",
    });
    expect(r2.sentences[0]!.verdict).toBe("unsupported");
    expect(never.requests).toHaveLength(2);
  });
});

describe("selfConsistency", () => {
  it("clusters normalised answers and reports agreement and the majority", async () => {
    const llm = scripted([
      "Reasoning.\nFinal answer: Paris",
      "Final answer: paris.",
      "Hmm.\nFinal answer: Lyon",
      "Final answer: The Paris",
      "Final answer: Marseille",
    ]);
    const r = await selfConsistency({
      llm,
      request: { messages: [{ role: "user", content: "Capital?" }], seed: 10 },
      k: 5,
    });
    expect(r.majority).toBe("Paris");
    expect(r.agreement).toBeCloseTo(0.6, 10);
    expect(r.clusters.map((c) => c.size)).toEqual([3, 1, 1]);
    expect(llm.requests.map((q) => q.seed).sort()).toEqual([10, 11, 12, 13, 14]);
    expect(llm.requests.every((q) => q.temperature === 0.7)).toBe(true);
    expect(r.usage).toMatchObject({ totalTokens: 75 });
    expect(r.usage.costUsd).toBeCloseTo(0.005, 10);
  });

  it("merges paraphrased answers with an embedder", async () => {
    const lsa = new LsaEmbedder({ dimensions: 4 }).fit([
      "the capital city of france is paris",
      "paris france capital",
      "lyon is a city in france known for food",
      "bananas are yellow fruit",
      "apples are red fruit",
    ]);
    const llm = scripted([
      "Final answer: capital Paris France",
      "Final answer: Paris, France capital",
      "Final answer: bananas",
    ]);
    const r = await selfConsistency({ llm, request: { messages: [] }, k: 3, embedder: lsa, similarityThreshold: 0.9 });
    expect(r.clusters.map((c) => c.size)).toEqual([2, 1]);
    expect(r.agreement).toBeCloseTo(2 / 3, 10);
  });

  it("rejects settings that make the check meaningless", async () => {
    const llm = scripted(["x"]);
    await expect(selfConsistency({ llm, request: { messages: [] }, temperature: 0 })).rejects.toThrow(/temperature/);
    await expect(selfConsistency({ llm, request: { messages: [] }, k: 1 })).rejects.toThrow(/k must be/);
  });
});

describe("abstention and risk", () => {
  it("abstains with reasons when evidence is weak", () => {
    expect(shouldAbstain({ retrievalScores: [0.1, 0.05], citationScore: 0.9 })).toEqual({
      abstain: true,
      reasons: ["best retrieval score 0.10 < 0.3"],
    });
    expect(shouldAbstain({ retrievalScores: [0.8], citationScore: 1, agreement: 0.8 }).abstain).toBe(false);
    const r = shouldAbstain({ retrievalScores: [0.8, 0.2], agreement: 0.4 }, { minSupportingPassages: 2 });
    expect(r.reasons).toHaveLength(2);
    expect(() => shouldAbstain({ agreement: 3 })).toThrow(/agreement must be in 0..1/);
    expect(() => shouldAbstain({}, { minAgreement: 2 })).toThrow(/minAgreement/);
  });

  it("orders risk by evidence quality and explains it", () => {
    const good = assessAnswer({ support: 0.95, citationScore: 1, agreement: 1, retrievalScores: [0.9, 0.8] });
    const weak = assessAnswer({ support: 0.4, citationScore: 0.5, agreement: 0.4, retrievalScores: [0.3] });
    expect(good.risk).toBeLessThan(0.15);
    expect(weak.risk).toBeGreaterThan(0.5);
    expect(weak.reasons[0]).toBe("evidence strength 0.30");
    expect(assessAnswer({}).risk).toBe(1);
    const injected = assessAnswer({ support: 1, citationScore: 1, injectionScore: 0.9 });
    expect(injected.risk).toBeCloseTo(0.9, 10);
    expect(injected.reasons[0]).toMatch(/prompt-injection/);
  });
});
