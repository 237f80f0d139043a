import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { UsageError } from "../exit-codes.js";

function wholeNumber(flag: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${flag} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

interface ExplainFlags {
  row: number;
  top: number;
  class?: string;
}

/** What `quintet explain` prints, and exactly what `--json` gives. */
export interface ExplainOutput {
  model: string;
  file: string;
  /** 1-based, as `quintet predict` numbers rows. */
  row: number;
  rows: number;
  task: "binary" | "multiclass" | "regression";
  class: string | null;
  label: string | null;
  prediction: number;
  outcome: string;
  base: number;
  margin: number;
  /** Per input column (one-hot columns and date parts summed), largest |contribution| first. */
  inputs: { name: string; value: unknown; contribution: number }[];
  /** Per model feature, largest |contribution| first, zeros left out. */
  features: { feature: string; contribution: number }[];
  reasons: { up: ReasonLine[]; down: ReasonLine[] };
}

interface ReasonLine {
  name: string;
  contribution: number;
  text: string;
}

const fmt = (v: number) => (v >= 0 ? "+" : "") + (Math.abs(v) >= 0.001 || v === 0 ? v.toFixed(3) : v.toExponential(1));

function shortValue(v: unknown): string {
  if (v === null || v === undefined || (typeof v === "string" && v.trim() === "")) return "missing";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
  if (typeof v === "object") {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}=${shortValue(x)}`)
      .join(" ");
  }
  const s = String(v);
  return s.length > 24 ? `${s.slice(0, 23)}…` : s;
}

/**
 * Bars that grow left for negative and right for positive contributions from one axis,
 * scaled to the largest |value|, with eighth blocks on the positive side for resolution.
 */
export function signedBars(
  items: readonly { label: string; value: number; note?: string }[],
  options: { width?: number; colour?: { up: (s: string) => string; down: (s: string) => string } } = {},
): string {
  if (items.length === 0) return "(no contributions)";
  const half = Math.max(4, options.width ?? 20);
  const labelWidth = Math.min(28, Math.max(...items.map((i) => i.label.length)));
  const max = Math.max(...items.map((i) => Math.abs(i.value)), Number.MIN_VALUE);
  const up = options.colour?.up ?? ((s: string) => s);
  const down = options.colour?.down ?? ((s: string) => s);
  return items
    .map((item) => {
      const cells = (Math.abs(item.value) / max) * half;
      const full = Math.floor(cells);
      const part = " ▏▎▍▌▋▊▉"[Math.floor((cells - full) * 8)] ?? " ";
      const label = item.label.length > labelWidth ? `${item.label.slice(0, labelWidth - 1)}…` : item.label;
      // A value too small for a full cell still shows as a sliver on its side.
      const bar = "█".repeat(full) + (part === " " && full === 0 && item.value !== 0 ? "▏" : part.trim());
      const left = item.value < 0 ? down(bar.padStart(half)) : " ".repeat(half);
      const right = item.value > 0 ? up(bar.padEnd(half)) : " ".repeat(half);
      const note = item.note ? `  ${item.note}` : "";
      return `${label.padEnd(labelWidth)} ${left}│${right} ${fmt(item.value).padStart(8)}${note}`;
    })
    .join("\n");
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("explain <model> <file>")
    .description("Explain one prediction: base value, signed contributions per input (TreeSHAP) and reasons in words")
    .requiredOption(
      "--row <n>",
      "the row to explain, counting data rows from 1 (as `quintet predict` numbers them)",
      wholeNumber("--row", 1, 2 ** 31),
    )
    .option(
      "--top <k>",
      "inputs shown each way (default 8 in the chart, 3 reasons each way)",
      wholeNumber("--top", 1, 1000),
    )
    .option("--class <name>", "multiclass models: the class to explain (default: the predicted class)")
    .addHelpText(
      "after",
      "\nContributions are in margin space (log-odds for classifiers) and add up, with the base value, to the\nrow's raw score. Columns a pipeline expands (one-hot, date parts, encodings) are summed back to the input.\n\nExamples:\n  quintet explain churn@champion new-customers.csv --row 3\n  quintet explain churn/2 new-customers.csv --row 10 --top 5 --json",
    )
    .action(async (ref: string, file: string, opts: ExplainFlags & { top?: number }) => {
      const { loadTable, ModelBundle, explainRows } = await import("@quintet/ml");
      const result = await ctx.withProject(async ({ store, artifacts }) => {
        const { ModelRegistry } = await import("@quintet/platform");
        const { withSpan } = await import("@quintet/core");
        const { version, bundle: bytes } = await new ModelRegistry(store, artifacts).loadBundle(ref);
        const bundle = ModelBundle.fromBytes(bytes);
        const { frame } = await loadTable(resolve(ctx.cwd, file));
        if (opts.row > frame.rows) {
          throw new UsageError(
            `--row ${opts.row} is out of range: ${file} has ${frame.rows} data row${frame.rows === 1 ? "" : "s"}`,
            `Pick a row from 1 to ${frame.rows}.`,
          );
        }
        const one = frame.take([opts.row - 1]);
        const explained = await withSpan(
          "ml.explain",
          `explain ${version.name}/${version.version}`,
          { model: version.name, version: version.version, row: opts.row },
          () =>
            explainRows(bundle, one, {
              top: Math.min(opts.top ?? 3, 1000),
              ...(opts.class !== undefined ? { class: opts.class } : {}),
            }),
        );
        return { version, bundle, explained, rows: frame.rows };
      });
      const { version, bundle, explained } = result;
      const r = explained.rows[0]!;
      const features = explained.featureNames
        .map((feature, j) => ({ feature, contribution: r.contributions[j]! }))
        .filter((f) => f.contribution !== 0)
        .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
      const reason = (c: ReasonLine): ReasonLine => ({
        name: c.name,
        contribution: c.contribution,
        text: c.text,
      });
      const output: ExplainOutput = {
        model: `${version.name}/${version.version}`,
        file,
        row: opts.row,
        rows: result.rows,
        task: bundle.target.task,
        class: r.class ?? null,
        label: r.label ?? null,
        prediction: r.prediction,
        outcome: r.outcome,
        base: r.base,
        margin: r.margin,
        inputs: r.inputs,
        features,
        reasons: { up: r.reasons.up.map(reason), down: r.reasons.down.map(reason) },
      };
      ctx.out.result(output, (o) => renderExplanation(o, opts.top ?? 8, ctx.out.c));
    });
}

function renderExplanation(
  o: ExplainOutput,
  top: number,
  c: {
    bold: (s: string) => string;
    red: (s: string) => string;
    blue: (s: string) => string;
    dim: (s: string) => string;
  },
): string {
  const target = o.outcome;
  const prediction =
    o.task === "regression"
      ? `${Number(o.prediction.toPrecision(6))}`
      : `${o.label ?? "-"} (P(${o.class}) = ${o.prediction.toFixed(3)})`;
  const shown = o.inputs.slice(0, top);
  const rest = o.inputs.slice(top);
  const items = shown.map((i) => ({ label: i.name, value: i.contribution, note: shortValue(i.value) }));
  if (rest.length > 0) {
    items.push({
      label: `${rest.length} other input${rest.length === 1 ? "" : "s"}`,
      value: rest.reduce((a, b) => a + b.contribution, 0),
      note: "",
    });
  }
  const lines = [
    c.bold(`${o.model} · row ${o.row} of ${o.file}`),
    `Prediction: ${prediction}`,
    `Score (${target}): base value ${fmt(o.base)} → this row ${fmt(o.margin)}`,
    "",
    `Contributions to ${target}:`,
    // SHAP's convention: red pushes the score up, blue pulls it down.
    signedBars(items, { colour: { up: c.red, down: c.blue } }),
  ];
  if (o.reasons.up.length > 0 || o.reasons.down.length > 0) {
    lines.push("", "Why:");
    for (const r of o.reasons.up) lines.push(`  ↑ ${r.text}`);
    for (const r of o.reasons.down) lines.push(`  ↓ ${r.text}`);
  }
  lines.push(
    "",
    c.dim("Contributions are TreeSHAP values in margin space; base + contributions = the row's raw score."),
  );
  return lines.join("\n");
}
