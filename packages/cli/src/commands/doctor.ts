import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import type { DoctorReport } from "../doctor/run.js";
import { EXIT } from "../exit-codes.js";

function table(report: DoctorReport, c: CliContext["out"]["c"]): string {
  const width = Math.max(...report.checks.map((r) => r.name.length));
  const lines = ["Quintet doctor", ""];
  for (const r of report.checks) {
    const mark =
      r.status === "ok" ? c.green("✓") : r.status === "skip" ? c.dim("–") : r.required ? c.red("✗") : c.yellow("✗");
    lines.push(`  ${mark} ${r.name.padEnd(width)}  ${r.status === "skip" ? c.dim(r.detail) : r.detail}`);
    if (r.status === "fail" && r.fix) lines.push(`  ${" ".repeat(width + 4)}${c.cyan("fix:")} ${r.fix}`);
  }
  const failed = report.checks.filter((r) => r.status === "fail" && r.required).length;
  lines.push(
    "",
    failed === 0
      ? c.green("All required checks passed.")
      : c.red(`${failed} required check${failed === 1 ? "" : "s"} failed; see the fix lines above.`),
  );
  return lines.join("\n");
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("doctor")
    .description("Check Node, native modules, the store, Redis/PostgreSQL and the LLM provider, and say what to fix")
    .option("--timeout <ms>", "how long to wait for the store and Redis", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 100) throw new InvalidArgumentError("expected whole milliseconds >= 100");
      return n;
    })
    .addHelpText(
      "after",
      "\nExit code 0 when every required check passes, 3 when the configuration is invalid, 4 otherwise.\n\nExamples:\n  quintet doctor\n  quintet doctor --json | jq '.checks[] | select(.status == \"fail\")'",
    )
    .action(async (opts: { timeout?: number }) => {
      let config: Awaited<ReturnType<CliContext["loadConfig"]>> | { error: unknown };
      try {
        config = await ctx.loadConfig();
      } catch (error) {
        config = { error };
      }
      const { runDoctor } = await import("../doctor/run.js");
      const spinner = await ctx.out.spinner("Checking the installation");
      const report = await runDoctor({ config, env: ctx.env, timeoutMs: opts.timeout });
      spinner.stop();
      ctx.out.result(report, (r) => table(r, ctx.out.c));
      if ("error" in config) ctx.setExitCode(EXIT.CONFIG);
      else if (!report.ok) ctx.setExitCode(EXIT.UNAVAILABLE);
    });
}
