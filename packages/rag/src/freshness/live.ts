import { QuintetError, TimeoutError, ValidationError } from "@quintet/core";
import { assertFetchableUrl } from "../sources/url.js";

/** What a live source answers: current data, with the time it describes. */
export interface LiveResult {
  title: string;
  text: string;
  uri?: string;
  /** Epoch ms the data is as of (a quote's time, a status page's update); default: when it was fetched. */
  timestamp?: number;
}

/**
 * A source queried at request time rather than indexed: prices, stock levels, service status,
 * anything that is stale by the time an index could hold it. Its results enter the answer's
 * context with their timestamp and source name.
 */
export interface LiveSource {
  readonly name: string;
  readonly description?: string;
  /** Whether the source has anything to say about this question (default: always asked). */
  appliesTo?(question: string): boolean;
  query(question: string, options: { signal: AbortSignal }): Promise<LiveResult | LiveResult[] | null | undefined>;
}

/** One live result as it enters the context. */
export interface LiveContextItem {
  /** `live:<source>:<n>` */
  id: string;
  source: string;
  title: string;
  text: string;
  uri?: string;
  /** What the data is as of (epoch ms). */
  timestamp: number;
  /** When Quintet fetched it (epoch ms). */
  fetchedAt: number;
  latencyMs: number;
}

const NAME_RE = /^[A-Za-z0-9][\w.:-]{0,63}$/;

function checkName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new ValidationError(`invalid live source name "${name}"`, {
      hint: "Use 1–64 letters, digits, _ . : -, starting with a letter or digit.",
    });
  }
}

/** A live source from a function. */
export function defineLiveSource(def: {
  name: string;
  description?: string;
  appliesTo?: (question: string) => boolean;
  query: LiveSource["query"];
}): LiveSource {
  checkName(def.name);
  if (typeof def.query !== "function")
    throw new ValidationError(`live source "${def.name}" needs a query function`, { hint: "Pass query(question)." });
  return { ...def };
}

export interface HttpLiveSourceOptions {
  name: string;
  description?: string;
  /** The endpoint, or a function building it from the question (encode what you insert). */
  url: string | ((question: string) => string);
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  /** JSON body for POST, from the question. */
  body?: (question: string) => unknown;
  /** Turns the parsed JSON into results; null means nothing relevant. */
  map: (json: unknown, question: string) => LiveResult | LiveResult[] | null | undefined;
  appliesTo?: (question: string) => boolean;
  /** Allow loopback/private addresses (an internal API you trust; tests). */
  allowPrivate?: boolean;
  /** Responses larger than this are refused (default 1 MB). */
  maxBytes?: number;
  fetch?: typeof fetch;
}

/**
 * A live source over an HTTP JSON API, with the same address checks as every other fetch
 * (non-public addresses refused unless `allowPrivate`). A result without its own timestamp is
 * stamped with the response's `Date` header, else the time it arrived.
 */
export function httpLiveSource(options: HttpLiveSourceOptions): LiveSource {
  checkName(options.name);
  const f = options.fetch ?? fetch;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  return {
    name: options.name,
    ...(options.description ? { description: options.description } : {}),
    ...(options.appliesTo ? { appliesTo: options.appliesTo } : {}),
    async query(question, { signal }) {
      const url = typeof options.url === "function" ? options.url(question) : options.url;
      await assertFetchableUrl(url, { allowPrivate: options.allowPrivate ?? false });
      const init: RequestInit = {
        method: options.method ?? "GET",
        headers: { accept: "application/json", ...options.headers },
        redirect: "error",
        signal,
      };
      if (options.body) {
        init.body = JSON.stringify(options.body(question));
        (init.headers as Record<string, string>)["content-type"] = "application/json";
      }
      const res = await f(url, init);
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        throw new QuintetError("PROVIDER_ERROR", `live source ${options.name} answered ${res.status}`, {
          hint: `Check ${url}.`,
        });
      }
      const text = await res.text();
      if (text.length > maxBytes)
        throw new ValidationError(`live source ${options.name} sent ${text.length} bytes, over ${maxBytes}`, {
          hint: "Raise maxBytes or ask the API for less.",
        });
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new ValidationError(`live source ${options.name} did not send JSON: ${(err as Error).message}`, {
          hint: "The endpoint must answer application/json.",
        });
      }
      const mapped = options.map(json, question);
      const date = Date.parse(res.headers.get("date") ?? "");
      const stamp = (r: LiveResult): LiveResult =>
        r.timestamp !== undefined || Number.isNaN(date) ? r : { ...r, timestamp: date };
      if (!mapped) return null;
      return Array.isArray(mapped) ? mapped.map(stamp) : stamp(mapped);
    },
  };
}

/**
 * Asks every applicable live source in parallel, each bounded by `timeoutMs` (default 5 s). A
 * source that fails or times out does not fail the request: it is listed in `errors` and the
 * answer goes on without it.
 */
export async function queryLiveSources(
  sources: readonly LiveSource[],
  question: string,
  options: { timeoutMs?: number; signal?: AbortSignal; now?: () => number } = {},
): Promise<{ items: LiveContextItem[]; errors: Array<{ source: string; message: string }> }> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const items: LiveContextItem[] = [];
  const errors: Array<{ source: string; message: string }> = [];
  await Promise.all(
    sources.map(async (s) => {
      if (s.appliesTo && !s.appliesTo(question)) return;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      const t0 = performance.now();
      try {
        const r = await Promise.race([
          s.query(question, { signal }),
          new Promise<never>((_, reject) =>
            signal.addEventListener(
              "abort",
              () =>
                reject(
                  timeout.aborted
                    ? new TimeoutError(`live source ${s.name} did not answer within ${timeoutMs} ms`)
                    : signal.reason,
                ),
              { once: true },
            ),
          ),
        ]);
        const fetchedAt = now();
        const list = r ? (Array.isArray(r) ? r : [r]) : [];
        list.forEach((x, i) => {
          if (!x || typeof x.text !== "string" || !x.text.trim()) return;
          const item: LiveContextItem = {
            id: `live:${s.name}:${i + 1}`,
            source: s.name,
            title: x.title || s.name,
            text: x.text,
            timestamp: x.timestamp ?? fetchedAt,
            fetchedAt,
            latencyMs: performance.now() - t0,
          };
          if (x.uri) item.uri = x.uri;
          items.push(item);
        });
      } catch (err) {
        options.signal?.throwIfAborted();
        errors.push({ source: s.name, message: (err as Error).message });
      }
    }),
  );
  items.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : a.id < b.id ? -1 : 1));
  return { items, errors };
}

/** A live item's text as it goes into a prompt: the data, then where it came from and when. */
export function formatLiveItem(item: LiveContextItem): string {
  return `${item.text.trim()}\n(live data from ${item.source}, as of ${new Date(item.timestamp).toISOString()})`;
}
