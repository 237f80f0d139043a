import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { formatTable } from "../table.js";
import { renderTrainingResult, trainingSummary, trainWithProgress } from "../training-view.js";

const MODEL_NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/;

function share(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!(n > 0 && n < 0.9)) throw new InvalidArgumentError(`${flag} must be a number between 0 and 0.9, e.g. 0.2`);
    return n;
  };
}

function positive(flag: string, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`${flag} must be a whole number from 1 to ${max}`);
    return n;
  };
}

/** `--budget`: a time (90s, 5m, 1h) or a number of trials (20 trials). */
export function parseBudget(v: string): { budgetMs?: number; trials?: number } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|trials?)\s*$/i.exec(v);
  const n = m ? Number(m[1]) : Number.NaN;
  const unit = m?.[2]?.toLowerCase() ?? "";
  if (!(n > 0))
    throw new InvalidArgumentError(
      `--budget must be a time like 60s, 5m or 1h, or a trial count like "20 trials"; got "${v}"`,
    );
  if (unit.startsWith("trial")) {
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`--budget "${v}": the number of trials must be whole`);
    return { trials: n };
  }
  const ms = unit === "ms" ? 1 : unit.startsWith("s") ? 1000 : unit.startsWith("m") ? 60_000 : 3_600_000;
  return { budgetMs: n * ms };
}

interface TrainFlags {
  target: string;
  name?: string;
  positive?: string;
  task?: "binary" | "multiclass" | "regression";
  exclude?: string;
  rounds?: number;
  depth?: number;
  learningRate?: number;
  testShare?: number;
  seed?: number;
  tune?: boolean;
  budget?: { budgetMs?: number; trials?: number };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("profile <file>")
    .description(
      "Profile a table: types, missing values, distinct counts, ranges, outliers, ID-like and leaking columns",
    )
    .option("--target <column>", "also score how well each column alone predicts this one (leakage)")
    .addHelpText(
      "after",
      "\nExamples:\n  quintet profile customers.csv\n  quintet profile customers.csv --target churned --json",
    )
    .action(async (file: string, opts: { target?: string }) => {
      const { loadTable, profileFrame, cleanFrame } = await import("@quintet/ml");
      const spinner = await ctx.out.spinner(`Profiling ${file}`);
      let result: Awaited<ReturnType<typeof profileOf>>;
      async function profileOf() {
        const loaded = await loadTable(resolve(ctx.cwd, file));
        const cleaned = cleanFrame(loaded.frame, opts.target ? { exclude: [opts.target] } : {});
        const profile = profileFrame(cleaned.frame, opts.target ? { target: opts.target } : {});
        return { load: loaded.report, cleaning: cleaned.reports, profile };
      }
      try {
        result = await profileOf();
        spinner.stop();
      } catch (err) {
        spinner.fail();
        throw err;
      }
      ctx.out.result(result, (r) => {
        const p = r.profile;
        const lines = [
          `${p.rows} rows × ${p.columns.length} columns${p.duplicateRows ? ` · ${p.duplicateRows} duplicate rows` : ""}`,
          "",
          formatTable(
            ["column", "type", "missing", "distinct", "min", "median", "max", "top value", "leakage"],
            p.columns.map((c) => [
              c.name,
              c.kind + (c.looksLike ? ` (looks ${c.looksLike})` : ""),
              `${(c.missingShare * 100).toFixed(1)}%`,
              c.distinct,
              c.numeric ? Number(c.numeric.min.toPrecision(4)) : null,
              c.numeric ? Number(c.numeric.quantiles.p50.toPrecision(4)) : null,
              c.numeric ? Number(c.numeric.max.toPrecision(4)) : null,
              c.top[0] ? `${c.top[0].value.slice(0, 20)} (${c.top[0].count})` : null,
              c.leakage
                ? `${c.leakage.metric} ${c.leakage.score.toFixed(3)}${c.leakage.suspected ? " SUSPECT" : ""}`
                : null,
            ]),
          ),
        ];
        if (p.warnings.length) lines.push("", "Findings:", ...p.warnings.map((w) => `  - ${w}`));
        const changed = r.cleaning.filter((c) => c.changed > 0);
        if (changed.length) lines.push("", "Cleaning would:", ...changed.map((c) => `  - ${c.summary}`));
        return lines.join("\n");
      });
    });

  program
    .command("train <file>")
    .description("Train a gradient-boosted model on a table, evaluate it, and register it as a new model version")
    .requiredOption("--target <column>", "column to predict")
    .option("--name <model>", "registered model name (default: the file name)")
    .option("--positive <class>", "positive class of a binary target, e.g. yes")
    .option("--task <task>", "binary, multiclass or regression (default: inferred from the target)")
    .option("--exclude <columns>", "comma-separated columns to leave out of the features")
    .option(
      "--rounds <n>",
      "most boosting rounds (default 500; early stopping picks the best)",
      positive("--rounds", 100_000),
    )
    .option("--depth <n>", "tree depth (default 6)", positive("--depth", 32))
    .option("--learning-rate <eta>", "shrinkage per round (default 0.05)", (v) => {
      const n = Number(v);
      if (!(n > 0 && n <= 1)) throw new InvalidArgumentError("--learning-rate must be a number in (0, 1]");
      return n;
    })
    .option("--test-share <f>", "share of rows held out for the test metrics (default 0.2)", share("--test-share"))
    .option("--seed <n>", "seed for splits and training (default 42)", positive("--seed", 2 ** 31))
    .option("--tune", "tune the tree parameters first (TPE with pruning, trials on worker threads)")
    .option(
      "--budget <budget>",
      "tuning budget: a time (60s, 5m) or trials (20 trials); implies --tune (default 60s)",
      parseBudget,
    )
    .addHelpText(
      "after",
      "\nThe first version of a model gets the alias champion; later versions get none until you move it\n(quintet models alias <name> champion <version>). A self-contained HTML report is written to <home>/reports.\n\nExamples:\n  quintet train customers.csv --target churned --positive yes --name churn\n  quintet train houses.parquet --target price --task regression --json\n  quintet train customers.csv --target churned --tune --budget 5m\n\nTuning runs a study on the training rows (5-fold cross-validation under 20,000 rows, else a\nvalidation split; never the test rows), kept in the project store: training the same data again continues the same study.",
    )
    .action(async (file: string, opts: TrainFlags) => {
      if (opts.task && !["binary", "multiclass", "regression"].includes(opts.task))
        throw new InvalidArgumentError(`--task must be binary, multiclass or regression, not "${opts.task}"`);
      const name =
        opts.name ??
        (file
          .split(/[\\/]/)
          .pop()!
          .replace(/\.[^.]+$/, "")
          .toLowerCase()
          .replace(/[^a-z0-9_.-]+/g, "-")
          .replace(/^[^a-z0-9]+/, "") ||
          "model");
      if (!MODEL_NAME.test(name))
        throw new InvalidArgumentError(`--name "${name}" is not a model name: use lowercase letters, digits, _ . -`);
      const params = {
        ...(opts.rounds !== undefined ? { numRounds: opts.rounds } : {}),
        ...(opts.depth !== undefined ? { maxDepth: opts.depth } : {}),
        ...(opts.learningRate !== undefined ? { learningRate: opts.learningRate } : {}),
      };
      const result = await ctx.withProject(({ config, store, artifacts }) =>
        trainWithProgress(
          ctx,
          {
            data: resolve(ctx.cwd, file),
            target: opts.target,
            name,
            ...(opts.positive ? { positive: opts.positive } : {}),
            ...(opts.task ? { task: opts.task } : {}),
            ...(opts.exclude
              ? {
                  exclude: opts.exclude
                    .split(",")
                    .map((s) => s.trim())
                    .filter(Boolean),
                }
              : {}),
            ...(opts.testShare !== undefined ? { testShare: opts.testShare } : {}),
            ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
            params,
            ...(opts.tune || opts.budget ? { tune: opts.budget ?? {} } : {}),
          },
          { store, artifacts, home: config.home },
        ),
      );
      const text = await renderTrainingResult(result, ctx.out.c.bold);
      ctx.out.result(trainingSummary(result), () => text);
    });
}
