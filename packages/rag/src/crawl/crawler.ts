import { QuintetError, TimeoutError, ValidationError } from "@quintet/core";
import { minimatch } from "minimatch";
import robotsParserModule from "robots-parser";
import { z } from "zod";
import { createDocument } from "../documents/create.js";
import type { Document, JsonValue } from "../documents/types.js";
import { htmlToMarkdown } from "../sources/parsers/html.js";
import { pdfToText } from "../sources/parsers/pdf.js";
import type { LoadOptions, Source, SourceWarning } from "../sources/types.js";
import { assertFetchableUrl } from "../sources/url.js";
import type { CrawlCache, CrawlCacheEntry } from "./cache.js";
import { type Clock, HostRateLimiter, systemClock } from "./rate-limit.js";
import { decodeSitemapBody, parseSitemap } from "./sitemap.js";
import { extractLinks, looksBinary, normalizeUrl } from "./urls.js";

export const CrawlOptionsSchema = z
  .object({
    /** Source name (part of document ids); default the first seed's host. */
    name: z.string().min(1).optional(),
    /** Start pages (depth 0). */
    seeds: z.array(z.string().min(1)).default([]),
    /**
     * Sitemaps to read for more start pages: `"auto"` (default) reads those robots.txt lists and
     * `/sitemap.xml` of each seed's site, `false` none, or a list of sitemap URLs (indexes are followed).
     */
    sitemaps: z.union([z.literal("auto"), z.literal(false), z.array(z.string().min(1))]).default("auto"),
    /** Hosts the crawl may visit (`docs.example.com`, `*.example.com`, `127.0.0.1:8080`); default the seeds' and sitemaps' hosts. */
    allowedHosts: z.array(z.string().min(1)).optional(),
    /** Globs on the URL path a page must match (`/docs/**`); default every path. */
    include: z.array(z.string().min(1)).optional(),
    /** Globs on the URL path to skip. */
    exclude: z.array(z.string().min(1)).default([]),
    /** Follow links found on pages (default true); false reads only seeds and sitemaps. */
    followLinks: z.boolean().default(true),
    /** Link hops from a seed or sitemap page (default 3). */
    maxDepth: z.number().int().min(0).default(3),
    /** Pages fetched at most (default 1000). */
    maxPages: z.number().int().min(1).default(1000),
    /** Requests in flight across hosts (default 4). */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Least time between two requests to one host (default 1000 ms); robots.txt `Crawl-delay` raises it. */
    minDelayMs: z.number().int().min(0).default(1000),
    /** A host whose `Crawl-delay` asks for more than this is skipped with a warning (default 60 s). */
    maxCrawlDelayMs: z.number().int().min(0).default(60_000),
    /** Obey robots.txt (default true). */
    respectRobots: z.boolean().default(true),
    /** Sent as User-Agent. */
    userAgent: z.string().min(1).default("quintet-rag/0.1 (+https://github.com/quintet)"),
    /** The product token robots.txt groups are matched against (default `quintet-rag`). */
    robotsAgent: z.string().min(1).default("quintet-rag"),
    /** Allow loopback, private and link-local addresses (intranets you trust; tests). */
    allowPrivate: z.boolean().default(false),
    headers: z.record(z.string(), z.string()).default({}),
    /** Per request (default 30 s). */
    timeoutMs: z.number().int().min(1).default(30_000),
    /** Bodies larger than this are skipped with a warning (default 20 MB). */
    maxBytes: z
      .number()
      .int()
      .min(1)
      .default(20 * 1024 * 1024),
    access: z.array(z.string()).optional(),
    metadata: z.record(z.string(), z.any()).default({}),
  })
  .refine((o) => o.seeds.length > 0 || Array.isArray(o.sitemaps), {
    message: "give at least one seed URL or a list of sitemaps",
    path: ["seeds"],
  });

export type CrawlOptions = z.input<typeof CrawlOptionsSchema> & {
  /** The fetch to use (default global fetch). */
  fetch?: typeof fetch;
  /** Validators and extracted pages from earlier crawls, for conditional requests. */
  cache?: CrawlCache;
  /** Time source for the per-host rate limit. */
  clock?: Clock;
};

/** What the last crawl did, for logs and tests. */
export interface CrawlReport {
  /** Pages requested (200, 304, errors), sitemaps and robots.txt excluded. */
  fetched: number;
  /** Pages answered `304 Not Modified` and served from the cache. */
  notModified: number;
  /** Documents yielded. */
  documents: number;
  sitemaps: number;
  /** Pages that answered 404 or 410: gone, so a sync deletes them. */
  gone: string[];
  skipped: { robots: number; offsite: number; filtered: number; depth: number; limit: number; noindex: number };
  /** Pages that could not be read; a sync keeps what it had for them. */
  errors: SourceWarning[];
}

/** The parts of a robots-parser result the crawler uses. */
interface Robot {
  isAllowed(url: string, ua?: string): boolean | undefined;
  getCrawlDelay(ua?: string): number | undefined;
  getSitemaps(): string[];
}
// robots-parser is CommonJS (`module.exports = fn`); its typings declare an ES default export.
const robotsParser = robotsParserModule as unknown as (url: string, contents: string) => Robot;
interface HostPolicy {
  robot: Robot | undefined;
  /** robots.txt could not be read (5xx, network): the site counts as disallowed (RFC 9309). */
  unreachable: boolean;
  intervalMs: number;
  /** Why the host is skipped altogether, if it is. */
  refused?: string;
}
interface Fetched {
  status: number;
  url: string;
  headers: Headers;
  body?: Uint8Array;
}
interface QueueItem {
  url: string;
  depth: number;
  lastModified?: number;
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|xhtml\+xml|x-ndjson))/;

/**
 * A web crawler as a document source: start pages and sitemaps (indexes followed, gzip read),
 * links followed within the allowed hosts up to `maxDepth` and `maxPages`, robots.txt obeyed
 * (Disallow/Allow and Crawl-delay for our agent; meta robots noindex/nofollow too), one request at
 * a time per host at least `minDelayMs` apart, pages turned into markdown by Readability (the
 * same path as the URL and file sources), PDFs to text. Every hop of every request is checked
 * against loopback, private and link-local addresses unless `allowPrivate`. With a `cache`,
 * re-crawls send `If-None-Match`/`If-Modified-Since` and reuse unchanged pages.
 *
 * Pages that fail (timeouts, 5xx, bad content) are reported through `onWarning` with their URL
 * as the key, so a sync keeps what it had for them; pages that answer 404/410 are reported in
 * {@link CrawlReport.gone} and simply not yielded, so a sync deletes them.
 */
export class WebCrawler implements Source {
  readonly kind = "web" as const;
  readonly name: string;
  private readonly opts: z.output<typeof CrawlOptionsSchema>;
  private readonly fetchFn: typeof fetch;
  private readonly cache: CrawlCache | undefined;
  private readonly clock: Clock;
  private report: CrawlReport = emptyReport();

  constructor(options: CrawlOptions) {
    const { fetch: f, cache, clock, ...rest } = options;
    const parsed = CrawlOptionsSchema.safeParse(rest);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid crawl options: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
        { hint: "Pass { seeds: ['https://docs.example.com/'], maxDepth?, maxPages?, allowedHosts?, sitemaps? }." },
      );
    }
    this.opts = parsed.data;
    for (const u of [...this.opts.seeds, ...(Array.isArray(this.opts.sitemaps) ? this.opts.sitemaps : [])]) {
      if (!normalizeUrl(u))
        throw new ValidationError(`not an http(s) URL: ${u}`, {
          hint: "Seeds and sitemaps are absolute http(s) URLs.",
        });
    }
    this.fetchFn = f ?? fetch;
    this.cache = cache;
    this.clock = clock ?? systemClock;
    const first = this.opts.seeds[0] ?? (Array.isArray(this.opts.sitemaps) ? this.opts.sitemaps[0] : undefined);
    this.name = this.opts.name ?? (first ? new URL(first).host : "web");
  }

  /** What the most recent {@link load} did (complete once its iteration ends). */
  get lastReport(): CrawlReport {
    return structuredClone(this.report);
  }

  async *load(options: LoadOptions = {}): AsyncIterable<Document> {
    const o = this.opts;
    const signal = options.signal;
    const report = emptyReport();
    this.report = report;
    const warn = (key: string, message: string) => {
      const w = { key, message };
      report.errors.push(w);
      options.onWarning?.(w);
    };
    const limiter = new HostRateLimiter(this.clock);
    const hosts = new Set(
      (
        o.allowedHosts ?? [...o.seeds, ...(Array.isArray(o.sitemaps) ? o.sitemaps : [])].map((u) => new URL(u).host)
      ).map((h) => h.toLowerCase()),
    );
    const inScope = (u: URL) => {
      for (const h of hosts) {
        if (h === u.host || h === u.hostname) return true;
        if (h.startsWith("*.") && (u.hostname === h.slice(2) || u.hostname.endsWith(h.slice(1)))) return true;
      }
      return false;
    };
    const pathOk = (u: URL) =>
      (!o.include || o.include.some((g) => minimatch(u.pathname, g))) &&
      !o.exclude.some((g) => minimatch(u.pathname, g));

    // Seeds name where the user wants to go: an address we refuse is an error, not a warning.
    for (const s of o.seeds) {
      const u = new URL(s);
      await assertFetchableUrl(s, { allowPrivate: o.allowPrivate });
      if (!inScope(u)) {
        throw new ValidationError(`seed ${s} is outside allowedHosts (${[...hosts].join(", ")})`, {
          hint: "Add its host to allowedHosts.",
        });
      }
    }

    const policies = new Map<string, Promise<HostPolicy>>();
    const policyFor = (u: URL) => {
      let p = policies.get(u.origin);
      if (!p) {
        p = this.readRobots(u, limiter, signal, warn);
        policies.set(u.origin, p);
      }
      return p;
    };

    const queue: QueueItem[] = [];
    const known = new Set<string>();
    const admit = async (url: string, depth: number, lastModified?: number): Promise<void> => {
      if (known.has(url)) return;
      known.add(url);
      const u = new URL(url);
      if (!inScope(u)) {
        report.skipped.offsite++;
        return;
      }
      if (!pathOk(u) || looksBinary(url)) {
        report.skipped.filtered++;
        return;
      }
      if (depth > o.maxDepth) {
        report.skipped.depth++;
        return;
      }
      const policy = await policyFor(u);
      if (policy.refused || !robotsAllow(policy, url, o)) {
        report.skipped.robots++;
        return;
      }
      queue.push(lastModified !== undefined ? { url, depth, lastModified } : { url, depth });
    };

    for (const s of o.seeds) await admit(normalizeUrl(s)!, 0);
    if (o.sitemaps !== false) {
      for (const e of await this.readSitemaps(o.sitemaps, policyFor, limiter, inScope, signal, warn, report))
        await admit(e.url, 0, e.lastModified);
    }

    const yieldedIds = new Set<string>();
    const fetchedFinal = new Set<string>();
    const ready: Document[] = [];
    const inflight = new Set<Promise<void>>();
    let started = 0;
    const visit = async (item: QueueItem) => {
      const claim = (url: string) => {
        if (known.has(url)) return false;
        known.add(url);
        return true;
      };
      const outcome = await this.visit(item, { limiter, policyFor, inScope, signal, report, fetchedFinal, claim });
      if (outcome.error) warn(item.url, outcome.error);
      if (outcome.document && !yieldedIds.has(outcome.document.id)) {
        yieldedIds.add(outcome.document.id);
        ready.push(outcome.document);
      }
      if (o.followLinks && item.depth < o.maxDepth) {
        for (const l of outcome.links) await admit(l, item.depth + 1);
      }
    };
    let failure: unknown;
    while (true) {
      while (!failure && inflight.size < o.concurrency && queue.length > 0 && started < o.maxPages) {
        const item = queue.shift()!;
        started++;
        const p: Promise<void> = visit(item)
          .catch((err) => {
            failure ??= err;
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      while (ready.length > 0) {
        report.documents++;
        yield ready.shift()!;
      }
      if (inflight.size === 0) break;
      await Promise.race(inflight);
      if (failure) await Promise.allSettled([...inflight]);
    }
    if (failure) throw failure;
    for (const item of queue) {
      report.skipped.limit++;
      // Known pages left unfetched are not gone: a sync must keep what it has for them.
      warn(item.url, `not fetched: the page limit (maxPages ${o.maxPages}) was reached`);
    }
  }

  private async visit(
    item: QueueItem,
    ctx: {
      limiter: HostRateLimiter;
      policyFor: (u: URL) => Promise<HostPolicy>;
      inScope: (u: URL) => boolean;
      signal: AbortSignal | undefined;
      report: CrawlReport;
      fetchedFinal: Set<string>;
      claim: (url: string) => boolean;
    },
  ): Promise<{ document?: Document; links: string[]; error?: string }> {
    const cached = await this.cache?.get(this.name, item.url);
    let res: Fetched | { skipped: string };
    try {
      res = await this.request(item.url, {
        limiter: ctx.limiter,
        policyFor: ctx.policyFor,
        signal: ctx.signal,
        page: { inScope: ctx.inScope, report: ctx.report, claim: ctx.claim },
        ...(cached ? { validators: cached } : {}),
      });
    } catch (err) {
      ctx.signal?.throwIfAborted();
      if (err instanceof QuintetError && err.code === "CANCELLED") throw err;
      ctx.report.fetched++;
      return { links: [], error: (err as Error).message };
    }
    if ("skipped" in res) return { links: [] };
    ctx.report.fetched++;
    if (res.status === 304 && cached) {
      ctx.report.notModified++;
      const links = cached.links;
      if (!cached.document) return { links };
      return { document: { ...cached.document, fetchedAt: this.clock.now() }, links };
    }
    if (res.status === 404 || res.status === 410) {
      ctx.report.gone.push(item.url);
      return { links: [] };
    }
    if (res.status < 200 || res.status >= 300 || !res.body) {
      return { links: [], error: `${res.url} answered ${res.status}` };
    }
    // Two URLs redirecting to one page: read it once.
    if (ctx.fetchedFinal.has(res.url)) return { links: [] };
    ctx.fetchedFinal.add(res.url);
    let page: { document?: Document; links: string[]; noindex?: boolean };
    try {
      page = await this.toDocument(res, item);
    } catch (err) {
      return { links: [], error: (err as Error).message };
    }
    if (page.noindex) ctx.report.skipped.noindex++;
    if (this.cache) {
      const entry: CrawlCacheEntry = {
        url: item.url,
        finalUrl: res.url,
        links: page.links,
        storedAt: this.clock.now(),
      };
      const etag = res.headers.get("etag");
      const lm = res.headers.get("last-modified");
      if (etag) entry.etag = etag;
      if (lm) entry.lastModified = lm;
      if (page.document) entry.document = page.document;
      await this.cache.set(this.name, entry);
    }
    return page.document ? { document: page.document, links: page.links } : { links: page.links };
  }

  private async toDocument(
    res: Fetched,
    item: QueueItem,
  ): Promise<{ document?: Document; links: string[]; noindex?: boolean }> {
    const o = this.opts;
    const bytes = res.body!;
    const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const modified = Date.parse(res.headers.get("last-modified") ?? "");
    const updatedAt = Number.isNaN(modified) ? item.lastModified : modified;
    const base = (key: string) => ({
      source: { kind: "web" as const, name: this.name, uri: key, key },
      metadata: { ...o.metadata, url: key, host: new URL(key).host, contentType: type } as Record<string, JsonValue>,
      fetchedAt: this.clock.now(),
      ...(o.access ? { access: o.access } : {}),
      ...(updatedAt !== undefined ? { updatedAt } : {}),
    });
    const text = () => new TextDecoder("utf-8").decode(bytes).replace(/^\uFEFF/, "");
    if (type === "application/pdf" || (!type && res.url.toLowerCase().endsWith(".pdf"))) {
      const pdf = await pdfToText(bytes, { name: res.url });
      return {
        document: createDocument({
          ...base(res.url),
          title: pdf.title || res.url,
          content: pdf.text,
          mimeType: "application/pdf",
        }),
        links: [],
      };
    }
    if (type.includes("html") || (!type && /^\s*<(!doctype|html)/i.test(text().slice(0, 200)))) {
      const html = text();
      const meta = extractLinks(html, res.url, o.robotsAgent);
      const links = meta.nofollow ? [] : meta.links;
      if (meta.noindex) return { links, noindex: true };
      // The page's canonical URL names the document when it is on a host we crawl, so the same
      // page reached through tracking parameters or aliases is one document.
      const key = meta.canonical && new URL(meta.canonical).host === new URL(res.url).host ? meta.canonical : res.url;
      const page = htmlToMarkdown(html, { url: res.url });
      return {
        document: createDocument({
          ...base(key),
          title: page.title || key,
          content: page.markdown,
          format: "markdown",
          mimeType: "text/html",
        }),
        links,
      };
    }
    if (TEXT_TYPES.test(type) || type === "") {
      if (type.includes("xml"))
        throw new ValidationError(`${res.url}: XML pages are not indexed`, { hint: "Exclude it." });
      const md = type === "text/markdown" || /\.(md|markdown)$/i.test(new URL(res.url).pathname);
      return {
        document: createDocument({
          ...base(res.url),
          title: res.url,
          content: text(),
          format: md ? "markdown" : "text",
          mimeType: type || "text/plain",
        }),
        links: [],
      };
    }
    throw new ValidationError(`${res.url}: unsupported content type ${type}`, {
      hint: "The crawler reads HTML, PDF, markdown, plain text and JSON; exclude other paths.",
    });
  }

  /** robots.txt of a site: parsed rules and the request interval they ask for. */
  private async readRobots(
    u: URL,
    limiter: HostRateLimiter,
    signal: AbortSignal | undefined,
    warn: (key: string, message: string) => void,
  ): Promise<HostPolicy> {
    const o = this.opts;
    if (!o.respectRobots) return { robot: undefined, unreachable: false, intervalMs: o.minDelayMs };
    const url = `${u.origin}/robots.txt`;
    let res: Fetched | { skipped: string };
    try {
      res = await this.request(url, { limiter, signal, intervalMs: o.minDelayMs });
    } catch (err) {
      signal?.throwIfAborted();
      warn(url, `robots.txt unreachable (${(err as Error).message}); the site is treated as disallowed`);
      return { robot: undefined, unreachable: true, intervalMs: o.minDelayMs };
    }
    if ("skipped" in res) return { robot: undefined, unreachable: false, intervalMs: o.minDelayMs };
    // RFC 9309: 4xx means no rules; 5xx means the site may not be crawled for now.
    if (res.status >= 500) {
      warn(url, `robots.txt answered ${res.status}; the site is treated as disallowed`);
      return { robot: undefined, unreachable: true, intervalMs: o.minDelayMs };
    }
    if (res.status >= 400 || !res.body) return { robot: undefined, unreachable: false, intervalMs: o.minDelayMs };
    const robot = robotsParser(url, new TextDecoder().decode(res.body));
    const delaySec = robot.getCrawlDelay(o.robotsAgent);
    const delayMs = typeof delaySec === "number" && Number.isFinite(delaySec) ? delaySec * 1000 : 0;
    const policy: HostPolicy = { robot, unreachable: false, intervalMs: Math.max(o.minDelayMs, delayMs) };
    if (delayMs > o.maxCrawlDelayMs) {
      policy.refused = `robots.txt asks for ${delaySec} s between requests, over maxCrawlDelayMs ${o.maxCrawlDelayMs}`;
      warn(url, `${u.host} skipped: ${policy.refused}; raise maxCrawlDelayMs to crawl it`);
    }
    return policy;
  }

  private async readSitemaps(
    given: "auto" | string[],
    policyFor: (u: URL) => Promise<HostPolicy>,
    limiter: HostRateLimiter,
    inScope: (u: URL) => boolean,
    signal: AbortSignal | undefined,
    warn: (key: string, message: string) => void,
    report: CrawlReport,
  ): Promise<Array<{ url: string; lastModified?: number }>> {
    const todo: Array<{ url: string; explicit: boolean; level: number }> = [];
    if (given === "auto") {
      const origins = [...new Set(this.opts.seeds.map((s) => new URL(s).origin))];
      for (const origin of origins) {
        const policy = await policyFor(new URL(origin));
        const listed = policy.robot?.getSitemaps() ?? [];
        for (const s of listed) todo.push({ url: s, explicit: true, level: 0 });
        if (listed.length === 0) todo.push({ url: `${origin}/sitemap.xml`, explicit: false, level: 0 });
      }
    } else for (const s of given) todo.push({ url: normalizeUrl(s)!, explicit: true, level: 0 });
    const seen = new Set<string>();
    const pages: Array<{ url: string; lastModified?: number }> = [];
    // Bounded: a sitemap index may not nest more than once by the protocol; allow a little slack.
    const MAX_SITEMAPS = 200;
    while (todo.length > 0 && seen.size < MAX_SITEMAPS) {
      const sm = todo.shift()!;
      const norm = normalizeUrl(sm.url);
      if (!norm || seen.has(norm)) continue;
      seen.add(norm);
      const u = new URL(norm);
      if (!inScope(u)) {
        if (sm.explicit) warn(norm, "sitemap is outside allowedHosts; skipped");
        continue;
      }
      const policy = await policyFor(u);
      if (!robotsAllow(policy, norm, this.opts)) continue;
      try {
        const res = await this.request(norm, { limiter, policyFor, signal });
        if ("skipped" in res) continue;
        if (res.status < 200 || res.status >= 300 || !res.body) {
          if (sm.explicit) warn(norm, `sitemap answered ${res.status}`);
          continue;
        }
        report.sitemaps++;
        const parsed = parseSitemap(decodeSitemapBody(res.body), norm);
        if (parsed.kind === "index") {
          if (sm.level < 3)
            for (const e of parsed.entries) todo.push({ url: e.url, explicit: true, level: sm.level + 1 });
        } else pages.push(...parsed.entries);
      } catch (err) {
        signal?.throwIfAborted();
        if (sm.explicit) warn(norm, `cannot read sitemap: ${(err as Error).message}`);
      }
    }
    return pages;
  }

  /**
   * One GET with redirects followed by hand (at most 5), each hop checked against non-public
   * addresses and (for pages) against the allowed hosts and robots.txt, each spaced by the host's
   * rate limit. Conditional headers go to the URL the cached validators came from.
   */
  private async request(
    url: string,
    ctx: {
      limiter: HostRateLimiter;
      signal: AbortSignal | undefined;
      policyFor?: (u: URL) => Promise<HostPolicy>;
      intervalMs?: number;
      validators?: CrawlCacheEntry;
      page?: { inScope: (u: URL) => boolean; report: CrawlReport; claim: (url: string) => boolean };
    },
  ): Promise<Fetched | { skipped: string }> {
    const o = this.opts;
    let current = url;
    for (let hop = 0; hop <= 5; hop++) {
      const u = await assertFetchableUrl(current, { allowPrivate: o.allowPrivate });
      const policy = ctx.policyFor ? await ctx.policyFor(u) : undefined;
      if (hop > 0 && ctx.page) {
        if (!ctx.page.inScope(u)) {
          ctx.page.report.skipped.offsite++;
          return { skipped: `redirect to ${current} leaves the allowed hosts` };
        }
        if (policy && (policy.refused || !robotsAllow(policy, current, o))) {
          ctx.page.report.skipped.robots++;
          return { skipped: `redirect to ${current} is disallowed by robots.txt` };
        }
        // A redirect to a page the crawl already knows (queued or read) would read it twice.
        if (!ctx.page.claim(current)) return { skipped: `redirect to ${current}, a page already known` };
      }
      await ctx.limiter.acquire(u.host, ctx.intervalMs ?? policy?.intervalMs ?? o.minDelayMs, ctx.signal);
      const headers: Record<string, string> = {
        "user-agent": o.userAgent,
        accept:
          "text/html,application/xhtml+xml,text/plain,text/markdown,application/pdf,application/xml;q=0.9,*/*;q=0.5",
        ...o.headers,
      };
      const v = ctx.validators;
      if (v && v.finalUrl === current) {
        if (v.etag) headers["if-none-match"] = v.etag;
        if (v.lastModified) headers["if-modified-since"] = v.lastModified;
      }
      const timeout = AbortSignal.timeout(o.timeoutMs);
      const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
      let res: Response;
      try {
        res = await this.fetchFn(current, { redirect: "manual", headers, signal });
      } catch (err) {
        ctx.signal?.throwIfAborted();
        if (timeout.aborted)
          throw new TimeoutError(`${current} did not answer within ${o.timeoutMs} ms`, { hint: "Raise timeoutMs." });
        throw new QuintetError("PROVIDER_ERROR", `cannot fetch ${current}: ${(err as Error).message}`, {
          hint: "Check the site is up.",
          cause: err,
        });
      }
      const loc = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && res.status !== 304 && loc) {
        await res.body?.cancel().catch(() => {});
        const next = normalizeUrl(loc, current);
        if (!next) return { skipped: `redirect to a non-http(s) location ${loc}` };
        current = next;
        continue;
      }
      const out: Fetched = { status: res.status, url: current, headers: res.headers };
      if (res.status >= 200 && res.status < 300) out.body = await readBody(res, o.maxBytes, current);
      else await res.body?.cancel().catch(() => {});
      return out;
    }
    throw new ValidationError(`${url} redirects more than 5 times`, { hint: "Seed the final URL." });
  }
}

function robotsAllow(policy: HostPolicy, url: string, o: { respectRobots: boolean; robotsAgent: string }): boolean {
  if (!o.respectRobots) return true;
  if (policy.unreachable) return false;
  // undefined: the URL is not of this robots.txt's origin (cannot happen here) — allow.
  return policy.robot?.isAllowed(url, o.robotsAgent) ?? true;
}

/** Reads a body, giving up as soon as it passes `maxBytes`. */
async function readBody(res: Response, maxBytes: number, url: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? 0);
  const tooBig = (n: number) =>
    new ValidationError(`${url} is ${n} bytes, over maxBytes ${maxBytes}`, { hint: "Raise maxBytes." });
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooBig(declared);
  }
  if (!res.body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooBig(total);
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function emptyReport(): CrawlReport {
  return {
    fetched: 0,
    notModified: 0,
    documents: 0,
    sitemaps: 0,
    gone: [],
    skipped: { robots: 0, offsite: 0, filtered: 0, depth: 0, limit: 0, noindex: 0 },
    errors: [],
  };
}

/** Shorthand for `new WebCrawler(options)`. */
export function webCrawler(options: CrawlOptions): WebCrawler {
  return new WebCrawler(options);
}
