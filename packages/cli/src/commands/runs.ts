import type { RunStatus } from "@quintet/platform";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { formatTable } from "../table.js";

const time = (t: number | null) => (t === null ? null : new Date(t).toISOString().replace("T", " ").slice(0, 19));
const num = (v: unknown) =>
  typeof v === "number" ? Number(v.toPrecision(5)) : v === null || v === undefined ? null : String(v);

export function register(program: Command, ctx: CliContext): void {
  const runs = program.command("runs").description("Tracked training runs: list, show, compare");

  runs
    .command("ls")
    .description("List runs, newest first")
    .option("--experiment <name>", "only this experiment")
    .option("--status <status>", "running, finished, failed or interrupted (its process is gone)")
    .option(
      "-n, --limit <n>",
      "at most this many (default 20)",
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 1000)
          throw new InvalidArgumentError("expected a whole number from 1 to 1000");
        return n;
      },
      20,
    )
    .action(async (opts: { experiment?: string; status?: string; limit: number }) => {
      // Loaded here, not at the top: the CLI starts without the platform package.
      const { RUN_STATUSES } = await import("@quintet/platform");
      if (opts.status && !(RUN_STATUSES as readonly string[]).includes(opts.status))
        throw new InvalidArgumentError(`--status must be one of ${RUN_STATUSES.join(", ")}, not "${opts.status}"`);
      const list = await ctx.withProject(
        async ({ store, artifacts }) => {
          const { Tracker } = await import("@quintet/platform");
          return new Tracker(store, artifacts).listRuns({
            ...(opts.experiment ? { experiment: opts.experiment } : {}),
            ...(opts.status ? { status: opts.status as RunStatus } : {}),
            limit: opts.limit,
          });
        },
        { trace: false },
      );
      ctx.out.result(list, (rows) => {
        if (rows.length === 0)
          return "No runs yet. Train one with `quintet train <file> --target <column>` or `quintet quickstart`.";
        const keys = [
          ...new Set(rows.flatMap((r) => Object.keys(r.metrics).filter((k) => k.startsWith("test_")))),
        ].slice(0, 4);
        return formatTable(
          ["run", "experiment", "status", "started", ...keys],
          rows.map((r) => [r.id, r.experiment, r.status, time(r.startedAt), ...keys.map((k) => num(r.metrics[k]))]),
        );
      });
    });

  runs
    .command("show <runId>")
    .description("One run: params, final metrics, dataset, commit, artifacts, and its metric curves")
    .action(async (id: string) => {
      const { run, curves } = await ctx.withProject(
        async ({ store, artifacts }) => {
          const { Tracker } = await import("@quintet/platform");
          const tracker = new Tracker(store, artifacts);
          const run = await tracker.getRun(id);
          const curves: Record<string, number[]> = {};
          for (const k of Object.keys(run.metrics).filter((k) => k.startsWith("valid_")))
            curves[k] = (await tracker.metricHistory(id, k)).map((m) => m.value);
          return { run, curves };
        },
        { trace: false },
      );
      const { plotLines } = await import("@quintet/core");
      ctx.out.result({ ...run, curves }, (r) =>
        [
          `Run ${r.id} (${r.experiment}) · ${r.status}${r.error ? `: ${r.error}` : ""}`,
          `Started ${time(r.startedAt)}${r.endedAt ? ` · ended ${time(r.endedAt)}` : ""} · commit ${r.gitCommit ?? "-"}`,
          r.dataset
            ? `Data: ${r.dataset.name ?? ""} ${r.dataset.rows ?? "?"} rows, sha256 ${r.dataset.fingerprint.slice(0, 16)}…`
            : "Data: -",
          "",
          formatTable(
            ["param", "value"],
            Object.entries(r.params).map(([k, v]) => [k, num(v)]),
          ),
          "",
          formatTable(
            ["metric", "value"],
            Object.entries(r.metrics).map(([k, v]) => [k, num(v)]),
          ),
          ...Object.entries(curves)
            .filter(([, v]) => v.length > 1)
            .flatMap(([k, v]) => ["", plotLines([{ name: k, values: v }], { height: 6, width: 50 })]),
          "",
          r.artifacts.length
            ? formatTable(
                ["artifact", "sha256", "bytes"],
                r.artifacts.map((a) => [a.name, a.digest.slice(0, 16), a.size]),
              )
            : "No artifacts.",
        ].join("\n"),
      );
    });

  runs
    .command("compare <runIds...>")
    .description("Params and metrics of two or more runs side by side; differing rows are marked *")
    .action(async (ids: string[]) => {
      const cmp = await ctx.withProject(
        async ({ store, artifacts }) => {
          const { Tracker } = await import("@quintet/platform");
          return new Tracker(store, artifacts).compareRuns(ids);
        },
        { trace: false },
      );
      ctx.out.result(cmp, (c) =>
        formatTable(
          ["", "key", ...c.runs.map((r) => r.id)],
          [
            ...c.params.map((p) => [p.differs ? "*" : "", `param ${p.key}`, ...p.values.map(num)]),
            ...c.metrics.map((m) => [m.differs ? "*" : "", `metric ${m.key}`, ...m.values.map(num)]),
          ],
        ),
      );
    });
}
