import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
// The low-level Server, not McpServer: our tools already carry their JSON Schema (some come
// from OpenAPI or other MCP servers, with no zod shape McpServer could advertise).
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { ValidationError } from "@quintet/core";
import type { Tool } from "@quintet/llm";

export interface McpServerOptions {
  /** Server name and version announced in the handshake. */
  name?: string;
  version?: string;
  /**
   * Approves calls of side-effecting tools coming from MCP clients. Without it those tools
   * are listed but refuse to run (unless `allowSideEffects`).
   */
  approve?: (tool: Tool, args: unknown) => boolean | Promise<boolean>;
  allowSideEffects?: boolean;
}

function text(t: string, isError = false) {
  return { content: [{ type: "text" as const, text: t }], ...(isError ? { isError: true } : {}) };
}

/**
 * An MCP server (protocol object, not yet on a transport) exposing Quintet tools: each tool
 * is listed with its JSON Schema and `readOnlyHint`/`destructiveHint` from its side-effect
 * flag; calls are validated, time-limited and, for side-effecting tools, gated.
 */
export function createMcpServer(tools: readonly Tool[], options: McpServerOptions = {}): Server {
  const byName = new Map<string, Tool>();
  for (const t of tools) {
    if (byName.has(t.name)) {
      throw new ValidationError(`two tools are named "${t.name}"`, { hint: "Tool names must be unique." });
    }
    byName.set(t.name, t);
  }
  const server = new Server(
    { name: options.name ?? "quintet", version: options.version ?? "0.1.0" },
    { capabilities: { tools: {} } },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [...byName.values()].map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: { type: "object" as const, ...t.spec.parameters },
      annotations: { readOnlyHint: !t.sideEffects, destructiveHint: t.sideEffects },
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = byName.get(request.params.name);
    if (!tool) {
      return text(`unknown tool "${request.params.name}"; available: ${[...byName.keys()].join(", ")}`, true);
    }
    const parsed = tool.parameters.safeParse(request.params.arguments ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
      return text(`invalid arguments for ${tool.name}: ${issues}`, true);
    }
    if (tool.sideEffects && !options.allowSideEffects) {
      const ok = options.approve ? await options.approve(tool, parsed.data) : false;
      if (!ok) return text(`${tool.name} has side effects and was not approved`, true);
    }
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    extra.signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => ac.abort(), tool.timeoutMs);
    try {
      const value = await Promise.race([
        Promise.resolve(tool.execute(parsed.data, { signal: ac.signal, callId: String(extra.requestId), step: 0 })),
        new Promise<never>((_, reject) =>
          ac.signal.addEventListener("abort", () => reject(new Error(`${tool.name} timed out or was cancelled`)), {
            once: true,
          }),
        ),
      ]);
      const isObject = typeof value === "object" && value !== null && !Array.isArray(value);
      return {
        content: [{ type: "text" as const, text: typeof value === "string" ? value : JSON.stringify(value ?? null) }],
        ...(isObject ? { structuredContent: value as Record<string, unknown> } : {}),
      };
    } catch (err) {
      return text(`${tool.name} failed: ${err instanceof Error ? err.message : String(err)}`, true);
    } finally {
      clearTimeout(timer);
      extra.signal.removeEventListener("abort", onAbort);
    }
  });
  return server;
}

export interface ServeMcpOptions extends McpServerOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default `/mcp`. */
  path?: string;
}

/** A running MCP endpoint. */
export interface McpHttpServer {
  url: string;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return JSON.parse(Buffer.concat(parts).toString("utf8"));
}

function jsonRpcError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

/**
 * Serves tools over MCP streamable HTTP (stateless: a fresh protocol server per request,
 * so any number of clients can call concurrently and nothing is held between requests).
 *
 * @example
 * const mcp = await serveMcp([retrieverTool(search)], { port: 7410 });
 * // clients connect to mcp.url (http://127.0.0.1:7410/mcp)
 */
export async function serveMcp(tools: readonly Tool[], options: ServeMcpOptions = {}): Promise<McpHttpServer> {
  const path = options.path ?? "/mcp";
  createMcpServer(tools, options); // validates the tool set up front
  const http = createServer((req, res) => {
    void (async () => {
      if ((req.url ?? "").split("?")[0] !== path)
        return jsonRpcError(res, 404, `not found; the MCP endpoint is ${path}`);
      if (req.method !== "POST")
        return jsonRpcError(res, 405, "method not allowed: this stateless server takes POST only");
      let body: unknown;
      try {
        body = await readJson(req);
      } catch {
        return jsonRpcError(res, 400, "the body is not valid JSON");
      }
      const server = createMcpServer(tools, options);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => {
        void transport.close();
        void server.close();
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(req, res, body);
      } catch (err) {
        if (!res.headersSent) jsonRpcError(res, 500, (err as Error).message);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = http.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}${path}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.close((err) => (err ? reject(err) : resolve()));
        http.closeAllConnections();
      }),
  };
}
