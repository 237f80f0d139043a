import type { Command } from "commander";
import type { CliContext } from "../context.js";
import * as agent from "./agent.js";
import * as doctor from "./doctor.js";
import * as explain from "./explain.js";
import * as finetune from "./finetune.js";
import * as init from "./init.js";
import * as llm from "./llm.js";
import * as mcp from "./mcp.js";
import * as models from "./models.js";
import * as prompts from "./prompts.js";
import * as quickstart from "./quickstart.js";
import * as rag from "./rag.js";
import * as ragAnswer from "./rag-answer.js";
import * as runs from "./runs.js";
import * as traces from "./traces.js";
import * as train from "./train.js";
import * as up from "./up.js";

/**
 * A command group: one file in `src/commands/<name>.ts` exporting `register`, which adds
 * its command(s) to the program. Keep the top of the file light: load heavy modules
 * (DuckDB, LanceDB, the server, model code) with `await import()` inside the action so
 * `quintet --help` and every other command stay fast.
 *
 * @example
 * // src/commands/train.ts
 * export function register(program: Command, ctx: CliContext): void {
 *   program
 *     .command("train <data>")
 *     .description("Train a model on a CSV/Parquet file")
 *     .requiredOption("--target <column>", "column to predict")
 *     .action(async (data: string, opts: { target: string }) => {
 *       const config = await ctx.loadConfig();
 *       const { train } = await import("@quintet/ml");
 *       const spinner = await ctx.out.spinner("Training");
 *       …
 *       ctx.out.result(summary, (s) => `trained ${s.model}`);
 *     });
 * }
 * // then add `train` to `commandGroups` below.
 */
export interface CommandGroup {
  register(program: Command, ctx: CliContext): void;
}

/** Every command group, in the order `quintet --help` lists them. */
export const commandGroups: CommandGroup[] = [
  quickstart,
  init,
  doctor,
  up,
  train,
  runs,
  models,
  explain,
  mcp,
  llm,
  prompts,
  finetune,
  traces,
  rag,
  ragAnswer,
  agent,
];
