import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LsaEmbedder } from "../embeddings/lsa.js";
import { createLlm } from "../providers/create.js";
import type { SpanRunner } from "../providers/traced.js";
import type { GenerateRequest, GenerateResult, LlmClient } from "../providers/types.js";
import { type FakeOpenAI, startFakeOpenAI } from "../testing/fake-openai/index.js";
import {
  assessAnswer,
  checkCitations,
  groundedAnswerPrompt,
  lexicalSupport,
  recordGuardVerdict,
  selfConsistency,
  shouldAbstain,
} from "./index.js";

interface RecordedSpan {
  kind: string;
  name: string;
  attrs: Record<string, unknown>;
  parent: RecordedSpan | undefined;
}

/** A span runner in the shape of core's withSpan that records spans and which span was open around each. */
function recorder() {
  const spans: RecordedSpan[] = [];
  const open: RecordedSpan[] = [];
  const tracer: SpanRunner = async (kind, name, attrs, fn) => {
    const s: RecordedSpan = { kind, name, attrs: { ...attrs }, parent: open.at(-1) };
    spans.push(s);
    open.push(s);
    try {
      return await fn({
        setAttributes: (a) => Object.assign(s.attrs, a),
        setUsage: () => {},
        recordError: () => {},
      });
    } finally {
      open.splice(open.indexOf(s), 1);
    }
  };
  return { spans, tracer };
}

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

  it("explains a failing answer in its verdict, and passes a supported or abstaining one", async () => {
    const r = await checkCitations(
      "The Eiffel Tower was completed in 1889 [1]. The Louvre had 9.5 million visitors in 2023 [3]. Paris is the capital of France.",
      PASSAGES,
    );
    expect(r.verdict).toMatchObject({ guard: "citations", passed: false, score: 1 / 3 });
    expect(r.verdict.reasons).toEqual([
      expect.stringMatching(
        /^sentence 2 unsupported \(support .* in \[3\]; numbers not in the cited passages: 9\.5\): "The Louvre/,
      ),
      expect.stringMatching(/^sentence 3 uncited \(no citation; passage \[2\] would support it\): "Paris is/),
    ]);
    expect((await checkCitations("It is 330 metres tall [1].", PASSAGES)).verdict).toEqual({
      guard: "citations",
      passed: true,
      score: 1,
      reasons: [],
    });
    expect((await checkCitations("I don't know based on the provided passages.", PASSAGES)).verdict.passed).toBe(true);
  });
});

describe("checkCitations with an LLM judge (structured output, against the fake server)", () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ onUnscripted: "error" });
  });
  beforeEach(() => fake.reset());
  afterAll(async () => {
    await fake.close();
  });
  const judge = (tracer?: SpanRunner) =>
    createLlm("openai:gpt-4o-mini", {
      apiKey: "k",
      baseURL: fake.url,
      env: {},
      retry: { maxRetries: 0 },
      ...(tracer ? { tracer } : {}),
    });
  const verdict = (supported: boolean, reason: string) => ({ content: JSON.stringify({ supported, reason }) });

  it("lets the judge overrule a lexically plausible but negated claim, asking for a JSON-schema verdict", async () => {
    fake.script.chat(verdict(false, "the passage says it was completed in 1889"));
    const r = await checkCitations("The Eiffel Tower was never completed [1].", PASSAGES, {
      judge: judge(),
      judgeMode: "all",
    });
    expect(r.sentences[0]).toMatchObject({
      verdict: "unsupported",
      judge: { supported: false, reason: "the passage says it was completed in 1889" },
    });
    expect(r.verdict.reasons[0]).toContain("judge: the passage says it was completed in 1889");
    const sent = fake.chatRequests()[0];
    expect(sent.temperature).toBe(0);
    expect(sent.response_format).toMatchObject({ type: "json_schema", json_schema: { name: "claim_verdict" } });
    expect(sent.response_format.json_schema.schema.required).toEqual(["supported", "reason"]);
    expect(sent.messages.at(-1).content).toContain("Claim: The Eiffel Tower was never completed.");
    expect(r.judgeUsage).toMatchObject({ calls: 1, totalTokens: expect.any(Number) });
    expect(r.judgeUsage!.costUsd).toBeGreaterThan(0);
  });

  it("sends an invalid verdict back once, then counts a claim it cannot judge as unsupported", async () => {
    fake.script.chat([{ content: "not json" }, verdict(true, "stated")]);
    const r = await checkCitations("The Eiffel Tower was completed in 1889 [1].", PASSAGES, {
      judge: judge(),
      judgeMode: "all",
    });
    expect(r.sentences[0]!.verdict).toBe("supported");
    expect(fake.chatRequests()).toHaveLength(2);
    expect(fake.chatRequests()[1].messages.at(-1).content).toMatch(/does not match the required JSON Schema/);

    fake.reset();
    fake.script.chat([{ content: "nope" }, { content: '{"supported": "maybe"}' }]);
    const r2 = await checkCitations("The Eiffel Tower was completed in 1889 [1].", PASSAGES, {
      judge: judge(),
      judgeMode: "all",
    });
    expect(r2.sentences[0]!.verdict).toBe("unsupported");
    expect(r2.sentences[0]!.judge!.reason).toMatch(/^judge gave no valid verdict/);
    expect(r2.judgeUsage!.calls).toBe(2);
    expect(r2.verdict.passed).toBe(false);
    expect(fake.chatRequests()).toHaveLength(2);
  });

  it("a missing number fails the claim whatever the judge says", async () => {
    fake.script.chat(verdict(true, "close enough"));
    const r = await checkCitations("The Eiffel Tower is 331 metres tall [1].", PASSAGES, {
      judge: judge(),
      judgeMode: "all",
    });
    expect(r.sentences[0]).toMatchObject({ verdict: "unsupported", missingNumbers: ["331"] });
  });

  it("records the verdict as guard.* attributes on a guard span, with the judge's calls inside it", async () => {
    const { spans, tracer } = recorder();
    fake.script.chat(verdict(false, "the passage does not say so"));
    await checkCitations("The Eiffel Tower was never completed [1]. Paris is the capital of France.", PASSAGES, {
      judge: judge(tracer),
      judgeMode: "all",
      tracer,
    });
    const guard = spans.find((s) => s.kind === "guard")!;
    expect(guard.name).toBe("guard citations");
    expect(guard.attrs).toMatchObject({
      "guard.name": "citations",
      "guard.passed": false,
      "guard.score": 0,
      "guard.sentences": 2,
      "guard.unsupported": 1,
      "guard.uncited": 1,
      "guard.judged": 1,
      "guard.abstained": false,
    });
    const reasons = JSON.parse(guard.attrs["guard.reasons"] as string);
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toContain("judge: the passage does not say so");
    // The judge's call is a child of the guard span: it started and ended while the guard was open.
    const call = spans.find((s) => s.kind === "llm.call")!;
    expect(call.parent).toBe(guard);
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
    expect(r.verdict).toEqual({ guard: "self-consistency", passed: true, score: 0.6, reasons: [] });
  });

  it("fails its verdict below minAgreement, naming the split, and records it on a guard span", async () => {
    const { spans, tracer } = recorder();
    const llm = scripted(["Final answer: Paris", "Final answer: Lyon", "Final answer: Paris", "Final answer: Nice"]);
    const r = await selfConsistency({ llm, request: { messages: [] }, k: 4, minAgreement: 0.75, tracer });
    expect(r.verdict.passed).toBe(false);
    expect(r.verdict.reasons).toEqual([
      '2 of 4 samples agree (0.50 < 0.75); answers: "Paris" ×2, "Lyon" ×1, "Nice" ×1',
    ]);
    expect(spans[0]!.attrs).toMatchObject({
      "guard.name": "self-consistency",
      "guard.passed": false,
      "guard.score": 0.5,
      "guard.samples": 4,
      "guard.clusters": 3,
      "guard.majority": "Paris",
    });
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

  it("records a verdict computed elsewhere as a guard span", async () => {
    const { spans, tracer } = recorder();
    const { abstain, reasons } = shouldAbstain({ retrievalScores: [0.1] });
    const v = await recordGuardVerdict(
      tracer,
      { guard: "abstention", passed: !abstain, score: 0, reasons },
      { top: 0.1 },
    );
    expect(v.passed).toBe(false);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({
      kind: "guard",
      name: "guard abstention",
      attrs: {
        "guard.name": "abstention",
        "guard.passed": false,
        "guard.reasons": JSON.stringify(["best retrieval score 0.10 < 0.3"]),
        "guard.top": 0.1,
      },
    });
    await expect(
      recordGuardVerdict(tracer, { guard: "Bad Name", passed: true, score: 1, reasons: [] }),
    ).rejects.toThrow(/invalid guard name/);
    await expect(recordGuardVerdict(tracer, { guard: "risk", passed: true, score: 2, reasons: [] })).rejects.toThrow(
      /0\.\.1/,
    );
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
