import { ValidationError } from "../errors/index.js";

/** A line chart: several named series of (x, y) points (ROC, PR, learning curves, latency over time). */
export interface LineChart {
  type: "line";
  title?: string;
  x: { label: string; domain?: [number, number] };
  y: { label: string; domain?: [number, number] };
  series: { name: string; points: readonly (readonly [number, number])[] }[];
  /** Draws the y = x reference (ROC chance line, perfect calibration). */
  diagonal?: boolean;
  /** Marks each point, for sparse curves such as calibration bins. */
  points?: boolean;
}

/** A horizontal bar chart (feature importance, cost per model). */
export interface BarChart {
  type: "bar";
  title?: string;
  x: { label: string };
  items: { label: string; value: number }[];
}

/** Any Vega-Lite specification, for charts the two shapes above do not cover. */
export interface VegaLiteChart {
  type: "vega-lite";
  spec: Record<string, unknown>;
}

export type ChartSpec = LineChart | BarChart | VegaLiteChart;

const WIDTH = 420;
const HEIGHT = 300;

function toVegaLite(chart: ChartSpec): Record<string, unknown> {
  if (chart.type === "vega-lite") return chart.spec;
  const title = chart.title ? { title: chart.title } : {};
  if (chart.type === "bar") {
    return {
      ...title,
      width: WIDTH,
      height: Math.max(60, chart.items.length * 18),
      data: { values: chart.items.map((i, order) => ({ label: i.label, value: i.value, order })) },
      mark: { type: "bar", color: "#4c78a8" },
      encoding: {
        y: { field: "label", type: "nominal", sort: { field: "order" }, title: null },
        x: { field: "value", type: "quantitative", title: chart.x.label },
        tooltip: [{ field: "label" }, { field: "value", format: ".4~g" }],
      },
    };
  }
  const values = chart.series.flatMap((s) =>
    s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .map(([x, y], i) => ({ series: s.name, x, y, i })),
  );
  const scale = (domain?: [number, number]) => (domain ? { scale: { domain } } : {});
  const layers: Record<string, unknown>[] = [
    {
      data: { values },
      mark: { type: "line", point: chart.points ?? false, interpolate: "linear" },
      encoding: {
        x: { field: "x", type: "quantitative", title: chart.x.label, ...scale(chart.x.domain) },
        y: { field: "y", type: "quantitative", title: chart.y.label, ...scale(chart.y.domain) },
        color: { field: "series", type: "nominal", title: null, legend: chart.series.length > 1 ? {} : null },
        order: { field: "i" },
      },
    },
  ];
  if (chart.diagonal) {
    const lo = chart.x.domain?.[0] ?? 0;
    const hi = chart.x.domain?.[1] ?? 1;
    layers.push({
      data: {
        values: [
          { x: lo, y: lo },
          { x: hi, y: hi },
        ],
      },
      mark: { type: "line", strokeDash: [4, 4], color: "#999" },
      encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
    });
  }
  return { ...title, width: WIDTH, height: HEIGHT, layer: layers };
}

function validate(chart: ChartSpec): void {
  if (chart.type === "line") {
    if (chart.series.length === 0)
      throw new ValidationError("line chart has no series", { hint: "pass at least one series with points" });
    for (const s of chart.series) {
      if (s.points.length === 0)
        throw new ValidationError(`line chart series "${s.name}" has no points`, { hint: "drop the empty series" });
    }
  } else if (chart.type === "bar" && chart.items.length === 0) {
    throw new ValidationError("bar chart has no items", { hint: "pass at least one { label, value }" });
  }
}

/**
 * Renders a chart to a standalone SVG string with Vega-Lite (no browser, no network),
 * for HTML reports and image files written by the CLI.
 *
 * @example
 * const svg = await renderSvg({ type: "line", x: { label: "FPR" }, y: { label: "TPR" },
 *   series: [{ name: "ROC", points: roc }], diagonal: true });
 */
export async function renderSvg(chart: ChartSpec): Promise<string> {
  validate(chart);
  // Vega is large; load it only when a chart is actually drawn.
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  const spec = vl.compile(toVegaLite(chart) as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
