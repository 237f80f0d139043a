import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { formatTable } from "../table.js";

const time = (t: number) => new Date(t).toISOString().replace("T", " ").slice(0, 19);
const num = (v: number | undefined) => (v === undefined ? null : Number(v.toPrecision(5)));

export function register(program: Command, ctx: CliContext): void {
  const models = program
    .command("models")
    .description("Registered models: list, show versions and lineage, move aliases");

  models
    .command("ls")
    .description("List models with their latest version and aliases")
    .action(async () => {
      const list = await ctx.withProject(
        async ({ store, artifacts }) => {
          const { ModelRegistry } = await import("@quintet/platform");
          return new ModelRegistry(store, artifacts).listModels();
        },
        { trace: false },
      );
      ctx.out.result(list, (rows) =>
        rows.length === 0
          ? "No models registered yet. Train one with `quintet train <file> --target <column>` or `quintet quickstart`."
          : formatTable(
              ["model", "latest", "versions", "aliases"],
              rows.map((m) => [
                m.name,
                m.latest,
                m.versions,
                Object.entries(m.aliases)
                  .map(([a, v]) => `${a}→${v}`)
                  .join(" "),
              ]),
            ),
      );
    });

  models
    .command("show <name>")
    .description("Every version of a model: metrics, run, data fingerprint, aliases; and the alias history")
    .action(async (name: string) => {
      const data = await ctx.withProject(
        async ({ store, artifacts }) => {
          const { ModelRegistry } = await import("@quintet/platform");
          const registry = new ModelRegistry(store, artifacts);
          return { versions: await registry.listVersions(name), history: await registry.aliasHistory(name) };
        },
        { trace: false },
      );
      ctx.out.result(data, (d) => {
        const keys = [...new Set(d.versions.flatMap((v) => Object.keys(v.metrics)))].slice(0, 5);
        const latest = d.versions[0]!;
        return [
          formatTable(
            ["version", "created", "aliases", "run", ...keys],
            d.versions.map((v) => [
              v.version,
              time(v.createdAt),
              v.aliases.join(" "),
              v.runId,
              ...keys.map((k) => num(v.metrics[k])),
            ]),
          ),
          "",
          `Inputs of version ${latest.version}: ${latest.signature?.inputs.map((i) => `${i.name}:${i.type}`).join(", ") ?? "-"}`,
          `Bundle sha256 ${latest.digest} (${latest.size} bytes, ${latest.flavor})`,
          "",
          "Alias history:",
          ...d.history.map(
            (h) => `  ${time(h.at)}  ${h.alias}: ${h.from_version ?? "-"} → ${h.to_version ?? "(deleted)"}`,
          ),
        ].join("\n");
      });
    });

  models
    .command("alias <name> <alias> [version]")
    .description("Point an alias (champion, challenger, …) at a version, atomically; --delete removes it")
    .option("--delete", "remove the alias instead")
    .addHelpText(
      "after",
      "\nExamples:\n  quintet models alias churn champion 3\n  quintet models alias churn challenger --delete",
    )
    .action(async (name: string, alias: string, version: string | undefined, opts: { delete?: boolean }) => {
      if (!opts.delete && (version === undefined || !/^[1-9]\d*$/.test(version)))
        throw new InvalidArgumentError("give the version to point at (1, 2, 3…), or --delete");
      const result = await ctx.withProject(
        async ({ store, artifacts }) => {
          const { ModelRegistry } = await import("@quintet/platform");
          const registry = new ModelRegistry(store, artifacts);
          if (opts.delete) {
            await registry.deleteAlias(name, alias);
            return { name, alias, version: null };
          }
          const v = await registry.setAlias(name, alias, Number(version));
          return { name, alias, version: v.version };
        },
        { trace: false },
      );
      ctx.out.result(result, (r) =>
        r.version === null ? `Removed ${r.name}@${r.alias}.` : `${r.name}@${r.alias} → version ${r.version}`,
      );
    });

  program
    .command("predict <model> <file>")
    .description("Score a table with a registered model (name@alias, name/version or name for the latest)")
    .option("-o, --out <file>", "write every row's prediction to this CSV")
    .option(
      "-n, --limit <n>",
      "rows to print (default 10)",
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
        return n;
      },
      10,
    )
    .addHelpText(
      "after",
      "\nRows are checked against the model's input schema first: a missing column, an unseen category or a\nwrong type is an error naming the row and column. Extra columns (such as the target) are ignored.\n\nExamples:\n  quintet predict churn@champion new-customers.csv\n  quintet predict churn/2 new-customers.csv --out scored.csv --json",
    )
    .action(async (ref: string, file: string, opts: { out?: string; limit: number }) => {
      const { loadTable, ModelBundle, toCsv } = await import("@quintet/ml");
      const scored = await ctx.withProject(async ({ store, artifacts }) => {
        const { ModelRegistry } = await import("@quintet/platform");
        const { withSpan } = await import("@quintet/core");
        const { version, bundle } = await new ModelRegistry(store, artifacts).loadBundle(ref);
        const model = ModelBundle.fromBytes(bundle);
        const loaded = await loadTable(resolve(ctx.cwd, file));
        const warnings: string[] = [];
        const preds = await withSpan(
          "ml.predict",
          `predict ${version.name}/${version.version}`,
          { model: version.name, version: version.version, rows: loaded.frame.rows },
          () =>
            model.predict(loaded.frame, {
              onWarning: (issues) => warnings.push(...issues.slice(0, 5).map((i) => i.message)),
            }),
        );
        return { version, preds, target: model.target, warnings };
      });
      const { version, preds, target } = scored;
      const rows = Array.from({ length: preds.rows }, (_, i) => {
        const row: Record<string, string | number> = { row: i + 1 };
        if (target.task === "binary") row[`${target.name}_probability`] = preds.values[i]!;
        else if (target.task === "regression") row[target.name] = preds.values[i]!;
        if (preds.labels) row[target.name] = preds.labels[i]!;
        return row;
      });
      if (opts.out) {
        const { writeAtomic } = await import("@quintet/core");
        await writeAtomic(resolve(ctx.cwd, opts.out), toCsv(rows));
      }
      for (const w of scored.warnings) ctx.out.status(`warning: ${w}`);
      ctx.out.result(
        {
          model: `${version.name}/${version.version}`,
          rows: preds.rows,
          out: opts.out ?? null,
          predictions: rows.slice(0, opts.limit),
        },
        (r) =>
          [
            `Scored ${r.rows} rows with ${r.model}${r.out ? ` → ${r.out}` : ""}`,
            formatTable(
              Object.keys(rows[0] ?? { row: 0 }),
              r.predictions.map((p) =>
                Object.values(p).map((v) => (typeof v === "number" && !Number.isInteger(v) ? Number(v.toFixed(4)) : v)),
              ),
            ),
            r.rows > r.predictions.length
              ? `… ${r.rows - r.predictions.length} more (use --out to write them all)`
              : "",
          ]
            .filter(Boolean)
            .join("\n"),
      );
    });
}
