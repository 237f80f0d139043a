import { HtmlReport } from "@quintet/core";
import type { CleanReport, DataProfile, TargetInfo } from "@quintet/ml";
import type { Evaluation } from "./evaluate.js";

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
