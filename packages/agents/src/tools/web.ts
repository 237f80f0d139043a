import { defineTool, type Tool } from "@quintet/llm";
import { UrlSource } from "@quintet/rag";
import { z } from "zod";

export interface WebFetchToolOptions {
  /** Tool name; default `fetch_page`. */
  name?: string;
  /** Hosts the agent may read (exact or `*.example.com`); default any public host. */
  allowHosts?: string[];
  /** Let the agent read private, loopback and link-local addresses. Default false: an agent must not reach the intranet by accident. */
  allowPrivate?: boolean;
  /** Most characters of page text returned to the model. Default 12 000. */
  maxChars?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

function hostAllowed(host: string, allow: readonly string[] | undefined): boolean {
  if (!allow || allow.length === 0) return true;
  return allow.some((a) => (a.startsWith("*.") ? host === a.slice(2) || host.endsWith(a.slice(1)) : host === a));
}

/**
 * A web tool for researchers: reads one page (HTML through Readability to markdown, PDF,
 * text or JSON) with every redirect hop checked against private addresses, and returns
 * its title, final text (truncated to a budget) and when it was fetched, so answers can
 * cite it.
 *
 * @example
 * const researcher = new Agent({ instructions: "…", model, tools: [webFetchTool({ allowHosts: ["*.wikipedia.org"] })] });
 */
export function webFetchTool(options: WebFetchToolOptions = {}): Tool {
  const maxChars = options.maxChars ?? 12_000;
  return defineTool({
    name: options.name ?? "fetch_page",
    description:
      "Read one web page by URL and get its main text as markdown, with its title and fetch time. Use it to check facts at their source; cite the URL.",
    parameters: z.object({ url: z.url().describe("an http(s) URL") }),
    timeoutMs: (options.timeoutMs ?? 20_000) + 1_000,
    async execute({ url }, ctx) {
      const host = new URL(url).hostname;
      if (!hostAllowed(host, options.allowHosts)) {
        return { error: `reading ${host} is not allowed for this agent`, allowedHosts: options.allowHosts };
      }
      const source = new UrlSource({
        url,
        allowPrivate: options.allowPrivate ?? false,
        timeoutMs: options.timeoutMs ?? 20_000,
        maxBytes: 5 * 1024 * 1024,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
      for await (const doc of source.load({ signal: ctx.signal })) {
        const truncated = doc.content.length > maxChars;
        return {
          url: doc.source.uri || url,
          title: doc.title,
          fetchedAt: new Date(doc.fetchedAt).toISOString(),
          text: truncated ? `${doc.content.slice(0, maxChars)}\n…` : doc.content,
          truncated,
        };
      }
      return { error: `${url} had no readable content` };
    },
  });
}
