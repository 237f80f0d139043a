import { parseHTML } from "linkedom";

/**
 * The form a URL is remembered in: no fragment, host lower-cased and default port dropped (both by
 * the URL parser), an empty path as `/`. Query strings are kept: they often select content.
 */
export function normalizeUrl(url: string | URL, base?: string | URL): string | undefined {
  let u: URL;
  try {
    u = new URL(url, base);
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  u.hash = "";
  u.username = "";
  u.password = "";
  return u.toString();
}

/** Extensions that are never pages worth fetching; skipped before any request is made. */
const BINARY_EXT =
  /\.(png|jpe?g|gif|webp|svg|ico|bmp|tiff?|mp[34]|m4a|wav|ogg|webm|avi|mov|mkv|zip|gz|tgz|bz2|xz|7z|rar|tar|exe|dmg|iso|bin|woff2?|ttf|otf|eot|css|js|mjs|map|wasm|apk|deb|rpm)$/i;

/** Whether a URL's path names a file type the crawler never reads (images, archives, fonts, scripts). */
export function looksBinary(url: string): boolean {
  try {
    return BINARY_EXT.test(new URL(url).pathname);
  } catch {
    return false;
  }
}

/** What a page says about itself and where it links. */
export interface PageLinks {
  /** Absolute, normalised http(s) links in document order, without duplicates. */
  links: string[];
  /** `<meta name="robots" content="noindex">` (or for our agent): do not index the page. */
  noindex: boolean;
  /** `<meta name="robots" content="nofollow">`: do not follow its links. */
  nofollow: boolean;
  /** `<link rel="canonical">`, when the page names one. */
  canonical?: string;
}

/**
 * Links of an HTML page, resolved against `<base href>` or the page URL. Links marked
 * `rel="nofollow"` are left out, as are non-http(s) schemes (mailto:, javascript:).
 */
export function extractLinks(html: string, pageUrl: string, agent: string): PageLinks {
  const { document } = parseHTML(html);
  const baseHref = document.querySelector("base[href]")?.getAttribute("href");
  const base = (baseHref && normalizeUrl(baseHref, pageUrl)) || pageUrl;
  let noindex = false;
  let nofollow = false;
  for (const meta of document.querySelectorAll("meta[name][content]")) {
    const name = String(meta.getAttribute("name") ?? "").toLowerCase();
    if (name !== "robots" && name !== agent.toLowerCase()) continue;
    const content = String(meta.getAttribute("content") ?? "").toLowerCase();
    if (/\b(noindex|none)\b/.test(content)) noindex = true;
    if (/\b(nofollow|none)\b/.test(content)) nofollow = true;
  }
  const seen = new Set<string>();
  const links: string[] = [];
  for (const a of document.querySelectorAll("a[href], area[href]")) {
    const rel = String(a.getAttribute("rel") ?? "").toLowerCase();
    if (/\bnofollow\b/.test(rel)) continue;
    const href = String(a.getAttribute("href") ?? "").trim();
    if (!href || href.startsWith("#")) continue;
    const u = normalizeUrl(href, base);
    if (u && !seen.has(u)) {
      seen.add(u);
      links.push(u);
    }
  }
  const canonicalHref = document.querySelector('link[rel="canonical"][href]')?.getAttribute("href");
  const canonical = canonicalHref ? normalizeUrl(canonicalHref, base) : undefined;
  return { links, noindex, nofollow, ...(canonical ? { canonical } : {}) };
}
