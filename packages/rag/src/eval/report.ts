import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BeirEvalReport, describeFusion } from "./run.js";

const METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10"] as const;

/** The configurations as a fixed-width text table. */
export function formatEvalTable(r: BeirEvalReport): string {
  const head = ["configuration", ...METRICS, "p50 ms", "p95 ms"];
  const rows = r.configs.map((c) => [
    c.name,
    ...METRICS.map((m) => c.metrics[m].toFixed(4)),
    c.latency.p50.toFixed(1),
    c.latency.p95.toFixed(1),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(head), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

/** A markdown report: the table, the tuned settings and how the run was made. */
export function renderEvalMarkdown(r: BeirEvalReport): string {
  const best = [...r.configs].sort((a, b) => b.metrics["ndcg@10"] - a.metrics["ndcg@10"])[0];
  const lines = [
    `# Retrieval evaluation: ${r.dataset} (${r.split})`,
    "",
    `${r.documents} documents, ${r.chunks} chunks, ${r.queries} judged queries. Run ${r.at}.`,
    "",
    `| configuration | ${METRICS.join(" | ")} | p50 ms | p95 ms |`,
    `| --- | ${METRICS.map(() => "---:").join(" | ")} | ---: | ---: |`,
    ...r.configs.map(
      (c) =>
        `| ${c.name} | ${METRICS.map((m) => c.metrics[m].toFixed(4)).join(" | ")} | ${c.latency.p50.toFixed(1)} | ${c.latency.p95.toFixed(1)} |`,
    ),
    "",
    ...r.configs.map((c) => `- **${c.name}**: ${c.description}`),
    "",
  ];
  if (best) lines.push(`Best nDCG@10: **${best.name}** (${best.metrics["ndcg@10"].toFixed(4)}).`, "");
  if (r.tuning) {
    const t = r.tuning;
    lines.push(
      `## Tuning on ${t.split} (${t.queries} queries)`,
      "",
      `- RRF grid best: k = ${t.rrf.k}, vector weight ${t.rrf.vectorWeight} → nDCG@10 ${t.rrf.ndcg10.toFixed(4)}`,
      `- Weighted grid best: ${t.weighted.normalize}, vector weight ${t.weighted.vectorWeight} → nDCG@10 ${t.weighted.ndcg10.toFixed(4)}`,
      `- Chosen: ${describeFusion(t.chosen)}`,
    );
    if (t.reranker) {
      lines.push(
        `- Lexical reranker fitted on ${t.reranker.examples} queries (pair loss ${t.reranker.loss.toFixed(3)}): ${Object.entries(
          t.reranker.weights,
        )
          .map(([k, v]) => `${k} ${v.toFixed(3)}`)
          .join(", ")}`,
      );
    }
    lines.push("");
  }
  lines.push(
    "## Setup",
    "",
    `- Embeddings: ${r.embedder.id}, ${r.embedder.dimensions} dimensions (LSA over TF-IDF fitted on the corpus; no model download)${r.timings.fitCached ? ", loaded from cache" : ""}`,
    `- Load ${(r.timings.loadMs / 1000).toFixed(1)} s, fit ${(r.timings.fitMs / 1000).toFixed(1)} s, ingest ${(r.timings.ingestMs / 1000).toFixed(1)} s (${r.timings.ingestDocsPerSec.toFixed(0)} docs/s: chunk + embed + LanceDB write + index)`,
    "- Metrics as BEIR/trec_eval: nDCG with linear gains; documents ranked by their best chunk.",
    "",
  );
  return lines.join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The same report as a self-contained HTML page. */
export function renderEvalHtml(r: BeirEvalReport): string {
  const best = Math.max(...r.configs.map((c) => c.metrics["ndcg@10"]));
  const rows = r.configs
    .map(
      (c) =>
        `<tr${c.metrics["ndcg@10"] === best ? ' class="best"' : ""}><th title="${esc(c.description)}">${esc(c.name)}</th>${METRICS.map((m) => `<td>${c.metrics[m].toFixed(4)}</td>`).join("")}<td>${c.latency.p50.toFixed(1)}</td><td>${c.latency.p95.toFixed(1)}</td></tr>`,
    )
    .join("\n");
  const md = renderEvalMarkdown(r)
    .split("\n")
    .filter((l) => l.startsWith("- "))
    .map((l) => `<li>${esc(l.slice(2)).replace(/\*\*(.+?)\*\*/g, "<b>$1</b>")}</li>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Retrieval evaluation: ${esc(r.dataset)} (${esc(r.split)})</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse}th,td{padding:.3rem .7rem;border-bottom:1px solid #ddd;text-align:right}th:first-child{text-align:left}tr.best{background:#eef8ee}</style></head>
<body><h1>Retrieval evaluation: ${esc(r.dataset)} (${esc(r.split)})</h1>
<p>${r.documents} documents, ${r.chunks} chunks, ${r.queries} judged queries. Run ${esc(r.at)}.</p>
<table><thead><tr><th>configuration</th>${METRICS.map((m) => `<th>${m}</th>`).join("")}<th>p50 ms</th><th>p95 ms</th></tr></thead><tbody>
${rows}
</tbody></table>
<ul>${md.join("")}</ul>
</body></html>
`;
}

/** Writes `<dir>/rag-eval-<dataset>-<split>-<time>.{md,html,json}` (each via a temp file and rename). */
export function writeEvalReport(r: BeirEvalReport, dir: string): { markdown: string; html: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const stem = join(dir, `rag-eval-${r.dataset}-${r.split}-${r.at.replace(/[:.]/g, "-")}`);
  const write = (path: string, text: string) => {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
    return path;
  };
  return {
    markdown: write(`${stem}.md`, renderEvalMarkdown(r)),
    html: write(`${stem}.html`, renderEvalHtml(r)),
    json: write(`${stem}.json`, `${JSON.stringify(r, null, 2)}\n`),
  };
}
