import { Readability } from "@mozilla/readability";
import { ValidationError } from "@quintet/core";
import { parseHTML } from "linkedom";
import TurndownService from "turndown";

/** What {@link htmlToMarkdown} extracted from a page. */
export interface ExtractedHtml {
  title: string;
  /** The main content as markdown (headings, lists, links, code and tables kept). */
  markdown: string;
  /** Whether Readability found an article; false means the whole body was converted. */
  readable: boolean;
  byline?: string;
  lang?: string;
  publishedTime?: string;
}

let turndown: TurndownService | undefined;

function converter(): TurndownService {
  if (!turndown) {
    turndown = new TurndownService({ headingStyle: "atx", codeBlockStyle: "fenced", bulletListMarker: "-" });
    // Scripts, styles and forms are never content; Readability drops most, the fallback path does not.
    turndown.remove(["script", "style", "noscript", "iframe", "form", "button", "nav"] as never);
  }
  return turndown;
}

/**
 * Extracts the readable part of an HTML page as markdown: Mozilla Readability (on a linkedom DOM)
 * picks the article, turndown converts it. Pages Readability cannot make sense of (short pages,
 * listings) fall back to the whole `<body>`. Broken markup is parsed leniently, as browsers do.
 * Throws a ValidationError when the page has no text at all.
 */
export function htmlToMarkdown(html: string, options: { url?: string } = {}): ExtractedHtml {
  const { document } = parseHTML(html);
  const headTitle = document.querySelector("title")?.textContent?.trim() ?? "";
  const h1 = document.querySelector("h1")?.textContent?.trim() ?? "";
  let article: ReturnType<Readability["parse"]> = null;
  try {
    // Readability mutates the DOM it reads, so give it its own copy. It also turns every <h1> into
    // <h2>, flattening the outline; headings are shifted down one level first and back up after.
    const copy = parseHTML(html).document;
    demoteHeadings(copy);
    article = new Readability(copy as never, { charThreshold: 200 }).parse();
  } catch {
    article = null;
  }
  let markdown = "";
  let readable = false;
  if (article?.content && (article.textContent ?? "").trim().length > 0) {
    markdown = promoteHeadings(converter().turndown(article.content));
    readable = true;
  }
  if (!readable || markdown.trim().length === 0) {
    const body = document.querySelector("body");
    markdown = body ? converter().turndown(body.innerHTML as string) : converter().turndown(html);
    readable = false;
  }
  markdown = tidy(markdown);
  if (!markdown) {
    throw new ValidationError(`the HTML page${options.url ? ` ${options.url}` : ""} has no readable text`, {
      hint: "Check the page renders its content without JavaScript, or ingest its text another way.",
    });
  }
  const out: ExtractedHtml = { title: (article?.title ?? "").trim() || headTitle || h1, markdown, readable };
  if (article?.byline) out.byline = article.byline;
  if (article?.lang) out.lang = article.lang;
  if (article?.publishedTime) out.publishedTime = article.publishedTime;
  return out;
}

function demoteHeadings(document: any): void {
  for (let level = 6; level >= 1; level--) {
    for (const h of [...document.querySelectorAll(`h${level}`)]) {
      const el = document.createElement(`h${Math.min(6, level + 1)}`);
      while (h.firstChild) el.appendChild(h.firstChild);
      h.replaceWith(el);
    }
  }
}

/** Undoes {@link demoteHeadings} on the markdown: `## x` → `# x`, outside fenced code. */
function promoteHeadings(md: string): string {
  let fence = false;
  return md
    .split("\n")
    .map((line) => {
      if (/^\s{0,3}(```|~~~)/.test(line)) fence = !fence;
      return !fence && /^#{2,6} /.test(line) ? line.slice(1) : line;
    })
    .join("\n");
}

function tidy(md: string): string {
  return md
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
