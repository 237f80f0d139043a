import { Command, CommanderError } from "commander";
import { commandGroups } from "./commands/index.js";
import { CliContext, type CliIo } from "./context.js";
import { EXIT, type ExitCode, exitCodeFor, UsageError } from "./exit-codes.js";
import { CLI_VERSION } from "./version.js";

const EXIT_CODES_HELP = `
Exit codes: 0 ok, 1 failure, 2 usage error, 3 invalid configuration, 4 a dependency is unavailable.
Set QUINTET_DEBUG=1 to print stack traces.`;

/** Builds the `quintet` program with every command group registered. */
export function createProgram(ctx: CliContext): Command {
  const program = new Command("quintet")
    .description("Quintet, the AI engineering stack for TypeScript: ML, LLMs, RAG and agents on one store and trace.")
    .version(CLI_VERSION, "-v, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .option("--json", "print machine-readable JSON on stdout")
    .option("--config <file>", "read this config file instead of ./quintet.config.json")
    .option("--home <dir>", "project state folder (default ./.quintet; env QUINTET_HOME)")
    .option("--db <url>", "store URL: sqlite:<path> or postgres://… (env QUINTET_DB_URL)")
    .showSuggestionAfterError(true)
    // Commander would print its own message and call process.exit; we print one line and choose the code.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void ctx.io.stdout.write(s),
      writeErr: (s) => void ctx.io.stderr.write(s),
      outputError: () => {},
    })
    .addHelpText("after", EXIT_CODES_HELP);
  // Subcommands copy these settings when created, so they must be set before registering.
  ctx.attach(program);
  for (const group of commandGroups) group.register(program, ctx);
  return program;
}

function isDebug(env: NodeJS.ProcessEnv): boolean {
  return env.QUINTET_DEBUG === "1" || env.QUINTET_DEBUG === "true";
}

/** `error: unknown option '--x'` → `unknown option '--x'`, with commander's suggestion kept. */
function usageMessage(err: CommanderError): string {
  return err.message.replace(/^error:\s*/, "").replace(/\s*\n\s*/g, " ");
}

/**
 * Runs the CLI on `argv` (as in `process.argv`) and resolves with the exit code. Errors are
 * printed as one line (`error[CODE]: message (fix: hint)`), with the stack only when
 * `QUINTET_DEBUG=1`.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const ctx = new CliContext(io);
  const program = createProgram(ctx);
  try {
    await program.parseAsync([...argv]);
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; `quintet` alone prints help with code 1.
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.OK;
      if (err.code === "commander.help") return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      const usage = new UsageError(usageMessage(err), `Run \`${commandPath(program, argv)} --help\` to see the usage.`);
      await printError(ctx, usage);
      return EXIT.USAGE;
    }
    await printError(ctx, err);
    return exitCodeFor(err);
  }
}

/** `quintet` or `quintet <command>` for the help hint, from the first known command in argv. */
function commandPath(program: Command, argv: readonly string[]): string {
  const names = new Set(program.commands.flatMap((c) => [c.name(), ...c.aliases()]));
  const sub = argv.slice(2).find((a) => names.has(a));
  return sub ? `quintet ${sub}` : "quintet";
}

async function printError(ctx: CliContext, err: unknown): Promise<void> {
  let line: string;
  try {
    const { formatError, ValidationError } = await import("@quintet/core");
    const shown =
      err instanceof UsageError ? new ValidationError(err.message, { hint: err.hint }) : (err as Error | undefined);
    line = formatError(shown);
  } catch (loadErr) {
    // Core itself failed to load (a broken install): still say what happened, on one line.
    const e = err as { code?: unknown; message?: unknown; hint?: unknown };
    line = `error[${typeof e?.code === "string" ? e.code : "INTERNAL"}]: ${String(e?.message ?? err)}${
      typeof e?.hint === "string" ? ` (fix: ${e.hint})` : ""
    }`;
    if (isDebug(ctx.env)) ctx.io.stderr.write(`while loading @quintet/core: ${String(loadErr)}\n`);
  }
  ctx.out.error(line);
  if (isDebug(ctx.env) && err instanceof Error && err.stack) ctx.io.stderr.write(`${err.stack}\n`);
}
