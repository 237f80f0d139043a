import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { QuintetError, TimeoutError, ValidationError } from "@quintet/core";
import ipaddr from "ipaddr.js";
import { createDocument } from "../documents/create.js";
import type { Document, JsonValue } from "../documents/types.js";
import { htmlToMarkdown } from "./parsers/html.js";
import { pdfToText } from "./parsers/pdf.js";
import type { LoadOptions, Source } from "./types.js";

/** Address ranges a fetch refuses unless allowed: loopback, private, link-local, CGNAT, multicast, reserved. */
const BLOCKED_RANGES = new Set([
  "unspecified",
  "broadcast",
  "multicast",
  "linkLocal",
  "loopback",
  "private",
  "uniqueLocal",
  "carrierGradeNat",
  "reserved",
  "benchmarking",
  "ipv4Mapped",
  "rfc6145",
  "rfc6052",
  "6to4",
  "teredo",
  "as112",
  "as112v6",
  "orchid2",
  "droneRemoteIdProtocolEntityTags",
]);

/** Whether an IP address is one a server-side fetch must not reach by default. */
export function isNonPublicAddress(address: string): boolean {
  let addr = ipaddr.parse(address);
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress())
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  return BLOCKED_RANGES.has(addr.range());
}

/**
 * Refuses URLs that are not http(s) or whose host resolves to a loopback, private, link-local or
 * otherwise non-public address (server-side request forgery), unless `allowPrivate` is set.
 * Every address the name resolves to is checked.
 */
export async function assertFetchableUrl(url: string, options: { allowPrivate?: boolean } = {}): Promise<URL> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ValidationError(`not a URL: ${url}`, { hint: "Pass an absolute http(s) URL." });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ValidationError(`unsupported URL scheme ${u.protocol} in ${url}`, {
      hint: "Only http and https URLs are fetched.",
    });
  }
  if (options.allowPrivate) return u;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address);
    } catch (err) {
      throw new QuintetError(
        "NOT_FOUND",
        `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        {
          hint: "Check the host name and DNS.",
          cause: err,
        },
      );
    }
  }
  const bad = addresses.find(isNonPublicAddress);
  if (bad) {
    throw new QuintetError("FORBIDDEN", `refusing to fetch ${url}: ${host} resolves to the non-public address ${bad}`, {
      hint: "Private, loopback and link-local addresses are refused; pass allowPrivate: true (CLI: --allow-private) for an intranet source you trust.",
    });
  }
  return u;
}

export interface UrlSourceOptions {
  url: string;
  /** Source name; default the URL's host. */
  name?: string;
  allowPrivate?: boolean;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Bodies larger than this are refused (default 20 MB). */
  maxBytes?: number;
  access?: string[];
  metadata?: Record<string, JsonValue>;
  fetch?: typeof fetch;
}

/**
 * One web page or file by URL (HTML through Readability to markdown, PDF, markdown, text or JSON),
 * with redirects followed by hand so each hop is checked against non-public addresses. For whole
 * sites use a crawler source.
 */
export class UrlSource implements Source {
  readonly kind = "web" as const;
  readonly name: string;
  constructor(private readonly opts: UrlSourceOptions) {
    let host = "web";
    try {
      host = new URL(opts.url).host || "web";
    } catch {
      // Reported with a proper message on load.
    }
    this.name = opts.name ?? host;
  }

  async *load(options: LoadOptions = {}): AsyncIterable<Document> {
    const f = this.opts.fetch ?? fetch;
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    const maxBytes = this.opts.maxBytes ?? 20 * 1024 * 1024;
    let url = this.opts.url;
    let res: Response | undefined;
    for (let hop = 0; hop <= 5; hop++) {
      await assertFetchableUrl(url, { allowPrivate: this.opts.allowPrivate ?? false });
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        res = await f(url, {
          redirect: "manual",
          headers: { "user-agent": "quintet-rag/0.1", ...this.opts.headers },
          signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
        });
      } catch (err) {
        options.signal?.throwIfAborted();
        if (timeout.aborted)
          throw new TimeoutError(`${url} did not answer within ${timeoutMs} ms`, { hint: "Raise timeoutMs." });
        throw new QuintetError("PROVIDER_ERROR", `cannot fetch ${url}: ${(err as Error).message}`, {
          hint: "Check the URL.",
          cause: err,
        });
      }
      const loc = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && loc) {
        await res.body?.cancel().catch(() => {});
        url = new URL(loc, url).toString();
        res = undefined;
        continue;
      }
      break;
    }
    if (!res)
      throw new ValidationError(`${this.opts.url} redirects more than 5 times`, { hint: "Pass the final URL." });
    if (!res.ok) {
      throw new QuintetError(res.status === 404 ? "NOT_FOUND" : "PROVIDER_ERROR", `${url} answered ${res.status}`, {
        hint: "Check the URL (and auth headers).",
      });
    }
    const declared = Number(res.headers.get("content-length") ?? 0);
    if (declared > maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw new ValidationError(`${url} is ${declared} bytes, over maxBytes ${maxBytes}`, { hint: "Raise maxBytes." });
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength > maxBytes) {
      throw new ValidationError(`${url} is ${bytes.byteLength} bytes, over maxBytes ${maxBytes}`, {
        hint: "Raise maxBytes.",
      });
    }
    const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const modified = Date.parse(res.headers.get("last-modified") ?? "");
    const base = {
      source: { kind: "web" as const, name: this.name, uri: url, key: url },
      metadata: { ...this.opts.metadata, url, contentType: type },
      ...(this.opts.access ? { access: this.opts.access } : {}),
      ...(Number.isNaN(modified) ? {} : { updatedAt: modified }),
    };
    const text = () => new TextDecoder().decode(bytes);
    if (type === "application/pdf" || url.toLowerCase().endsWith(".pdf")) {
      const pdf = await pdfToText(bytes, { name: url });
      yield createDocument({ ...base, title: pdf.title || url, content: pdf.text, mimeType: "application/pdf" });
    } else if (type.includes("html") || /^\s*<(!doctype|html)/i.test(text().slice(0, 200))) {
      const page = htmlToMarkdown(text(), { url });
      yield createDocument({
        ...base,
        title: page.title || url,
        content: page.markdown,
        format: "markdown",
        mimeType: "text/html",
      });
    } else if (type.includes("json")) {
      yield createDocument({ ...base, title: url, content: text(), mimeType: type });
    } else if (type.startsWith("text/") || type === "") {
      const md = type === "text/markdown" || /\.(md|markdown)$/i.test(new URL(url).pathname);
      yield createDocument({
        ...base,
        title: url,
        content: text(),
        format: md ? "markdown" : "text",
        mimeType: type || "text/plain",
      });
    } else {
      throw new ValidationError(`cannot ingest ${url}: unsupported content type ${type}`, {
        hint: "Supported: HTML, PDF, markdown, plain text and JSON.",
      });
    }
  }
}
