import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { openStore } from "@quintet/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Document } from "../documents/types.js";
import type { SourceWarning } from "../sources/types.js";
import {
  type Clock,
  type CrawlOptions,
  HostRateLimiter,
  MemoryCrawlCache,
  normalizeUrl,
  parseSitemap,
  StoreCrawlCache,
  WebCrawler,
} from "./index.js";

const para = (topic: string) =>
  `<p>${Array.from({ length: 6 }, (_, i) => `The ${topic} section explains step ${i + 1} of the ${topic} procedure in plain words for every reader.`).join(" ")}</p>`;
const page = (title: string, body: string, head = "") =>
  `<!doctype html><html><head><title>${title}</title>${head}</head><body><article><h1>${title}</h1>${body}</article></body></html>`;

interface Hit {
  path: string;
  headers: IncomingMessage["headers"];
}

/** A small site: robots.txt with a group for our agent, a gzipped sitemap behind an index, links, redirects, errors. */
function startSite(robots: (base: string) => string) {
  const hits: Hit[] = [];
  let guideVersion = 1;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    hits.push({ path: url.pathname + url.search, headers: req.headers });
    const base = `http://${req.headers.host}`;
    const html = (body: string, extra: Record<string, string> = {}) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...extra });
      res.end(body);
    };
    switch (url.pathname) {
      case "/robots.txt":
        res.writeHead(200, { "content-type": "text/plain" });
        return res.end(robots(base));
      case "/sitemap_index.xml":
        res.writeHead(200, { "content-type": "application/xml" });
        return res.end(
          `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>${base}/sitemap-pages.xml.gz</loc></sitemap></sitemapindex>`,
        );
      case "/sitemap-pages.xml.gz":
        res.writeHead(200, { "content-type": "application/gzip" });
        return res.end(
          gzipSync(
            `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>${base}/orphan</loc><lastmod>2024-05-01</lastmod></url><url><loc>${base}/guide</loc></url></urlset>`,
          ),
        );
      case "/":
        return html(
          page(
            "Home",
            `${para("home")}<a href="/guide">Guide</a> <a href="/guide#install">Install</a> <a href="/secret/x">S</a>
             <a href="/private/y">P</a> <a href="http://elsewhere.test/page">Other</a> <a href="/logo.png">img</a>
             <a href="mailto:a@b.c">mail</a> <a href="/deep/1">deep</a> <a href="/noindex">n</a> <a href="/redirect">r</a>
             <a href="/gone">g</a> <a href="/broken">b</a> <a href="/notes.md">notes</a> <a href="/ad" rel="nofollow">ad</a>`,
          ),
        );
      case "/guide": {
        const etag = `"guide-v${guideVersion}"`;
        if (req.headers["if-none-match"] === etag) {
          res.writeHead(304, { etag });
          return res.end();
        }
        return html(page("Guide", para(`guide version ${guideVersion}`)), { etag });
      }
      case "/orphan":
        return html(page("Orphan", para("orphan")));
      case "/secret/x":
      case "/private/y":
      case "/ad":
      case "/from-noindex":
        return html(page(url.pathname, para(url.pathname.replace(/\W/g, " "))));
      case "/deep/1":
      case "/deep/2":
      case "/deep/3": {
        const n = Number(url.pathname.slice(-1));
        return html(page(`Deep ${n}`, `${para(`deep level ${n}`)}<a href="/deep/${n + 1}">next</a>`));
      }
      case "/noindex":
        return html(
          page("Hidden", `${para("hidden")}<a href="/from-noindex">more</a>`, '<meta name="robots" content="noindex">'),
        );
      case "/redirect":
        res.writeHead(301, { location: "/guide" });
        return res.end();
      case "/broken":
        res.writeHead(500);
        return res.end("boom");
      case "/notes.md":
        res.writeHead(200, { "content-type": "text/markdown" });
        return res.end("# Notes\n\nRelease notes for the crawler test site.");
      default:
        res.writeHead(404);
        return res.end("not found");
    }
  });
  return {
    hits,
    bump: () => {
      guideVersion++;
    },
    start: () =>
      new Promise<string>((resolve) =>
        server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
      ),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const ROBOTS = (base: string) =>
  [
    "User-agent: *",
    "Disallow: /",
    "",
    "User-agent: quintet-rag",
    "Disallow: /secret/",
    "",
    `Sitemap: ${base}/sitemap_index.xml`,
  ].join("\n");

async function collect(source: WebCrawler, warnings: SourceWarning[] = []): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of source.load({ onWarning: (w) => warnings.push(w) })) out.push(d);
  return out;
}

describe("WebCrawler", () => {
  const site = startSite(ROBOTS);
  let base: string;
  beforeAll(async () => {
    base = await site.start();
  });
  afterAll(() => site.close());
  const crawl = (o: Partial<CrawlOptions> = {}) =>
    new WebCrawler({ seeds: [`${base}/`], allowPrivate: true, minDelayMs: 0, maxDepth: 2, name: "site", ...o });

  it("follows links and sitemaps within the host, obeys robots.txt for its agent, depth and meta robots", async () => {
    site.hits.length = 0;
    const warnings: SourceWarning[] = [];
    const crawler = crawl();
    const docs = await collect(crawler, warnings);
    const paths = docs.map((d) => new URL(d.source.key).pathname).sort();
    // /secret/ is disallowed for quintet-rag; the "*" group (Disallow: /) is not ours.
    // /deep/3 is three hops away; /noindex is read for links but not indexed; /ad is rel=nofollow.
    expect(paths).toEqual(["/", "/deep/1", "/deep/2", "/from-noindex", "/guide", "/notes.md", "/orphan", "/private/y"]);
    const requested = site.hits.map((h) => h.path);
    expect(requested).not.toContain("/secret/x");
    expect(requested).not.toContain("/logo.png");
    expect(requested).not.toContain("/deep/3");
    expect(requested).not.toContain("/ad");
    expect(requested.filter((p) => p === "/guide")).toHaveLength(1); // /redirect lands on it: read once
    expect(requested.filter((p) => p === "/robots.txt")).toHaveLength(1);
    expect(site.hits.every((h) => h.headers["user-agent"]?.startsWith("quintet-rag/"))).toBe(true);

    const guide = docs.find((d) => d.source.key === `${base}/guide`)!;
    expect(guide.id).toBe(`web:site:${base}/guide`);
    expect(guide.format).toBe("markdown");
    expect(guide.content).toContain("guide version 1 procedure");
    expect(guide.title).toBe("Guide");
    const orphan = docs.find((d) => d.source.key === `${base}/orphan`)!;
    expect(orphan.updatedAt).toBe(Date.parse("2024-05-01")); // sitemap lastmod
    expect(docs.find((d) => d.source.key.endsWith("/notes.md"))!.format).toBe("markdown");

    const report = crawler.lastReport;
    expect(report.gone).toEqual([`${base}/gone`]);
    expect(report.sitemaps).toBe(2);
    expect(report.skipped.robots).toBe(1);
    expect(report.skipped.noindex).toBe(1);
    expect(report.skipped.offsite).toBe(1);
    expect(warnings.map((w) => w.key)).toEqual([`${base}/broken`]);
    expect(warnings[0]!.message).toMatch(/500/);
  });

  it("re-crawls with conditional requests and reuses unchanged pages", async () => {
    const cache = new MemoryCrawlCache();
    const first = await collect(crawl({ cache }));
    site.hits.length = 0;
    const crawler = crawl({ cache });
    const second = await collect(crawler);
    const guideHit = site.hits.find((h) => h.path === "/guide")!;
    expect(guideHit.headers["if-none-match"]).toBe('"guide-v1"');
    expect(crawler.lastReport.notModified).toBe(1);
    const g1 = first.find((d) => d.source.key.endsWith("/guide"))!;
    const g2 = second.find((d) => d.source.key.endsWith("/guide"))!;
    expect(g2.contentHash).toBe(g1.contentHash);
    expect(second.map((d) => d.id).sort()).toEqual(first.map((d) => d.id).sort());

    site.bump();
    const third = await collect(crawl({ cache }));
    const g3 = third.find((d) => d.source.key.endsWith("/guide"))!;
    expect(g3.contentHash).not.toBe(g1.contentHash);
    expect(g3.content).toContain("guide version 2");
  });

  it("keeps validators in the core store across crawler instances", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quintet-crawl-"));
    const store = await openStore({ url: `sqlite:${join(dir, "q.db")}` });
    try {
      await collect(crawl({ cache: new StoreCrawlCache(store), sitemaps: false, maxDepth: 1 }));
      site.hits.length = 0;
      const again = crawl({ cache: new StoreCrawlCache(store), sitemaps: false, maxDepth: 1 });
      const docs = await collect(again);
      expect(again.lastReport.notModified).toBe(1);
      expect(docs.some((d) => d.source.key.endsWith("/guide"))).toBe(true);
      expect(site.hits.find((h) => h.path === "/guide")!.headers["if-none-match"]).toMatch(/guide-v/);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops at the page limit and reports what it left unfetched", async () => {
    const warnings: SourceWarning[] = [];
    const crawler = crawl({ maxPages: 3, sitemaps: false, concurrency: 1 });
    const docs = await collect(crawler, warnings);
    expect(crawler.lastReport.fetched).toBe(3);
    expect(docs.length).toBeLessThanOrEqual(3);
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.every((w) => /page limit/.test(w.message))).toBe(true);
  });

  it("refuses loopback addresses unless allowed", async () => {
    const crawler = new WebCrawler({ seeds: [`${base}/`], minDelayMs: 0 });
    await expect(collect(crawler)).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("refuses a redirect to a private address and pages on other hosts", async () => {
    const requested: string[] = [];
    const fakeFetch = (async (input: string | URL) => {
      const url = String(input);
      requested.push(url);
      const path = new URL(url).pathname;
      if (path === "/robots.txt") return new Response("", { status: 404 });
      if (path === "/") {
        return new Response(page("Home", `${para("home")}<a href="/jump">jump</a>`), {
          headers: { "content-type": "text/html" },
        });
      }
      if (path === "/jump") return new Response(null, { status: 302, headers: { location: "http://10.0.0.5/admin" } });
      return new Response("nope", { status: 404 });
    }) as typeof fetch;
    const warnings: SourceWarning[] = [];
    // A public literal address: no DNS, and the injected fetch never touches the network.
    const crawler = new WebCrawler({
      seeds: ["http://93.184.216.34/"],
      fetch: fakeFetch,
      minDelayMs: 0,
      sitemaps: false,
    });
    const docs = await collect(crawler, warnings);
    expect(docs.map((d) => d.source.key)).toEqual(["http://93.184.216.34/"]);
    expect(requested).not.toContain("http://10.0.0.5/admin");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/non-public address 10\.0\.0\.5/);
  });

  it("validates options with the field named", () => {
    expect(() => new WebCrawler({ seeds: [] })).toThrow(/seeds/);
    expect(() => new WebCrawler({ seeds: ["ftp://x/"] })).toThrow(/http/);
    expect(() => new WebCrawler({ seeds: ["http://a.test/"], maxDepth: -1 })).toThrow(/maxDepth/);
  });
});

describe("politeness", () => {
  it("spaces requests to a host by robots.txt Crawl-delay and skips hosts asking for too much", async () => {
    const site = startSite(() => "User-agent: quintet-rag\nCrawl-delay: 2\nAllow: /\n");
    const base = await site.start();
    try {
      let now = 1_000_000;
      const sleeps: number[] = [];
      const clock: Clock = {
        now: () => now,
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
        },
      };
      const crawler = new WebCrawler({
        seeds: [`${base}/`],
        allowPrivate: true,
        minDelayMs: 100,
        maxPages: 3,
        sitemaps: false,
        concurrency: 3,
        clock,
      });
      await collect(crawler);
      // robots.txt itself goes at minDelayMs, then each page waits for the 2 s crawl delay.
      expect(sleeps.length).toBeGreaterThanOrEqual(3);
      expect(sleeps.every((ms) => ms >= 100)).toBe(true);
      expect(sleeps.filter((ms) => ms >= 2000).length).toBeGreaterThanOrEqual(2);

      const warnings: SourceWarning[] = [];
      const strict = new WebCrawler({
        seeds: [`${base}/`],
        allowPrivate: true,
        minDelayMs: 0,
        maxCrawlDelayMs: 1000,
        clock,
      });
      await expect(collect(strict, warnings)).resolves.toEqual([]);
      expect(warnings[0]!.message).toMatch(/Crawl-delay|between requests/);
    } finally {
      await site.close();
    }
  });

  it("the rate limiter reserves slots per host in call order", async () => {
    let now = 0;
    const waits: Array<[string, number]> = [];
    const limiter = new HostRateLimiter({
      now: () => now,
      sleep: async (ms) => {
        waits.push(["?", ms]);
      },
    });
    await Promise.all([limiter.acquire("a", 500), limiter.acquire("a", 500), limiter.acquire("b", 500)]);
    expect(waits.map((w) => w[1])).toEqual([500]);
    now = 2000;
    await limiter.acquire("a", 500);
    expect(waits).toHaveLength(1);
  });
});

describe("sitemaps and URLs", () => {
  it("parses url sets, indexes and text sitemaps, skipping image locations", () => {
    const xml = `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
      <url><loc>https://a.test/x?a=1&amp;b=2</loc><lastmod>2024-01-02</lastmod><image:image><image:loc>https://a.test/i.png</image:loc></image:image></url>
      <url><loc><![CDATA[https://a.test/y#frag]]></loc></url><url><loc>/relative</loc></url></urlset>`;
    expect(parseSitemap(xml, "s")).toEqual({
      kind: "urlset",
      entries: [
        { url: "https://a.test/x?a=1&b=2", lastModified: Date.parse("2024-01-02") },
        { url: "https://a.test/y" },
      ],
    });
    expect(parseSitemap("https://a.test/1\nnot a url\nhttps://a.test/2\n", "s").entries).toHaveLength(2);
    expect(() => parseSitemap("<html><body>hi</body></html>", "https://a.test/sitemap.xml")).toThrow(/not a sitemap/);
    expect(normalizeUrl("HTTP://A.test:80/p#x")).toBe("http://a.test/p");
    expect(normalizeUrl("javascript:alert(1)")).toBeUndefined();
  });
});
