import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rng, TOPICS, topicSentence } from "../testing/corpus.js";
import {
  evaluateRun,
  formatEvalTable,
  loadBeir,
  mrrAtK,
  ndcgAtK,
  parseQrels,
  recallAtK,
  runBeirEval,
  writeEvalReport,
} from "./index.js";

describe("metrics", () => {
  // Ranked d1 d2 d3 d4; judged d2 = 1, d4 = 2, d5 = 1 (never retrieved).
  const ranked = ["d1", "d2", "d3", "d4"];
  const rel = new Map([
    ["d2", 1],
    ["d4", 2],
    ["d5", 1],
  ]);

  it("match a hand computation", () => {
    // DCG = 1/log2(3) + 2/log2(5) = 0.630930 + 0.861353 = 1.492283
    // IDCG = 2/log2(2) + 1/log2(3) + 1/log2(4) = 2 + 0.630930 + 0.5 = 3.130930
    expect(ndcgAtK(ranked, rel, 10)).toBeCloseTo(1.492283 / 3.13093, 5);
    expect(ndcgAtK(ranked, rel, 2)).toBeCloseTo(0.63093 / (2 + 0.63093), 5);
    expect(recallAtK(ranked, rel, 3)).toBeCloseTo(1 / 3, 10);
    expect(recallAtK(ranked, rel, 4)).toBeCloseTo(2 / 3, 10);
    expect(mrrAtK(ranked, rel, 10)).toBe(0.5);
    expect(mrrAtK(ranked, rel, 1)).toBe(0);
    expect(ndcgAtK(["d4", "d2", "d5"], rel, 10)).toBeCloseTo(1, 10);
  });

  it("average over judged queries only", () => {
    const qrels = new Map([
      ["q1", rel],
      ["q2", new Map([["x", 1]])],
      ["q3", new Map([["y", 0]])],
    ]);
    const m = evaluateRun(new Map([["q1", ranked]]), qrels);
    expect(m.queries).toBe(2);
    expect(m["mrr@10"]).toBeCloseTo(0.25, 10);
    expect(m["recall@100"]).toBeCloseTo(1 / 3, 10);
  });

  it("parse qrels with or without a header and reject bad lines", () => {
    expect(parseQrels("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\n")).toEqual(
      new Map([
        [
          "q1",
          new Map([
            ["d1", 1],
            ["d2", 2],
          ]),
        ],
      ]),
    );
    expect(() => parseQrels("q1 d1 1\n")).toThrow(/line 1/);
  });
});

/** A small BEIR folder: topic documents, queries made of topic words, qrels pointing at documents of that topic. */
function makeBeir(): string {
  const dir = mkdtempSync(join(tmpdir(), "quintet-beir-test-"));
  mkdirSync(join(dir, "qrels"));
  const r = rng(5);
  const topics = Object.keys(TOPICS);
  const docs = Array.from({ length: 150 }, (_, i) => ({
    _id: `d${i}`,
    title: `${topics[i % 5]} ${i}`,
    text: `${topicSentence(topics[i % 5]!, r, 20)} ${topicSentence(topics[(i + 1) % 5]!, r, 6)}`,
    metadata: {},
  }));
  // Split in two shards, as SciFact is.
  writeFileSync(
    join(dir, "corpus.part1-of-2.jsonl"),
    `${docs
      .slice(0, 80)
      .map((d) => JSON.stringify(d))
      .join("\n")}\n`,
  );
  writeFileSync(
    join(dir, "corpus.part2-of-2.jsonl"),
    `${docs
      .slice(80)
      .map((d) => JSON.stringify(d))
      .join("\n")}\n`,
  );
  const queries: string[] = [];
  const train: string[] = ["query-id\tcorpus-id\tscore"];
  const test: string[] = ["query-id\tcorpus-id\tscore"];
  for (let q = 0; q < 40; q++) {
    const target = docs[(q * 7) % docs.length]!;
    // The query repeats distinctive words of its target document.
    const words = target.text
      .toLowerCase()
      .replace(/\./g, "")
      .split(" ")
      .filter((w) => w.length > 4);
    queries.push(JSON.stringify({ _id: `q${q}`, text: `${words.slice(0, 4).join(" ")}?`, metadata: {} }));
    (q < 25 ? train : test).push(`q${q}\t${target._id}\t1`);
  }
  writeFileSync(join(dir, "queries.jsonl"), `${queries.join("\n")}\n`);
  writeFileSync(join(dir, "qrels", "train.tsv"), `${train.join("\n")}\n`);
  writeFileSync(join(dir, "qrels", "test.tsv"), `${test.join("\n")}\n`);
  return dir;
}

describe("BEIR", () => {
  it("loads sharded corpora and checks consistency", async () => {
    const dir = makeBeir();
    const ds = await loadBeir(dir);
    expect(ds.corpus).toHaveLength(150);
    expect(ds.corpus[80]!.id).toBe("d80");
    expect(ds.qrels.size).toBe(15);
    expect(ds.queries.size).toBe(40);
    await expect(loadBeir(dir, { split: "dev" })).rejects.toThrow(/no qrels for split "dev".*/);
    await expect(loadBeir(join(dir, "missing"))).rejects.toMatchObject({ code: "NOT_FOUND" });
    writeFileSync(join(dir, "qrels", "bad.tsv"), "q1\tnope\t1\n");
    await expect(loadBeir(dir, { split: "bad" })).rejects.toThrow(/qrels document nope/);
  });

  it("runs every configuration, tuning on train, and writes a report", async () => {
    const dir = makeBeir();
    const report = await runBeirEval({ dataset: dir, lsa: { dimensions: 16, minDf: 1 } });
    expect(report.queries).toBe(15);
    expect(report.configs.map((c) => c.name)).toEqual([
      "bm25",
      "vector-lsa",
      "hybrid-rrf",
      "hybrid-tuned",
      "hybrid-tuned+rerank",
    ]);
    const bm25 = report.configs[0]!.metrics;
    // The queries are words of their documents: BM25 must find most of them.
    expect(bm25["recall@10"]).toBeGreaterThan(0.8);
    for (const c of report.configs) {
      expect(c.metrics["ndcg@10"]).toBeGreaterThan(0);
      expect(c.metrics["ndcg@10"]).toBeLessThanOrEqual(1);
      expect(c.metrics["recall@100"]).toBeGreaterThanOrEqual(c.metrics["recall@10"]);
    }
    expect(report.tuning!.split).toBe("train");
    expect(report.tuning!.queries).toBe(25);
    expect(report.tuning!.reranker!.examples).toBeGreaterThan(0);
    const table = formatEvalTable(report);
    expect(table.split("\n")).toHaveLength(7);
    const out = writeEvalReport(report, join(dir, "reports"));
    expect(readFileSync(out.markdown, "utf8")).toMatch(/\| hybrid-tuned\+rerank \| 0\.\d{4}/);
    expect(readFileSync(out.html, "utf8")).toContain("<table>");
    expect(JSON.parse(readFileSync(out.json, "utf8")).configs).toHaveLength(5);
    await expect(runBeirEval({ dataset: dir, configs: ["nope"] })).rejects.toThrow(/unknown evaluation configuration/);
  });
});
