import { gunzipSync } from "node:zlib";
import { ValidationError } from "@quintet/core";
import { DOMParser } from "linkedom";
import { normalizeUrl } from "./urls.js";

/** A page listed in a sitemap. */
export interface SitemapEntry {
  url: string;
  /** `<lastmod>` as epoch ms, when given and parseable. */
  lastModified?: number;
}

/** What one sitemap file holds: pages (`<urlset>`) or further sitemaps (`<sitemapindex>`). */
export interface ParsedSitemap {
  kind: "urlset" | "index";
  entries: SitemapEntry[];
}

/** Sitemaps may be served gzip-compressed (`sitemap.xml.gz`); the gzip magic bytes say so. */
export function decodeSitemapBody(bytes: Uint8Array): string {
  const raw = bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  return new TextDecoder("utf-8").decode(raw).replace(/^\uFEFF/, "");
}

/**
 * Parses a sitemap (sitemaps.org 0.9): a `<urlset>` of `<url><loc>` pages, or a `<sitemapindex>` of
 * `<sitemap><loc>` sitemaps, with optional `<lastmod>`. Plain-text sitemaps (one URL a line) are
 * accepted too. Relative or non-http(s) locations are dropped.
 */
export function parseSitemap(text: string, sitemapUrl: string): ParsedSitemap {
  const trimmed = text.trim();
  if (!trimmed.startsWith("<")) {
    const entries = trimmed
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => /^https?:\/\//i.test(l))
      .map((l) => normalizeUrl(l))
      .filter((u): u is string => Boolean(u))
      .map((url) => ({ url }));
    return { kind: "urlset", entries };
  }
  const doc = new DOMParser().parseFromString(trimmed, "text/xml");
  const root = doc.documentElement;
  const rootName = String(root?.localName ?? "").replace(/^.*:/, "");
  if (rootName !== "urlset" && rootName !== "sitemapindex") {
    throw new ValidationError(`${sitemapUrl} is not a sitemap (root element <${rootName || "none"}>)`, {
      hint: "A sitemap's root is <urlset> or <sitemapindex> (sitemaps.org 0.9).",
    });
  }
  const item = rootName === "urlset" ? "url" : "sitemap";
  const entries: SitemapEntry[] = [];
  for (const el of root.children) {
    if (String(el.localName).replace(/^.*:/, "") !== item) continue;
    let loc: string | undefined;
    let lastmod: string | undefined;
    // Only unprefixed children: <image:loc> inside <url> is an image, not the page.
    for (const c of el.children) {
      if (c.tagName === "loc") loc = String(c.textContent ?? "").trim();
      else if (c.tagName === "lastmod") lastmod = String(c.textContent ?? "").trim();
    }
    const url = loc ? normalizeUrl(loc) : undefined;
    if (!url) continue;
    const t = lastmod ? Date.parse(lastmod) : Number.NaN;
    entries.push(Number.isNaN(t) ? { url } : { url, lastModified: t });
  }
  return { kind: rootName === "urlset" ? "urlset" : "index", entries };
}
