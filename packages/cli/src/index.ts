/**
 * @quintet/cli: the `quintet` command. Importing this module does not run it; use
 * {@link run} to embed it or `bin/quintet.js` to execute it.
 */
export { type CommandGroup, commandGroups } from "./commands/index.js";
export { CliContext, type CliIo, type GlobalOptions, type LoadConfigOptions } from "./context.js";
export { EXIT, type ExitCode, exitCodeFor, UsageError } from "./exit-codes.js";
export { Output, type OutputStream, type Progress, type Spinner } from "./output.js";
export { createProgram, run } from "./program.js";
export { CLI_VERSION } from "./version.js";
