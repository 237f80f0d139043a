import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { barChart, escapeHtml, HtmlReport, plotLines, renderSvg, sparkline, ValidationError } from "../index.js";

describe("terminal charts", () => {
  it("plots a rising curve with its legend and axis labels", () => {
    const values = Array.from({ length: 200 }, (_, i) => 0.5 + 0.4 * (1 - Math.exp(-i / 30)));
    const text = plotLines([{ name: "valid auc", values }], { height: 6, width: 40 });
    const lines = text.split("\n");
    expect(lines).toHaveLength(8); // height + 1 rows of plot, then the legend
    expect(text).toContain("valid auc");
    expect(text).toContain("0.8995"); // the max of the curve labels the top row
    expect(lines.every((l) => l.length <= 11 + 40 + 2 + 20)).toBe(true);
  });

  it("draws a flat series instead of failing", () => {
    expect(plotLines([{ name: "flat", values: [1, 1, 1] }])).toContain("flat");
    expect(plotLines([])).toBe("(no data)");
  });

  it("scales bars to the largest value", () => {
    const text = barChart(
      [
        { label: "tenure", value: 10 },
        { label: "charges", value: 5 },
      ],
      { width: 20 },
    );
    const [a, b] = text.split("\n");
    expect(a!.match(/█/g)).toHaveLength(20);
    expect(b!.match(/█/g)).toHaveLength(10);
    expect(a).toContain("10");
  });

  it("sparkline maps min to the lowest and max to the highest block", () => {
    expect(sparkline([0, 5, 10])).toBe("▁▅█");
  });
});

describe("svg and html reports", () => {
  it("renders a line chart with its axis titles and a bar chart", async () => {
    const svg = await renderSvg({
      type: "line",
      title: "ROC",
      x: { label: "false positive rate", domain: [0, 1] },
      y: { label: "true positive rate", domain: [0, 1] },
      series: [
        {
          name: "model",
          points: [
            [0, 0],
            [0.1, 0.7],
            [1, 1],
          ],
        },
      ],
      diagonal: true,
    });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("false positive rate");
    const bars = await renderSvg({ type: "bar", x: { label: "gain" }, items: [{ label: "tenure", value: 3 }] });
    expect(bars).toContain("tenure");
  });

  it("rejects an empty chart with a clear error", async () => {
    await expect(renderSvg({ type: "bar", x: { label: "gain" }, items: [] })).rejects.toBeInstanceOf(ValidationError);
  });

  it("writes a self-contained, escaped document atomically", async () => {
    const dir = await mkdtemp(join(tmpdir(), "quintet-report-"));
    const path = join(dir, "nested", "r.html");
    const report = new HtmlReport("churn <model>", "run 1")
      .metrics({ auc: 0.912345, rows: "1,000" })
      .table(["feature", "gain"], [["tenure", 12.5]])
      .chart("importance", { type: "bar", x: { label: "gain" }, items: [{ label: "tenure", value: 12.5 }] });
    await report.write(path);
    const html = await readFile(path, "utf8");
    expect(html).toContain("churn &#60;model&#62;");
    expect(html).toContain("0.9123");
    expect(html).toContain("<svg");
    expect(html).not.toContain("<script");
    expect(await readdir(join(dir, "nested"))).toEqual(["r.html"]);
    expect(escapeHtml(`"a'&`)).toBe("&#34;a&#39;&#38;");
  });
});
