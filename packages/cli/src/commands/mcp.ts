import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError("expected a port number from 0 to 65535");
  return n;
}

export function register(program: Command, ctx: CliContext): void {
  const mcp = program.command("mcp").description("Quintet's own tools over the Model Context Protocol");
  mcp
    .command("serve")
    .description("Serve a predict tool for every registered model with a champion alias, over streamable HTTP")
    .option("-p, --port <n>", "port (default 7401; 0 picks a free one)", port, 7401)
    .option("-H, --host <host>", "interface to bind (default 127.0.0.1)", "127.0.0.1")
    .option("--alias <alias>", "serve the versions this alias points at (default champion)", "champion")
    .addHelpText(
      "after",
      "\nEach tool takes { rows: [...] } typed by the model's input schema and answers with the\npredictions and the model version. Point any MCP client (Claude Desktop, an IDE, Quintet's own\nagents) at the printed URL. Stops on Ctrl+C / SIGTERM.\n\nExample:\n  quintet mcp serve --port 7401",
    )
    .action(async (opts: { port: number; host: string; alias: string }) => {
      await ctx.withProject(async ({ store, artifacts }) => {
        const [{ ModelRegistry, registryTools }, { serveMcp }] = await Promise.all([
          import("@quintet/platform"),
          import("@quintet/agents"),
        ]);
        const tools = await registryTools(new ModelRegistry(store, artifacts), opts.alias);
        if (tools.length === 0) {
          const { NotFoundError } = await import("@quintet/core");
          throw new NotFoundError(`no registered model has the alias "${opts.alias}"`, {
            hint: "Train one (quintet train … or quintet quickstart), or move an alias: quintet models alias <name> champion <version>.",
          });
        }
        const server = await serveMcp(tools, { name: "quintet", host: opts.host, port: opts.port });
        ctx.out.result({ url: server.url, tools: tools.map((t) => t.name) }, (r) =>
          [`MCP endpoint: ${r.url}`, `Tools: ${r.tools.join(", ")}`, "Press Ctrl+C to stop."].join("\n"),
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off("SIGINT", stop);
            process.off("SIGTERM", stop);
            resolve();
          };
          process.on("SIGINT", stop);
          process.on("SIGTERM", stop);
        });
        await server.close();
      });
    });
}
