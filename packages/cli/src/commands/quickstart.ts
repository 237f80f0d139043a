import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { renderTrainingResult, trainingSummary, trainWithProgress } from "../training-view.js";

function rowsOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 500 || n > 2_000_000)
    throw new InvalidArgumentError("expected a whole number from 500 to 2000000");
  return n;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("quickstart")
    .description(
      "The main job on the embedded default: generate a customer table, train, evaluate and register a churn model",
    )
    .option("--rows <n>", "customers to generate (default 20000)", rowsOption, 20_000)
    .option(
      "--seed <n>",
      "seed for the generated data and training (default 7)",
      (v) => {
        if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a whole number");
        return Number(v);
      },
      7,
    )
    .addHelpText(
      "after",
      "\nNeeds no download, server or API key. Writes into the project home (./.quintet by default):\n  data/customers.csv, the store (runs, model versions, spans), artifacts and reports/*.html.\n\nThen try:\n  quintet models show churn\n  quintet predict churn@champion .quintet/data/customers.csv\n  quintet runs ls\n  quintet traces summary",
    )
    .action(async (opts: { rows: number; seed: number }) => {
      const config = await ctx.loadConfig();
      const { syntheticCustomers, toCsv } = await import("@quintet/ml");
      const file = join(config.home, "data", "customers.csv");
      ctx.out.status(`Generating ${opts.rows} synthetic customers (with the mess real exports have) → ${file}`);
      await mkdir(join(config.home, "data"), { recursive: true });
      await writeFile(file, toCsv(syntheticCustomers({ rows: opts.rows, seed: opts.seed })));
      const result = await ctx.withProject(
        (project) =>
          trainWithProgress(
            ctx,
            {
              data: file,
              target: "churned",
              positive: "yes",
              name: "churn",
              experiment: "quickstart",
              seed: opts.seed,
            },
            { store: project.store, artifacts: project.artifacts, home: config.home },
          ),
        { config },
      );
      const text = await renderTrainingResult(result, ctx.out.c.bold);
      ctx.out.result({ data: file, ...trainingSummary(result) }, () =>
        [
          text,
          "",
          "Next:",
          `  quintet models show churn                      # versions, aliases, lineage`,
          `  quintet predict churn@champion ${file}   # score rows`,
          "  quintet runs ls                                # tracked runs",
          "  quintet traces summary                         # what took how long",
        ].join("\n"),
      );
    });
}
