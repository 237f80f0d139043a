import { run } from "./program.js";

/**
 * Runs the CLI in this process with captured output, for tests of commands that need no
 * process isolation. `--json` output can be parsed from `out`.
 */
export async function runCli(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(["node", "quintet", ...args], {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
  });
  return { code, out, err };
}
