import asciichart from "asciichart";

/** One named series of y values, evenly spaced on x. */
export interface TermSeries {
  name: string;
  values: readonly number[];
}

export interface PlotOptions {
  /** Rows of the plot area (default 10). */
  height?: number;
  /** Columns of the plot area; longer series are resampled to fit (default 60). */
  width?: number;
  /** ANSI colours per series (default false, so output is plain text in logs and tests). */
  color?: boolean;
  /** Fixed y range; by default the range of the data. */
  min?: number;
  max?: number;
}

const COLORS = [asciichart.cyan, asciichart.magenta, asciichart.yellow, asciichart.green, asciichart.red];

/** Picks `width` points spread over the series, keeping the first and last, so long curves fit a terminal. */
function resample(values: readonly number[], width: number): number[] {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length <= width) return finite;
  const out: number[] = [];
  for (let i = 0; i < width; i++) out.push(finite[Math.round((i * (finite.length - 1)) / (width - 1))]!);
  return out;
}

/**
 * Draws one or more series as a line chart in text, with a legend line, for training
 * curves, drift and latency in the console.
 *
 * @example
 * console.log(plotLines([{ name: "valid auc", values: aucs }], { height: 8 }));
 */
export function plotLines(series: readonly TermSeries[], options: PlotOptions = {}): string {
  const width = Math.max(2, options.width ?? 60);
  const data = series.map((s) => resample(s.values, width)).filter((v) => v.length > 0);
  if (data.length === 0) return "(no data)";
  const config: asciichart.PlotConfig = {
    height: Math.max(2, options.height ?? 10),
    format: (x: number) => formatNumber(x).padStart(9),
  };
  if (options.min !== undefined) config.min = options.min;
  if (options.max !== undefined) config.max = options.max;
  if (options.color) config.colors = data.map((_, i) => COLORS[i % COLORS.length]!);
  // asciichart needs at least two distinct values to draw; a flat line gets a nominal range.
  const all = data.flat();
  if (Math.min(...all) === Math.max(...all) && config.min === undefined) {
    config.min = all[0]! - 1;
    config.max = all[0]! + 1;
  }
  const chart = asciichart.plot(data.length === 1 ? data[0]! : data, config);
  const legend = series
    .filter((s) => s.values.length > 0)
    .map((s, i) => {
      const mark = options.color ? `${COLORS[i % COLORS.length]}─${asciichart.reset}` : "─";
      return `${mark} ${s.name}`;
    })
    .join("   ");
  return `${chart}\n${" ".repeat(11)}${legend}`;
}

/** Horizontal bars, longest first as given, with the value printed after each bar. */
export function barChart(
  items: readonly { label: string; value: number }[],
  options: { width?: number; format?: (v: number) => string } = {},
): string {
  if (items.length === 0) return "(no data)";
  const width = Math.max(4, options.width ?? 40);
  const fmt = options.format ?? formatNumber;
  const labelWidth = Math.min(30, Math.max(...items.map((i) => i.label.length)));
  const max = Math.max(...items.map((i) => Math.abs(i.value)), Number.MIN_VALUE);
  return items
    .map((item) => {
      const cells = (Math.abs(item.value) / max) * width;
      const full = Math.floor(cells);
      // Eighth blocks give sub-cell resolution so close values still look different.
      const part = " ▏▎▍▌▋▊▉"[Math.floor((cells - full) * 8)] ?? "";
      const bar = "█".repeat(full) + (part === " " ? "" : part);
      const label = item.label.length > labelWidth ? `${item.label.slice(0, labelWidth - 1)}…` : item.label;
      return `${label.padEnd(labelWidth)} ${bar.padEnd(width + 1)} ${fmt(item.value)}`;
    })
    .join("\n");
}

const SPARKS = "▁▂▃▄▅▆▇█";

/** A one-line sparkline (`▁▃▅█`) for progress lines and tables. */
export function sparkline(values: readonly number[]): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return "";
  const min = Math.min(...finite);
  const span = Math.max(...finite) - min;
  return finite.map((v) => SPARKS[span === 0 ? 3 : Math.round(((v - min) / span) * 7)]).join("");
}

/** Compact number formatting shared by the charts: 4 significant digits, no exponent for usual ranges. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}
