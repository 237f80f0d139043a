import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError("expected a port number from 0 to 65535");
  return n;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("up")
    .description("Start the Quintet API server (default http://127.0.0.1:7400, docs at /docs)")
    .option("-p, --port <n>", "port to listen on; 0 picks a free one (default 7400, env QUINTET_PORT)", parsePort)
    .option("-H, --host <host>", "interface to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)")
    .addHelpText(
      "after",
      "\nStops gracefully on Ctrl+C / SIGTERM: in-flight requests finish, then the store closes.\n\nExamples:\n  quintet up\n  quintet up --port 8080\n  quintet up --host 0.0.0.0 --json",
    )
    .action(async (opts: { port?: number; host?: string }) => {
      const server: { host?: string; port?: number } = {};
      if (opts.host !== undefined) server.host = opts.host;
      if (opts.port !== undefined) server.port = opts.port;
      const config = await ctx.loadConfig({ overrides: Object.keys(server).length ? { server } : {} });
      const [{ createLogger }, { startServer }] = await Promise.all([
        import("@quintet/core"),
        import("@quintet/server"),
      ]);
      // Logs go to stderr so stdout carries only the URL (or the --json line) for scripts.
      const logger = createLogger({
        level: config.log.level,
        pretty: ctx.out.interactive,
        destination: 2,
        name: "server",
      });
      const running = await startServer({ config, logger });
      const docs = `${running.url}/docs`;
      const { c } = ctx.out;
      ctx.out.result({ url: running.url, docs, openapi: `${running.url}/openapi.json`, pid: process.pid }, (r) =>
        [
          `${c.green("✓")} Quintet is listening on ${c.bold(r.url)}`,
          `  API docs: ${r.docs}`,
          `  Store:    ${config.db.dialect === "sqlite" ? config.db.sqlitePath : config.db.dialect}`,
          "  Press Ctrl+C to stop.",
        ].join("\n"),
      );
      await running.closed;
      ctx.out.status("Stopped.");
    });
}
