/**
 * Entry point of the `quintet` command (bin/quintet.js imports the built copy of this file).
 */
import { run } from "./program.js";

const code = await run(process.argv, {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
// A command that leaks a handle (a socket, a timer) must not keep the shell waiting.
setTimeout(() => process.exit(code), 2000).unref();
