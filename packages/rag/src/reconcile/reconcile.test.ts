import { createLlm, startFakeOpenAI } from "@quintet/llm";
import { describe, expect, it } from "vitest";
import { rng, TOPICS, topicSentence } from "../testing/corpus.js";
import {
  candidateProbability,
  detectConflicts,
  estimateJaccard,
  extractFacts,
  findNearDuplicates,
  jaccard,
  lshParams,
  MinHasher,
  reconcile,
  resolveConflicts,
  type SourcedPassage,
  wordShingles,
} from "./index.js";

const passage = (
  id: string,
  source: string,
  text: string,
  extra: Omit<Partial<SourcedPassage>, "source"> & { priority?: number } = {},
): SourcedPassage => {
  const { priority, ...rest } = extra;
  return { id, text, source: { name: source, priority: priority ?? 0 }, ...rest };
};

describe("MinHash and LSH", () => {
  it("estimates Jaccard similarity within its error and picks bands for the threshold", () => {
    const r = rng(3);
    const words = Array.from({ length: 400 }, (_, i) => `w${i}`);
    const a = Array.from({ length: 300 }, () => words[Math.floor(r() * 400)]).join(" ");
    const b = `${a.split(" ").slice(0, 150).join(" ")} ${Array.from({ length: 150 }, () => words[Math.floor(r() * 400)]).join(" ")}`;
    const exact = jaccard(wordShingles(a), wordShingles(b));
    const h = new MinHasher({ numPerm: 256, seed: 7 });
    const est = estimateJaccard(h.signature(a), h.signature(b));
    expect(Math.abs(est - exact)).toBeLessThan(3 / Math.sqrt(256));
    expect(estimateJaccard(h.signature(a), h.signature(a))).toBe(1);

    const { bands, rows } = lshParams(0.8, 128);
    expect(bands * rows).toBeLessThanOrEqual(128);
    expect(candidateProbability(0.95, bands, rows)).toBeGreaterThan(0.95);
    expect(candidateProbability(0.4, bands, rows)).toBeLessThan(0.05);
    expect(() => lshParams(1.5, 128)).toThrow(/threshold/);
    expect(() => new MinHasher({ numPerm: 2 })).toThrow(/numPerm/);
  });

  it("groups edited copies and leaves distinct texts alone", () => {
    const r = rng(11);
    const topics = Object.keys(TOPICS);
    const base = Array.from({ length: 30 }, (_, i) =>
      Array.from({ length: 6 }, () => topicSentence(topics[i % topics.length]!, r, 14)).join(" "),
    );
    const items = base.map((text, i) => ({ id: `d${i}`, text }));
    // Copies of d3 and d17 with one word changed, and d3 copied twice.
    const edit = (t: string) => t.replace(/\b(\w+)\.$/, "changed.");
    items.push(
      { id: "d3-copy", text: edit(base[3]!) },
      { id: "d3-copy2", text: base[3]! },
      { id: "d17-copy", text: edit(base[17]!) },
    );
    const lsh = findNearDuplicates(items, { threshold: 0.8, exhaustiveBelow: 0 });
    expect(lsh.candidates).toBeLessThan((items.length * (items.length - 1)) / 8); // banding prunes most pairs
    const { clusters } = findNearDuplicates(items, { threshold: 0.8 });
    expect(lsh.clusters).toEqual(clusters);
    expect(clusters.map((c) => c.ids)).toEqual([
      ["d3", "d3-copy", "d3-copy2"],
      ["d17", "d17-copy"],
    ]);
    expect(clusters[0]!.pairs.every((p) => p.similarity >= 0.8)).toBe(true);
  });
});

describe("facts", () => {
  it("extracts money, percentages, numbers with units and dates with their subject words", () => {
    const facts = extractFacts(
      "The Pro plan costs $49 per month. Uptime was 99.9% in 2023. We serve 1.2 million users. Version 3 shipped on March 5, 2024 [2].",
    );
    const by = (text: string) => facts.find((f) => f.text === text)!;
    expect(by("$49")).toMatchObject({ kind: "money", value: 49, unit: "usd" });
    expect(by("$49").subject).toEqual(expect.arrayContaining(["pro", "plan", "cost", "month"]));
    expect(by("99.9%")).toMatchObject({ kind: "percent", value: 99.9 });
    expect(by("2023")).toMatchObject({ kind: "date", precision: "year", value: Date.UTC(2023, 0, 1) });
    expect(by("1.2 million")).toMatchObject({ kind: "number", value: 1_200_000, unit: "user" });
    expect(by("March 5, 2024")).toMatchObject({ kind: "date", value: Date.UTC(2024, 2, 5), precision: "day" });
    expect(facts.some((f) => f.text === "2")).toBe(false); // citation markers are not facts
  });
});

describe("conflicts", () => {
  const shared =
    " Billing happens on the first day of each calendar month, and invoices are sent by email to the account owner.";
  const handbook = passage("h1", "handbook", `The Pro plan costs $49 per month and includes 5 seats.${shared}`, {
    priority: 10,
    updatedAt: Date.UTC(2024, 0, 1),
  });
  const wiki = passage("w1", "wiki", `The Pro plan costs $59 per month and includes 5 seats.${shared}`, {
    updatedAt: Date.UTC(2025, 0, 1),
  });
  const basic = passage("b1", "pricing-page", "The Basic plan costs $19 per month and includes 5 seats.");

  it("finds values that differ for the same subject, and agreements, not different entities", async () => {
    const { conflicts, agreements } = await detectConflicts([handbook, wiki, basic]);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]).toMatchObject({
      id: "c1",
      kind: "money",
      detectedBy: "heuristic",
      claims: [
        { passageId: "h1", source: "handbook", text: "$49", value: 49 },
        { passageId: "w1", source: "wiki", text: "$59", value: 59 },
      ],
    });
    expect(conflicts[0]!.subject).toContain("plan");
    const seats = agreements.find((a) => a.value === 5)!;
    expect(seats.sources.sort()).toEqual(["handbook", "pricing-page", "wiki"]);
    // Dates at different precision agree; different days disagree.
    const d = await detectConflicts([
      passage("a", "s1", "The bridge reopened to traffic in March 2024 after repairs."),
      passage("b", "s2", "The bridge reopened to traffic on March 12, 2024 after repairs."),
      passage("c", "s3", "The bridge reopened to traffic on April 2, 2024 after repairs."),
    ]);
    expect(d.conflicts.map((c) => c.claims.map((x) => x.passageId))).toEqual([
      ["a", "c"],
      ["b", "c"],
    ]);
  });

  it("resolves by priority, then recency, else leaves it unresolved", async () => {
    const { conflicts } = await detectConflicts([handbook, wiki]);
    const [byPriority] = resolveConflicts(conflicts, [handbook, wiki]);
    expect(byPriority).toMatchObject({ rule: "priority", winner: { passageId: "h1" }, losers: [{ passageId: "w1" }] });
    expect(byPriority!.reason).toBe("priority: handbook (priority 10) over wiki (priority 0)");
    const samePriority = { ...handbook, source: { name: "handbook", priority: 0 } };
    const [byRecency] = resolveConflicts(conflicts, [samePriority, wiki]);
    expect(byRecency).toMatchObject({ rule: "recency", winner: { passageId: "w1" } });
    const [none] = resolveConflicts(conflicts, [samePriority, { ...wiki, updatedAt: handbook.updatedAt! }]);
    expect(none!.rule).toBe("unresolved");
    expect(none!.winner).toBeUndefined();
  });

  it("reconciles: drops the outdated copy, keeps provenance of who agreed and who disagreed", async () => {
    const blog = passage("g1", "blog", "Our review: the Pro plan includes 5 seats per month.");
    const r = await reconcile([handbook, wiki, blog], { threshold: 0.5 });
    expect(r.duplicates.map((c) => c.ids)).toEqual([["h1", "w1"]]);
    expect(r.passages.map((p) => p.id)).toEqual(["h1", "g1"]);
    expect(r.dropped).toEqual([{ passageId: "w1", keptInstead: "h1", reason: "superseded" }]);
    const prov = r.provenance.h1!;
    expect(prov.agreedBy.sort()).toEqual(["blog", "wiki"]);
    expect(prov.disagreements).toEqual([
      expect.objectContaining({ otherSource: "wiki", mine: "$49", theirs: "$59", outcome: "won", rule: "priority" }),
    ]);
    expect(r.provenance.w1!.disagreements[0]!.outcome).toBe("lost");
  });

  it("an LLM judge confirms heuristic conflicts and finds non-numeric ones in near-duplicates", async () => {
    const fake = await startFakeOpenAI({ onUnscripted: "error" });
    try {
      const llm = createLlm("openai:gpt-4o-mini", { apiKey: "t", baseURL: fake.url, retry: { maxRetries: 0 } });
      const about =
        " The company was founded by two engineers and sells industrial sensors to factories across Europe.";
      const a = passage("a", "crm", `Acme Corp is headquartered in Berlin and its CEO is Dana Smith.${about}`);
      const b = passage("b", "wiki", `Acme Corp is headquartered in Munich and its CEO is Dana Smith.${about}`);
      fake.script.chat([
        {
          content: JSON.stringify({
            disagree: true,
            subject: "price of the Pro plan",
            claimA: "$49",
            claimB: "$59",
            reason: "different prices",
          }),
        },
        {
          content: JSON.stringify({
            disagree: true,
            subject: "Acme headquarters",
            claimA: "Berlin",
            claimB: "Munich",
            reason: "different cities",
          }),
        },
      ]);
      const r = await reconcile([handbook, wiki, a, b], { threshold: 0.5, conflicts: { judge: llm } });
      expect(r.judgeCalls).toBe(2);
      expect(r.conflicts.map((c) => [c.detectedBy, c.subject])).toEqual([
        ["heuristic+llm", expect.stringContaining("plan")],
        ["llm", "Acme headquarters"],
      ]);
      // Same priority, no dates: the headquarters conflict stays unresolved and both passages stay.
      expect(r.resolutions[1]!.rule).toBe("unresolved");
      expect(r.passages.map((p) => p.id)).toContain("b");
      expect(fake.chatRequests()).toHaveLength(2);
    } finally {
      await fake.close();
    }
  });
});
