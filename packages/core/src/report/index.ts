export { escapeHtml, HtmlReport, writeAtomic } from "./html.js";
export type { BarChart, ChartSpec, LineChart, VegaLiteChart } from "./svg.js";
export { renderSvg } from "./svg.js";
export type { PlotOptions, TermSeries } from "./terminal.js";
export { barChart, formatNumber, plotLines, sparkline } from "./terminal.js";
