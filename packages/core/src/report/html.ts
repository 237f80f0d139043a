import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { type ChartSpec, renderSvg } from "./svg.js";
import { formatNumber } from "./terminal.js";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

type Block =
  | { kind: "heading"; text: string }
  | { kind: "paragraph"; text: string }
  | { kind: "metrics"; values: [string, string][] }
  | { kind: "table"; columns: string[]; rows: string[][] }
  | { kind: "chart"; title: string; spec: ChartSpec }
  | { kind: "pre"; text: string };

const CSS = `
body{font:14px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2330}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #e3e6ec;padding-bottom:.3rem}
.sub{color:#5b6475;margin-top:0}.metrics{display:flex;flex-wrap:wrap;gap:.8rem}
.metric{background:#f5f7fa;border-radius:6px;padding:.5rem .9rem;min-width:7rem}.metric b{display:block;font-size:1.25rem}
.metric span{color:#5b6475;font-size:.8rem}table{border-collapse:collapse;margin:.5rem 0}
td,th{border-bottom:1px solid #e3e6ec;padding:.25rem .7rem;text-align:right}td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}figure{margin:0}figcaption{color:#5b6475;font-size:.85rem}
pre{background:#f5f7fa;padding:.8rem;overflow:auto}`;

/**
 * A self-contained HTML report (inline CSS and SVG charts, no scripts, no network) that a
 * user can open from disk or attach to a run.
 *
 * @example
 * const report = new HtmlReport("churn model", "run 42");
 * report.metrics({ auc: 0.91, logloss: 0.31 });
 * report.chart("ROC", { type: "line", x: { label: "FPR" }, y: { label: "TPR" }, series, diagonal: true });
 * await report.write("./.quintet/reports/run-42.html");
 */
export class HtmlReport {
  private readonly blocks: Block[] = [];

  constructor(
    readonly title: string,
    readonly subtitle?: string,
  ) {}

  heading(text: string): this {
    this.blocks.push({ kind: "heading", text });
    return this;
  }

  paragraph(text: string): this {
    this.blocks.push({ kind: "paragraph", text });
    return this;
  }

  /** A row of headline numbers. */
  metrics(values: Record<string, number | string>): this {
    this.blocks.push({
      kind: "metrics",
      values: Object.entries(values).map(([k, v]) => [k, typeof v === "number" ? formatNumber(v) : v]),
    });
    return this;
  }

  table(columns: string[], rows: (string | number | null | undefined)[][]): this {
    const cell = (v: string | number | null | undefined) =>
      v === null || v === undefined ? "" : typeof v === "number" ? formatNumber(v) : v;
    this.blocks.push({ kind: "table", columns, rows: rows.map((r) => r.map(cell)) });
    return this;
  }

  chart(title: string, spec: ChartSpec): this {
    this.blocks.push({ kind: "chart", title, spec });
    return this;
  }

  /** Preformatted text, e.g. a terminal chart or a config. */
  pre(text: string): this {
    this.blocks.push({ kind: "pre", text });
    return this;
  }

  /** Renders every chart and returns the full document. */
  async toHtml(): Promise<string> {
    const parts: string[] = [];
    let charts: string[] = [];
    const flushCharts = () => {
      if (charts.length) parts.push(`<div class="charts">${charts.join("")}</div>`);
      charts = [];
    };
    for (const b of this.blocks) {
      if (b.kind === "chart") {
        const svg = await renderSvg(b.spec);
        charts.push(`<figure>${svg}<figcaption>${escapeHtml(b.title)}</figcaption></figure>`);
        continue;
      }
      flushCharts();
      if (b.kind === "heading") parts.push(`<h2>${escapeHtml(b.text)}</h2>`);
      else if (b.kind === "paragraph") parts.push(`<p>${escapeHtml(b.text)}</p>`);
      else if (b.kind === "pre") parts.push(`<pre>${escapeHtml(b.text)}</pre>`);
      else if (b.kind === "metrics")
        parts.push(
          `<div class="metrics">${b.values
            .map(([k, v]) => `<div class="metric"><b>${escapeHtml(v)}</b><span>${escapeHtml(k)}</span></div>`)
            .join("")}</div>`,
        );
      else
        parts.push(
          `<table><thead><tr>${b.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr></thead><tbody>${b.rows
            .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`)
            .join("")}</tbody></table>`,
        );
    }
    flushCharts();
    const sub = this.subtitle ? `<p class="sub">${escapeHtml(this.subtitle)}</p>` : "";
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(this.title)}</title><style>${CSS}</style></head><body><h1>${escapeHtml(this.title)}</h1>${sub}${parts.join("\n")}</body></html>\n`;
  }

  /** Writes the report atomically (temp file + rename), creating folders as needed. */
  async write(path: string): Promise<string> {
    const html = await this.toHtml();
    await writeAtomic(path, html);
    return path;
  }
}

/** Writes a file so a reader sees either the old or the new content, never a partial one. */
export async function writeAtomic(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, content, { flush: true });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
