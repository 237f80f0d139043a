import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLlm, type FakeOpenAI, LsaEmbedder, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RecursiveChunker } from "../chunking/recursive.js";
import { createDocument } from "../documents/create.js";
import { defineLiveSource } from "../freshness/live.js";
import { ingestDocuments } from "../index/ingest.js";
import { RagIndex } from "../index/rag-index.js";
import { Retriever } from "../retrieval/retriever.js";
import { topicCorpus } from "../testing/corpus.js";
import { ABSTAIN_TEXT, answerQuestion, extractiveAnswer, termCoverage } from "./index.js";

const BILLING =
  " Billing happens on the first day of each calendar month, and invoices are emailed to the account owner.";
const docs = [
  createDocument({
    source: { kind: "file", name: "handbook", uri: "/kb/pricing.md", key: "pricing.md", priority: 10 },
    title: "Pricing",
    content: `The Pro plan costs $49 per month and includes 5 seats.${BILLING}`,
    updatedAt: Date.UTC(2024, 0, 10),
  }),
  createDocument({
    source: { kind: "web", name: "wiki", uri: "https://wiki.example/pricing", key: "pricing" },
    title: "Pricing (wiki)",
    content: `The Pro plan costs $59 per month and includes 5 seats.${BILLING}`,
    updatedAt: Date.UTC(2025, 0, 10),
  }),
  createDocument({
    source: { kind: "file", name: "handbook", uri: "/kb/security.md", key: "security.md", priority: 10 },
    title: "Security",
    content:
      "All customer data is encrypted at rest with AES-256. Backups are taken every night and kept for 30 days. Access to production requires a hardware key.",
  }),
  createDocument({
    source: { kind: "file", name: "handbook", uri: "/kb/onboarding.md", key: "onboarding.md", priority: 10 },
    title: "Onboarding",
    content:
      "New employees receive a laptop on their first day. The IT desk sets up their accounts within two hours. Every newcomer gets a mentor for the first month.",
  }),
  ...topicCorpus(20, 5),
];

let dir: string;
let index: RagIndex;
let retriever: Retriever;
let fake: FakeOpenAI;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "quintet-answer-"));
  const embedder = new LsaEmbedder({ dimensions: 8 }).fit(docs.map((d) => d.content));
  index = await RagIndex.open({ dir });
  const collection = await index.create("kb", { dimensions: embedder.dimensions!, embedderId: embedder.id });
  await ingestDocuments(docs, {
    collection,
    embedder,
    chunker: new RecursiveChunker({ chunkTokens: 128, overlapTokens: 0 }),
  });
  retriever = new Retriever({ collection, embedder });
  fake = await startFakeOpenAI({ onUnscripted: "error" });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
  index.close();
  rmSync(dir, { recursive: true, force: true });
});
const all = { all: true } as const;
const llm = () => createLlm("openai:gpt-4o-mini", { apiKey: "t", baseURL: fake.url, retry: { maxRetries: 0 } });

describe("extractive answers (no LLM)", () => {
  it("quotes the best-supported sentences, each cited, and passes the citation guard", async () => {
    const r = await answerQuestion("How long are backups kept?", { retriever, access: all, k: 4 });
    expect(r.mode).toBe("extractive");
    expect(r.abstained).toBe(false);
    expect(r.answer).toMatch(/^Backups are taken every night and kept for 30 days\. \[(\d)\]/);
    const marker = Number(/\[(\d)\]/.exec(r.answer)![1]);
    const cited = r.sources.find((s) => s.marker === marker)!;
    expect(cited).toMatchObject({
      title: "Security",
      source: "handbook",
      kind: "indexed",
      cited: true,
      uri: "/kb/security.md",
    });
    expect(r.verdicts.citations).toMatchObject({ guard: "citations", passed: true, score: 1 });
    expect(r.verdicts.abstention).toMatchObject({ guard: "abstention", passed: true });
  });

  it("does not quote the losing side of a conflict and reports the conflict with its provenance", async () => {
    const r = await answerQuestion("How much does the Pro plan cost per month?", { retriever, access: all, k: 4 });
    expect(r.answer).toContain("$49");
    expect(r.answer).not.toContain("$59");
    expect(r.conflicts).toHaveLength(1);
    expect(r.resolutions[0]).toMatchObject({ rule: "priority", winner: { source: "handbook", text: "$49" } });
    // The wiki copy is a near-duplicate that lost: dropped as superseded.
    expect(r.dropped).toEqual([expect.objectContaining({ reason: "superseded" })]);
    const handbook = r.sources.find((s) => s.title === "Pricing")!;
    expect(handbook.provenance!.disagreements[0]).toMatchObject({ otherSource: "wiki", outcome: "won", theirs: "$59" });
  });

  it("abstains when the passages do not contain the answer", async () => {
    const r = await answerQuestion("What is the boiling point of liquid nitrogen?", { retriever, access: all });
    expect(r.abstained).toBe(true);
    expect(r.answer).toBe(ABSTAIN_TEXT);
    expect(r.reasons.length).toBeGreaterThan(0);
    expect(r.verdicts.abstention.passed).toBe(false);
    await expect(answerQuestion(" ", { retriever, access: all })).rejects.toThrow(/empty/);
    await expect(answerQuestion("x", { retriever })).rejects.toThrow(/access/);
  });

  it("puts live data in the context with its time and source", async () => {
    const asOf = Date.UTC(2025, 5, 1, 12);
    const status = defineLiveSource({
      name: "status-page",
      query: async () => ({
        title: "Service status",
        text: "The API status is degraded because of elevated error rates.",
        timestamp: asOf,
      }),
    });
    const r = await answerQuestion("What is the current API status?", { retriever, access: all, live: [status] });
    expect(r.live.items).toHaveLength(1);
    expect(r.answer).toMatch(/API status is degraded .*\[1\]/);
    expect(r.sources[0]).toMatchObject({
      marker: 1,
      kind: "live",
      source: "status-page",
      timestamp: asOf,
      cited: true,
    });
  });

  it("picks sentences by BM25 and added question words", () => {
    const passages = [
      {
        id: "a",
        text: "Cats sleep a lot. Cats sleep sixteen hours a day in warm places.",
        title: "A",
        source: { name: "s", kind: "file", priority: 0 },
        kind: "indexed" as const,
        coverage: 1,
      },
      {
        id: "b",
        text: "Dogs bark at strangers when they feel their home is threatened.",
        title: "B",
        source: { name: "s", kind: "file", priority: 0 },
        kind: "indexed" as const,
        coverage: 1,
      },
    ];
    const ex = extractiveAnswer("How many hours do cats sleep, and why do dogs bark?", passages);
    expect(ex.sentences.map((s) => s.marker)).toEqual([1, 2]);
    expect(ex.text).toBe(
      "Cats sleep sixteen hours a day in warm places. [1] Dogs bark at strangers when they feel their home is threatened. [2]",
    );
    // "many" is a question word no sentence has: 5 of 6 covered.
    expect(ex.queryTerms).toContain("mani");
    expect(ex.coverage).toBeCloseTo(5 / 6, 12);
    expect(termCoverage("cats and dogs", "a cat")).toBe(0.5);
  });
});

describe("generated answers (LLM)", () => {
  it("sends the grounded prompt with the conflict note and verifies the citations", async () => {
    fake.script.chat({ content: "The Pro plan costs $49 per month [1]. It includes 5 seats [1]." });
    const r = await answerQuestion("How much does the Pro plan cost per month?", {
      retriever,
      access: all,
      llm: llm(),
      k: 4,
    });
    expect(r.mode).toBe("llm");
    expect(r.abstained).toBe(false);
    expect(r.answer).toBe("The Pro plan costs $49 per month [1]. It includes 5 seats [1].");
    expect(r.verdicts.citations.passed).toBe(true);
    expect(r.model).toBe("openai:gpt-4o-mini");
    expect(r.usage!.totalTokens).toBeGreaterThan(0);
    const body = fake.chatRequests()[0]!;
    const system = body.messages[0].content as string;
    const user = body.messages[1].content as string;
    expect(system).toContain("[1] or [2][3]");
    expect(user).toContain("[1] Pricing");
    expect(user).toContain("$49");
    expect(user).not.toContain("$59"); // the superseded copy is not in the context
    expect(r.sources[0]).toMatchObject({ title: "Pricing", cited: true });
  });

  it("abstains when the model cites passages that do not support its claims, keeping the draft", async () => {
    fake.script.chat({ content: "The Pro plan costs $99 per month and comes with free hardware [1]." });
    const r = await answerQuestion("How much does the Pro plan cost per month?", {
      retriever,
      access: all,
      llm: llm(),
      k: 4,
    });
    expect(r.abstained).toBe(true);
    expect(r.answer).toBe(ABSTAIN_TEXT);
    expect(r.draft).toContain("$99");
    expect(r.verdicts.citations.passed).toBe(false);
    expect(r.verdicts.citations.reasons[0]).toMatch(/unsupported.*99/);
    expect(r.reasons.join(" ")).toMatch(/citation validity/);

    fake.script.chat({ content: "The Pro plan costs $99 per month [1]." });
    const flagged = await answerQuestion("How much does the Pro plan cost per month?", {
      retriever,
      access: all,
      llm: llm(),
      onWeakEvidence: "flag",
    });
    expect(flagged.abstained).toBe(false);
    expect(flagged.answer).toContain("$99");
    expect(flagged.verdicts.abstention.passed).toBe(false);
  });

  it("does not call the model when the evidence is too weak", async () => {
    const r = await answerQuestion("What is the boiling point of liquid nitrogen?", {
      retriever,
      access: all,
      llm: llm(),
    });
    expect(r.abstained).toBe(true);
    expect(fake.chatRequests()).toHaveLength(0);
  });
});
