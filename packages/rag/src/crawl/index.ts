/** The web crawler source: sitemaps, link following, robots.txt, per-host rate limits, conditional re-crawls. */
export { type CrawlCache, type CrawlCacheEntry, MemoryCrawlCache, StoreCrawlCache } from "./cache.js";
export {
  type CrawlOptions,
  CrawlOptionsSchema,
  type CrawlReport,
  WebCrawler,
  webCrawler,
} from "./crawler.js";
export { type Clock, HostRateLimiter, systemClock } from "./rate-limit.js";
export { decodeSitemapBody, type ParsedSitemap, parseSitemap, type SitemapEntry } from "./sitemap.js";
export { extractLinks, looksBinary, normalizeUrl, type PageLinks } from "./urls.js";
