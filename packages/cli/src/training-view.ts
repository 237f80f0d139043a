import type { TrainContext, TrainTableOptions, TrainTableResult } from "@quintet/platform";
import type { CliContext } from "./context.js";
import type { Progress, Spinner } from "./output.js";
import { formatTable } from "./table.js";

/**
 * Runs the training workflow with a spinner per phase and a progress bar over boosting
 * rounds on a terminal, or a status line every 25 rounds in a log.
 */
export async function trainWithProgress(
  ctx: CliContext,
  options: Omit<TrainTableOptions, "onEvent">,
  project: TrainContext,
): Promise<TrainTableResult> {
  const { trainTable } = await import("@quintet/platform");
  let spinner: Spinner | undefined;
  let bar: Progress | undefined;
  let barStarting: Promise<Progress> | undefined;
  const out = ctx.out;
  try {
    return await trainTable(
      {
        ...options,
        onEvent: (e) => {
          if (e.type === "phase") {
            if (bar) {
              bar.stop();
              bar = undefined;
            }
            if (spinner) spinner.succeed();
            spinner = undefined;
            if (e.phase === "train" && out.interactive) {
              out.status(e.message);
              return;
            }
            if (out.interactive) void out.spinner(e.message).then((s) => (spinner = s));
            else out.status(e.message);
            return;
          }
          if (e.type === "trial") {
            const budget = e.budget.trials !== undefined ? `/${e.budget.trials}` : "";
            const best = e.best
              ? `best ${e.metric} ${fmt(e.best.value)} (trial ${e.best.number})`
              : "no complete trial yet";
            const got = e.state === "complete" ? `${e.metric} ${fmt(e.value ?? undefined)}` : e.state;
            const line = `trial ${e.finished}${budget} (#${e.number}): ${got} · ${best}`;
            // On a terminal the tuning spinner carries the latest trial; a log gets one line each.
            if (out.interactive && spinner) spinner.text(`Tuning: ${line}`);
            else out.status(`  ${line}`);
            return;
          }
          const detail = `${e.metric} valid ${fmt(e.valid)}${e.bestIteration !== undefined ? ` (best round ${e.bestIteration + 1})` : ""}`;
          if (out.interactive) {
            barStarting ??= out.progress("Boosting", e.numRounds).then((b) => (bar = b));
            bar?.update(e.iteration + 1, detail);
          } else if ((e.iteration + 1) % 25 === 0 || e.iteration === 0) {
            out.status(`  round ${e.iteration + 1}/${e.numRounds}: ${detail}`);
          }
        },
      },
      project,
    );
  } catch (err) {
    spinner?.fail();
    throw err;
  } finally {
    await barStarting;
    (bar as Progress | undefined)?.stop();
    (spinner as Spinner | undefined)?.stop();
  }
}

function fmt(v: number | undefined): string {
  return v === undefined ? "-" : v.toFixed(4);
}

/** The console view of a finished run: metrics, learning curve, ROC, importance, where things are. */
export async function renderTrainingResult(result: TrainTableResult, color: (s: string) => string): Promise<string> {
  const { barChart, plotLines } = await import("@quintet/core");
  const m = result.evaluation.metrics;
  const lines: string[] = [];
  lines.push(
    color(`Model ${result.model.name} version ${result.model.version}`) +
      (result.model.aliases.length ? ` (${result.model.aliases.join(", ")})` : "") +
      ` · run ${result.runId}`,
  );
  lines.push(
    `Rows: ${result.rows.total} (train ${result.rows.train}, validation ${result.rows.valid}, test ${result.rows.test}) · target "${result.target.name}" (${result.target.task})`,
  );
  const tu = result.tuning;
  if (tu) {
    const shown = Object.entries(tu.bestParams)
      .map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toPrecision(3)) : v}`)
      .join(", ");
    lines.push(
      `Tuned: study ${tu.study}, ${tu.trials} trials (${tu.complete} complete, ${tu.pruned} pruned${tu.previous ? `, ${tu.previous} from earlier runs` : ""}); best trial ${tu.bestTrial}: valid ${tu.metric} ${tu.bestValue.toFixed(4)}`,
    );
    lines.push(`  ${shown}`);
  }
  lines.push("");
  lines.push("Held-out test metrics");
  lines.push(
    formatTable(
      ["metric", "value"],
      Object.entries(m).map(([k, v]) => [k, Number(v.toFixed(4))]),
    ),
  );
  if (result.curve.valid.length > 1) {
    lines.push("");
    lines.push(
      `Learning curve (validation ${result.curve.metric}, best round ${(result.curve.bestIteration ?? 0) + 1})`,
    );
    lines.push(
      plotLines([{ name: `valid ${result.curve.metric}`, values: result.curve.valid }], { height: 8, width: 60 }),
    );
  }
  const roc = result.evaluation.roc;
  if (roc && roc.length > 2) {
    // Resample TPR on an even FPR grid so the text plot's x axis is the false positive rate.
    const grid = Array.from({ length: 41 }, (_, i) => i / 40);
    let j = 0;
    const tpr = grid.map((x) => {
      while (j < roc.length - 1 && roc[j + 1]!.fpr <= x) j++;
      return roc[j]!.tpr;
    });
    lines.push("");
    lines.push(`ROC curve (x: false positive rate 0 → 1), AUC ${m.auc?.toFixed(4)}`);
    lines.push(plotLines([{ name: "true positive rate", values: tpr }], { height: 8, width: 41, min: 0, max: 1 }));
  }
  const top = result.importance.filter((i) => i.gain > 0).slice(0, 10);
  if (top.length > 0) {
    lines.push("");
    lines.push("Top features (share of gain)");
    lines.push(
      barChart(
        top.map((i) => ({ label: i.feature, value: i.gain })),
        { width: 30 },
      ),
    );
  }
  lines.push("");
  lines.push(`Report: ${result.reportPath}`);
  return lines.join("\n");
}

/** What `--json` prints: the result without the bulky curves. */
export function trainingSummary(result: TrainTableResult) {
  return {
    runId: result.runId,
    model: {
      name: result.model.name,
      version: result.model.version,
      aliases: result.model.aliases,
      digest: result.model.digest,
    },
    target: result.target,
    rows: result.rows,
    metrics: result.evaluation.metrics,
    bestIteration: result.curve.bestIteration,
    importance: result.importance.slice(0, 20),
    featureNotes: result.featureNotes,
    cleaning: result.cleaning.map((c) => ({ step: c.step, changed: c.changed, summary: c.summary })),
    reportPath: result.reportPath,
    ...(result.tuning ? { tuning: result.tuning } : {}),
  };
}
