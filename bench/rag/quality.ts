/**
 * Retrieval quality on BEIR SciFact (test qrels, 300 queries): BM25, LSA vectors, hybrid RRF,
 * hybrid with fusion tuned on the train qrels, and that plus the lexical reranker fitted on train.
 * The published BM25 figure for SciFact is nDCG@10 0.665 (BEIR paper, Anserini).
 *
 * Run: `npm run bench:rag` or `node --conditions=source --import tsx bench/rag/quality.ts [data dir]`.
 * Writes `bench/results/rag-quality.{json,md}`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatEvalTable, renderEvalMarkdown, runBeirEval } from "@quintet/rag";
import { cacheDir, machine, resultsDir, scifactDir } from "./common.js";

const dataset = scifactDir();
const env = machine();
const started = Date.now();
const report = await runBeirEval({
  dataset,
  cacheDir,
  onProgress: (stage, done, total) => {
    if (done === total || done % 1000 === 0)
      process.stderr.write(`  ${((Date.now() - started) / 1000).toFixed(0)}s ${stage} ${done}/${total}\n`);
  },
});
console.log(formatEvalTable(report));
const bm25 = report.configs.find((c) => c.name === "bm25")!;
const best = [...report.configs].sort((a, b) => b.metrics["ndcg@10"] - a.metrics["ndcg@10"])[0]!;
const summary = {
  published: { bm25NdcgAt10: 0.665, source: "BEIR (Thakur et al., 2021), BM25 on SciFact" },
  bm25: bm25.metrics["ndcg@10"],
  best: { name: best.name, ndcg10: best.metrics["ndcg@10"] },
  bestBeatsBm25: best.metrics["ndcg@10"] > bm25.metrics["ndcg@10"],
};
console.log(
  `\nBM25 nDCG@10 ${summary.bm25.toFixed(4)} (published 0.665); best: ${best.name} ${best.metrics["ndcg@10"].toFixed(4)}`,
);
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, "rag-quality.json"), `${JSON.stringify({ machine: env, summary, report }, null, 2)}\n`);
writeFileSync(
  join(resultsDir, "rag-quality.md"),
  `${renderEvalMarkdown(report)}\nPublished BM25 on SciFact: nDCG@10 0.665. Latencies are per query through the Retriever at 5,183 documents; ${env}.\n`,
);
