import { HtmlReport } from "@quintet/core";
import type { CleanReport, DataProfile, ShapSummary, TargetInfo } from "@quintet/ml";
import type { Evaluation } from "./evaluate.js";

/** SHAP values of a sample of test rows, summarised for the report. */
export interface ReportShap {
  /** Test rows explained. */
  rows: number;
  /** What the values are in, e.g. "log-odds of churned = yes". */
  outcome: string;
  /** Mean |SHAP| per feature (summed over classes for multiclass, with per-class parts). */
  overall: ShapSummary;
  /** Beeswarm points: one summary per class for multiclass, else the overall one. */
  beeswarms: { title: string; summary: ShapSummary }[];
  /** Class names, for multiclass stacking. */
  classes?: string[];
}

export interface TrainingReportInput {
  name: string;
  runId: string;
  target: TargetInfo;
  rows: { total: number; train: number; valid: number; test: number };
  evaluation: Evaluation;
  curve: { metric: string; train: number[]; valid: number[]; bestIteration: number | undefined };
  importance: { feature: string; gain: number }[];
  notes: string[];
  cleaning: CleanReport[];
  profile: DataProfile;
  shap?: ReportShap;
}

/** The self-contained HTML report of one training run: metrics, curves, importance, data notes. */
export async function writeTrainingReport(path: string, r: TrainingReportInput): Promise<string> {
  const report = new HtmlReport(
    `${r.name}: ${r.target.task} model of "${r.target.name}"`,
    `run ${r.runId} · ${r.rows.total} rows (train ${r.rows.train}, validation ${r.rows.valid}, test ${r.rows.test}) · ${new Date().toISOString()}`,
  );
  report.heading("Held-out test metrics").metrics(r.evaluation.metrics);
  const e = r.evaluation;
  if (e.roc) {
    report.chart("ROC curve (test)", {
      type: "line",
      x: { label: "false positive rate", domain: [0, 1] },
      y: { label: "true positive rate", domain: [0, 1] },
      series: [{ name: `AUC ${e.metrics.auc?.toFixed(4)}`, points: e.roc.map((p) => [p.fpr, p.tpr] as const) }],
      diagonal: true,
    });
  }
  if (e.pr) {
    report.chart("Precision-recall curve (test)", {
      type: "line",
      x: { label: "recall", domain: [0, 1] },
      y: { label: "precision", domain: [0, 1] },
      series: [
        { name: `AP ${e.metrics.pr_auc?.toFixed(4)}`, points: e.pr.map((p) => [p.recall, p.precision] as const) },
      ],
    });
  }
  if (e.calibration) {
    report.chart("Calibration (test): observed vs predicted", {
      type: "line",
      x: { label: "mean predicted probability", domain: [0, 1] },
      y: { label: "observed positive rate", domain: [0, 1] },
      series: [
        {
          name: `ECE ${e.calibration.ece.toFixed(4)}`,
          points: e.calibration.bins
            .filter((b) => b.weight > 0)
            .map((b) => [b.meanPredicted, b.fractionPositive] as const),
        },
      ],
      diagonal: true,
      points: true,
    });
  }
  if (e.residuals) {
    report.chart("Predicted vs actual (test)", {
      type: "line",
      x: { label: "actual" },
      y: { label: "predicted" },
      series: [{ name: "rows", points: e.residuals }],
      points: true,
    });
  }
  if (r.curve.valid.length > 0) {
    const series = [{ name: `validation ${r.curve.metric}`, points: r.curve.valid.map((v, i) => [i, v] as const) }];
    if (r.curve.train.length > 0)
      series.push({ name: `train ${r.curve.metric}`, points: r.curve.train.map((v, i) => [i, v] as const) });
    report.chart(
      `Learning curve (best round ${r.curve.bestIteration === undefined ? "-" : r.curve.bestIteration + 1})`,
      {
        type: "line",
        x: { label: "boosting round" },
        y: { label: r.curve.metric },
        series,
      },
    );
  }
  const top = r.importance.slice(0, 20).filter((i) => i.gain > 0);
  if (top.length > 0) {
    report.chart("Feature importance (share of total gain)", {
      type: "bar",
      x: { label: "share of gain" },
      items: top.map((i) => ({ label: i.feature, value: i.gain })),
    });
  }
  if (r.shap) shapSection(report, r.shap);
  if (e.lift) {
    report.heading("Lift and gain (ranked by predicted probability)").table(
      ["top share", "rows", "precision", "lift", "cumulative gain"],
      e.lift.map((l) => [`${Math.round(l.fraction * 100)}%`, l.selected, l.precision, l.lift, l.gain]),
    );
  }
  report.heading("Features").table(
    ["decision"],
    r.notes.map((n) => [n]),
  );
  report.heading("Cleaning").table(
    ["step", "changed", "summary"],
    r.cleaning.map((c) => [c.step, c.changed, c.summary]),
  );
  report.heading("Data profile").table(
    ["column", "type", "missing", "distinct", "warnings"],
    r.profile.columns.map((c) => [
      c.name,
      c.kind,
      `${(c.missingShare * 100).toFixed(1)}%`,
      c.distinct,
      c.warnings.join("; "),
    ]),
  );
  return report.write(path);
}

/** Mean |SHAP| bars (stacked by class for multiclass) and beeswarm plots, as Vega-Lite specs. */
function shapSection(report: HtmlReport, shap: ReportShap): void {
  const top = shap.overall.features.slice(0, 20).filter((f) => f.meanAbs > 0);
  if (top.length === 0) return;
  report
    .heading("SHAP summary")
    .paragraph(
      `TreeSHAP values of ${shap.rows} test rows, in ${shap.outcome}: how far each feature moves a row's score from the model's average. ` +
        "The bars rank features by mean |SHAP|; in the dot plots each dot is one row, red for a high feature value, blue for a low one, grey for a missing value or a category code.",
    );
  const order = top.map((f) => f.feature);
  const classes = shap.classes;
  const bars = classes
    ? top.flatMap((f, rank) =>
        (f.perGroup ?? []).map((v, g) => ({ feature: f.feature, rank, value: v, class: classes[g] ?? String(g) })),
      )
    : top.map((f, rank) => ({ feature: f.feature, rank, value: f.meanAbs }));
  report.chart(`SHAP summary: mean |SHAP| per feature (${shap.rows} test rows)`, {
    type: "vega-lite",
    spec: {
      width: 420,
      height: Math.max(60, top.length * 18),
      data: { values: bars },
      mark: { type: "bar", ...(classes ? {} : { color: "#4c78a8" }) },
      encoding: {
        y: { field: "feature", type: "nominal", sort: order, title: null },
        x: { field: "value", type: "quantitative", aggregate: "sum", title: "mean |SHAP value|" },
        ...(classes ? { color: { field: "class", type: "nominal", title: "class" } } : {}),
        tooltip: [{ field: "feature" }, { field: "value", aggregate: "sum", format: ".4~g", title: "mean |SHAP|" }],
      },
    },
  });
  for (const { title, summary } of shap.beeswarms) {
    if (summary.points.length === 0) continue;
    const features = [...new Set(summary.points.map((p) => p.feature))];
    const index = new Map(features.map((f, i) => [f, i]));
    // A numeric y (row of the feature + the swarm offset) lets dots spread around each
    // feature's line; the axis labels map the rows back to names. Dots carry no ARIA
    // labels: thousands of them would make the report megabytes.
    const values = summary.points.map((p) => ({
      feature: p.feature,
      shap: p.shap,
      y: index.get(p.feature)! + p.jitter,
      colour: p.scaled,
      value: p.value,
    }));
    const labels = `${JSON.stringify(features)}[datum.value]`;
    const y = {
      field: "y",
      type: "quantitative",
      scale: { domain: [-0.6, features.length - 0.4], reverse: true, nice: false, zero: false },
      axis: { values: features.map((_, i) => i), labelExpr: labels, title: null, grid: false },
    };
    report.chart(title, {
      type: "vega-lite",
      spec: {
        width: 420,
        height: Math.max(120, features.length * 28),
        data: { values },
        layer: [
          {
            mark: { type: "rule", color: "#999" },
            encoding: { x: { datum: 0, type: "quantitative" } },
          },
          {
            transform: [{ filter: "datum.colour === null" }],
            mark: { type: "circle", size: 10, opacity: 0.6, color: "#aaaaaa", aria: false },
            encoding: { x: { field: "shap", type: "quantitative", title: "SHAP value (impact on the score)" }, y },
          },
          {
            transform: [{ filter: "datum.colour !== null" }],
            mark: { type: "circle", size: 10, opacity: 0.75, aria: false },
            encoding: {
              x: { field: "shap", type: "quantitative", title: "SHAP value (impact on the score)" },
              y,
              color: {
                field: "colour",
                type: "quantitative",
                scale: { domain: [0, 1], range: ["#1e88e5", "#ff0d57"] },
                legend: { title: "feature value", values: [0, 1], labelExpr: "datum.value === 0 ? 'low' : 'high'" },
              },
            },
          },
        ],
      },
    });
  }
}
