import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { QuintetError, ValidationError } from "@quintet/core";
import type { Tool } from "@quintet/llm";
import { z } from "zod";
import { jsonSchemaTool, toolName } from "./json-schema-tool.js";

export const McpServerConfigSchema = z.union([
  z
    .object({
      name: z.string().min(1),
      transport: z.literal("stdio").optional(),
      command: z.string().min(1),
      args: z.array(z.string()).optional(),
      env: z.record(z.string(), z.string()).optional(),
      cwd: z.string().optional(),
    })
    .strict(),
  z
    .object({
      name: z.string().min(1),
      transport: z.literal("http"),
      url: z.string().url(),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .strict(),
]);

/** An MCP server to connect to: a command speaking stdio, or a streamable HTTP endpoint. */
export type McpServerConfig = z.infer<typeof McpServerConfigSchema>;

export interface McpToolsOptions {
  /** Only these MCP tool names. */
  include?: string[];
  /** Prepended to tool names (default `<server name>_`; "" for none). */
  prefix?: string;
  /**
   * Which tools have side effects (default: those the server does not mark `readOnlyHint`,
   * as the MCP spec says to assume).
   */
  sideEffects?: (tool: { name: string; annotations?: Record<string, unknown> | undefined }) => boolean;
  /** Per call (default 60 s). */
  timeoutMs?: number;
}

interface McpContent {
  type: string;
  text?: string;
  mimeType?: string;
  data?: string;
  resource?: { uri?: string; text?: string };
  uri?: string;
}

function render(content: McpContent[]): string {
  return content
    .map((c) => {
      if (c.type === "text") return c.text ?? "";
      if (c.type === "resource") return c.resource?.text ?? `[resource ${c.resource?.uri ?? ""}]`;
      if (c.type === "resource_link") return `[resource link ${c.uri ?? ""}]`;
      return `[${c.type}${c.mimeType ? ` ${c.mimeType}` : ""}${c.data ? `, ${c.data.length} base64 characters` : ""}]`;
    })
    .join("\n");
}

/**
 * A client of one MCP server (stdio or streamable HTTP) whose tools become agent tools.
 * If the server dies, the call in flight fails with a clear error (which the agent sees as
 * a tool error) and the next call reconnects — for stdio by starting the server again.
 *
 * @example
 * const fs = await McpClient.connect({ name: "fs", command: "npx", args: ["@modelcontextprotocol/server-filesystem", "."] });
 * const agent = new Agent({ ..., tools: await fs.tools() });
 * await fs.close();
 */
export class McpClient {
  private client: Client | undefined;
  private transport: Transport | undefined;
  private connecting: Promise<Client> | undefined;
  private closed = false;

  private constructor(readonly config: McpServerConfig) {}

  /** Connects (the handshake included). @throws ValidationError for a bad config, QuintetError(PROVIDER_ERROR) when the server cannot be reached. */
  static async connect(config: McpServerConfig): Promise<McpClient> {
    const parsed = McpServerConfigSchema.safeParse(config);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid MCP server config: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
        { hint: "Give { name, command, args? } for stdio or { name, transport: 'http', url } for streamable HTTP." },
      );
    }
    const c = new McpClient(parsed.data);
    await c.ensure();
    return c;
  }

  get name(): string {
    return this.config.name;
  }

  /** True while the connection is up. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /** The server process id (stdio), e.g. to watch it. */
  get pid(): number | undefined {
    return this.transport instanceof StdioClientTransport ? (this.transport.pid ?? undefined) : undefined;
  }

  private ensure(): Promise<Client> {
    if (this.closed) {
      return Promise.reject(
        new QuintetError("PROVIDER_ERROR", `MCP client ${this.config.name} is closed`, { hint: "Connect again." }),
      );
    }
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<Client> {
    const cfg = this.config;
    const transport: Transport =
      cfg.transport === "http"
        ? new StreamableHTTPClientTransport(
            new URL(cfg.url),
            cfg.headers ? { requestInit: { headers: cfg.headers } } : {},
          )
        : new StdioClientTransport({
            command: cfg.command,
            ...(cfg.args ? { args: cfg.args } : {}),
            ...(cfg.env ? { env: cfg.env } : {}),
            ...(cfg.cwd ? { cwd: cfg.cwd } : {}),
            stderr: "pipe",
          });
    const client = new Client({ name: "quintet-agents", version: "0.1.0" });
    client.onclose = () => {
      if (this.client === client) {
        this.client = undefined;
        this.transport = undefined;
      }
    };
    try {
      await client.connect(transport);
    } catch (err) {
      await transport.close().catch(() => {});
      throw new QuintetError("PROVIDER_ERROR", `cannot connect to MCP server ${cfg.name}: ${(err as Error).message}`, {
        hint:
          cfg.transport === "http"
            ? `Check that ${cfg.url} is an MCP streamable HTTP endpoint and is running.`
            : `Check that \`${cfg.command} ${(cfg.args ?? []).join(" ")}\` starts an MCP server on stdio.`,
        cause: err,
      });
    }
    this.client = client;
    this.transport = transport;
    return client;
  }

  /** The server's tools as agent tools (listed now; call again after the server changes them). */
  async tools(options: McpToolsOptions = {}): Promise<Tool[]> {
    const client = await this.ensure();
    const listed: {
      name: string;
      description?: string;
      inputSchema: Record<string, unknown>;
      annotations?: Record<string, unknown>;
    }[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined);
      listed.push(...(page.tools as typeof listed));
      cursor = page.nextCursor;
    } while (cursor);
    if (options.include) {
      const missing = options.include.filter((n) => !listed.some((t) => t.name === n));
      if (missing.length) {
        throw new ValidationError(`MCP server ${this.config.name} has no tool named ${missing.join(", ")}`, {
          hint: `Its tools are: ${listed.map((t) => t.name).join(", ")}.`,
        });
      }
    }
    const prefix = options.prefix ?? `${toolName(this.config.name)}_`;
    const isSideEffect = options.sideEffects ?? ((t) => t.annotations?.readOnlyHint !== true);
    const timeoutMs = options.timeoutMs ?? 60_000;
    return listed
      .filter((t) => !options.include || options.include.includes(t.name))
      .map((t) =>
        jsonSchemaTool({
          name: toolName(`${prefix}${t.name}`),
          description: t.description ?? t.name,
          inputSchema: t.inputSchema,
          sideEffects: isSideEffect(t),
          timeoutMs,
          execute: (args, ctx) => this.call(t.name, args as Record<string, unknown>, { signal: ctx.signal, timeoutMs }),
        }),
      );
  }

  /**
   * Calls a tool by its MCP name. Returns the structured content when the server gives one,
   * else the text of the content parts. A result flagged `isError` throws with its text.
   */
  async call(
    name: string,
    args: Record<string, unknown>,
    o: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<unknown> {
    const client = await this.ensure();
    let result: { content?: unknown; structuredContent?: unknown; isError?: boolean };
    try {
      result = (await client.callTool({ name, arguments: args }, undefined, {
        ...(o.signal ? { signal: o.signal } : {}),
        timeout: o.timeoutMs ?? 60_000,
      })) as typeof result;
    } catch (err) {
      const gone = !this.client;
      throw new QuintetError(
        "PROVIDER_ERROR",
        gone
          ? `MCP server ${this.config.name} closed the connection during ${name} (${(err as Error).message}); the next call reconnects`
          : `MCP call ${name} on ${this.config.name} failed: ${(err as Error).message}`,
        { details: { server: this.config.name, tool: name }, cause: err },
      );
    }
    const text = render((result.content ?? []) as McpContent[]);
    if (result.isError) throw new Error(text || `${name} reported an error`);
    return result.structuredContent ?? text;
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = undefined;
    this.transport = undefined;
    await c?.close();
  }
}
