import { QuintetError, TimeoutError, ValidationError } from "@quintet/core";
import { z } from "zod";
import type { Document, JsonValue } from "../documents/types.js";
import { FieldMappingSchema, getPath, recordToDocument } from "./mapping.js";
import type { LoadOptions, Source } from "./types.js";

const PaginationSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("none") }),
  /** `?page=1,2,…` until a page comes back empty or short. */
  z.object({
    type: z.literal("page"),
    param: z.string().min(1).default("page"),
    start: z.number().int().min(0).default(1),
    sizeParam: z.string().min(1).optional(),
    size: z.number().int().min(1).optional(),
  }),
  /** `?offset=0,100,…&limit=100` until a page comes back short. */
  z.object({
    type: z.literal("offset"),
    param: z.string().min(1).default("offset"),
    limitParam: z.string().min(1).default("limit"),
    limit: z.number().int().min(1).default(100),
  }),
  /** The body carries the next cursor (`cursorPath`), sent back as `?<param>=…`; stops when it is empty. */
  z.object({
    type: z.literal("cursor"),
    param: z.string().min(1).default("cursor"),
    cursorPath: z.string().min(1),
  }),
  /** The body carries the next page's full URL (`nextPath`, e.g. `links.next`). */
  z.object({ type: z.literal("next-url"), nextPath: z.string().min(1) }),
  /** RFC 8288 `Link: <…>; rel="next"` headers (GitHub style). */
  z.object({ type: z.literal("link-header") }),
]);

export const RestSourceOptionsSchema = z.object({
  name: z.string().min(1),
  url: z.string().url(),
  headers: z.record(z.string(), z.string()).default({}),
  /** Path to the list of items in each page's body; default: the body is the list. */
  itemsPath: z.string().min(1).optional(),
  fields: FieldMappingSchema,
  pagination: PaginationSchema.default({ type: "none" }),
  /** Stop with an error after this many pages: an API that pages forever is a bug, not data (default 1000). */
  maxPages: z.number().int().min(1).default(1000),
  /** Per-request timeout (default 30 s). */
  timeoutMs: z.number().int().min(1).default(30_000),
  /** Retries of 429/5xx/network errors per page, honouring Retry-After (default 2). */
  retries: z.number().int().min(0).max(10).default(2),
  access: z.array(z.string()).optional(),
  metadata: z.record(z.string(), z.any()).default({}),
  format: z.enum(["text", "markdown"]).default("text"),
});
export type RestSourceOptions = z.input<typeof RestSourceOptionsSchema> & {
  /** The fetch to use (default: global fetch); for proxies, custom agents and tests. */
  fetch?: typeof fetch;
};

/**
 * Documents from a paginated JSON API: each item of each page becomes a document through a field
 * mapping. Pages by number, offset, cursor, next URL or Link header; bounded by `maxPages`, and an
 * API that repeats a cursor or URL is stopped with an error rather than looped on.
 */
export class RestSource implements Source {
  readonly kind = "api" as const;
  readonly name: string;
  private readonly opts: z.output<typeof RestSourceOptionsSchema>;
  private readonly fetchFn: typeof fetch;

  constructor(options: RestSourceOptions) {
    const { fetch: f, ...rest } = options;
    const parsed = RestSourceOptionsSchema.safeParse(rest);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid REST source options: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
        { hint: "Pass { name, url, fields: { id, content, … }, itemsPath?, pagination? }." },
      );
    }
    this.opts = parsed.data;
    this.name = parsed.data.name;
    this.fetchFn = f ?? fetch;
  }

  async *load(options: LoadOptions = {}): AsyncIterable<Document> {
    const p = this.opts.pagination;
    let url: string | undefined = this.opts.url;
    let page = p.type === "page" ? p.start : 0;
    let offset = 0;
    const seen = new Set<string>();
    for (let n = 1; url; n++) {
      if (n > this.opts.maxPages) {
        throw new ValidationError(`API source "${this.name}" was still paging after ${this.opts.maxPages} pages`, {
          hint: "Check the pagination settings (an API that never returns an empty page), or raise maxPages.",
          details: { lastUrl: url },
        });
      }
      const pageUrl = new URL(url);
      if (p.type === "page") {
        pageUrl.searchParams.set(p.param, String(page));
        if (p.sizeParam && p.size) pageUrl.searchParams.set(p.sizeParam, String(p.size));
      } else if (p.type === "offset") {
        pageUrl.searchParams.set(p.param, String(offset));
        pageUrl.searchParams.set(p.limitParam, String(p.limit));
      }
      const href = pageUrl.toString();
      if (seen.has(href)) {
        throw new ValidationError(`API source "${this.name}" returned a page it had already returned (${href})`, {
          hint: "The API repeats its cursor or next link; check the pagination path.",
        });
      }
      seen.add(href);
      const { body, headers } = await this.get(href, options.signal);
      const items = this.opts.itemsPath ? getPath(body, this.opts.itemsPath) : body;
      if (!Array.isArray(items)) {
        throw new ValidationError(
          `API source "${this.name}": page ${n} has no list${this.opts.itemsPath ? ` at "${this.opts.itemsPath}"` : ""}`,
          {
            hint: `Set itemsPath to the field holding the items (top-level fields: ${
              body && typeof body === "object" ? Object.keys(body).slice(0, 12).join(", ") : typeof body
            }).`,
          },
        );
      }
      const fetchedAt = Date.now();
      for (let i = 0; i < items.length; i++) {
        yield recordToDocument(items[i], this.opts.fields, {
          kind: "api",
          name: this.name,
          uri: (key) => `${this.opts.url}#${encodeURIComponent(key)}`,
          where: `page ${n} item ${i}`,
          format: this.opts.format,
          metadata: this.opts.metadata as Record<string, JsonValue>,
          fetchedAt,
          ...(this.opts.access ? { access: this.opts.access } : {}),
        });
      }
      url = undefined;
      if (items.length === 0) break;
      switch (p.type) {
        case "page":
          page++;
          if (p.size && items.length < p.size) break;
          url = this.opts.url;
          break;
        case "offset":
          offset += items.length;
          if (items.length < p.limit) break;
          url = this.opts.url;
          break;
        case "cursor": {
          const c = getPath(body, p.cursorPath);
          if (c !== undefined && c !== null && c !== "" && c !== false) {
            const next = new URL(this.opts.url);
            next.searchParams.set(p.param, String(c));
            url = next.toString();
          }
          break;
        }
        case "next-url": {
          const next = getPath(body, p.nextPath);
          if (typeof next === "string" && next) url = new URL(next, href).toString();
          break;
        }
        case "link-header": {
          const next = parseNextLink(headers.get("link"));
          if (next) url = new URL(next, href).toString();
          break;
        }
        case "none":
          break;
      }
    }
  }

  private async get(url: string, signal?: AbortSignal): Promise<{ body: unknown; headers: Headers }> {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const timeout = AbortSignal.timeout(this.opts.timeoutMs);
      const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
      let res: Response;
      try {
        res = await this.fetchFn(url, {
          headers: { accept: "application/json", ...this.opts.headers },
          signal: combined,
        });
      } catch (err) {
        signal?.throwIfAborted();
        if (timeout.aborted) {
          if (attempt < this.opts.retries) continue;
          throw new TimeoutError(`API source "${this.name}": ${url} did not answer within ${this.opts.timeoutMs} ms`, {
            hint: "Raise timeoutMs or check the API is up.",
          });
        }
        if (attempt < this.opts.retries) {
          await sleep(backoff(attempt), signal);
          continue;
        }
        throw new QuintetError(
          "PROVIDER_ERROR",
          `API source "${this.name}": cannot reach ${url}: ${(err as Error).message}`,
          {
            hint: "Check the URL and the network.",
            cause: err,
          },
        );
      }
      if (res.status === 429 || res.status >= 500) {
        await res.body?.cancel().catch(() => {});
        if (attempt < this.opts.retries) {
          await sleep(retryAfter(res.headers) ?? backoff(attempt), signal);
          continue;
        }
      }
      if (!res.ok) {
        const text = (await res.text().catch(() => "")).slice(0, 200);
        throw new QuintetError(
          res.status === 401 || res.status === 403
            ? "UNAUTHORIZED"
            : res.status === 404
              ? "NOT_FOUND"
              : "PROVIDER_ERROR",
          `API source "${this.name}": ${url} answered ${res.status}${text ? `: ${text}` : ""}`,
          {
            hint:
              res.status === 401 || res.status === 403
                ? "Set the auth header in `headers`."
                : "Check the URL and parameters.",
          },
        );
      }
      const text = await res.text();
      try {
        return { body: JSON.parse(text), headers: res.headers };
      } catch (err) {
        throw new ValidationError(`API source "${this.name}": ${url} did not answer JSON (${text.slice(0, 80)}…)`, {
          hint: "Point the source at a JSON endpoint.",
          cause: err,
        });
      }
    }
  }
}

function parseNextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (m && /rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

function retryAfter(h: Headers): number | undefined {
  const v = h.get("retry-after");
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.min(30_000, s * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.min(30_000, Math.max(0, t - Date.now()));
}

const backoff = (attempt: number) => Math.min(8000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** Shorthand for `new RestSource(options)`. */
export function restSource(options: RestSourceOptions): RestSource {
  return new RestSource(options);
}
