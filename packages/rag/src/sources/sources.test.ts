import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "@quintet/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Document } from "../documents/types.js";
import {
  assertFetchableUrl,
  FileSource,
  htmlToMarkdown,
  isNonPublicAddress,
  pdfToText,
  RestSource,
  type Source,
  type SourceWarning,
  SqlSource,
  UrlSource,
} from "./index.js";

async function all(source: Source, onWarning?: (w: SourceWarning) => void): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of source.load(onWarning ? { onWarning } : {})) out.push(d);
  return out;
}

/** A one-page PDF with a text layer, written by hand (objects + xref with exact byte offsets). */
export function tinyPdf(lines: string[]): Buffer {
  const stream = `BT /F1 12 Tf 72 720 Td 14 TL ${lines.map((l) => `(${l.replace(/[()\\]/g, "\\$&")}) Tj T*`).join(" ")} ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    "<< /Title (Tiny Report) >>",
  ];
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

describe("FileSource", () => {
  const dir = mkdtempSync(join(tmpdir(), "quintet-rag-src-"));
  beforeAll(() => {
    mkdirSync(join(dir, "guide"));
    mkdirSync(join(dir, "node_modules"));
    writeFileSync(join(dir, "readme.txt"), "Plain text about llamas.");
    writeFileSync(join(dir, "guide", "install.md"), "# Installing\n\nRun the installer.\n\n## Linux\n\nUse apt.");
    writeFileSync(
      join(dir, "page.html"),
      `<html><head><title>Alpacas</title><script>var x = 1;</script></head><body><nav>Menu</nav>
       <article><h1>Alpacas</h1><p>${"Alpacas are domesticated camelids from South America. ".repeat(12)}</p>
       <h2>Fibre</h2><ul><li>soft</li><li>warm</li></ul></article></body></html>`,
    );
    writeFileSync(join(dir, "report.pdf"), tinyPdf(["Quarterly llama census", "Herd size grew by 12 percent."]));
    writeFileSync(join(dir, "animals.csv"), 'id,name,notes\n7,Dolly,"a sheep, cloned"\n8,Laika,space dog\n');
    writeFileSync(
      join(dir, "tickets.jsonl"),
      `${JSON.stringify({ key: "T-1", subject: "Login fails", body: "Cannot log in.", team: "support", updated: "2024-05-01T10:00:00Z" })}\n${JSON.stringify({ key: "T-2", subject: "Billing", body: "Charged twice.", team: "billing", updated: 1714557600 })}\n`,
    );
    writeFileSync(join(dir, "broken.pdf"), "this is not a pdf");
    writeFileSync(join(dir, "image.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]));
    writeFileSync(join(dir, "node_modules", "skip.md"), "# no");
  });

  it("reads a folder of mixed formats with stable keys, skipping broken files with a warning", async () => {
    const warnings: SourceWarning[] = [];
    const docs = await all(
      new FileSource({
        path: dir,
        name: "kb",
        access: ["team:docs"],
        json: {
          id: "key",
          title: "subject",
          content: "body",
          updatedAt: "updated",
          access: "team",
          metadata: ["team"],
        },
      }),
      (w) => warnings.push(w),
    );
    const byKey = new Map(docs.map((d) => [d.source.key, d]));
    expect([...byKey.keys()].sort()).toEqual(
      [
        "animals.csv#1",
        "animals.csv#2",
        "guide/install.md",
        "page.html",
        "readme.txt",
        "report.pdf",
        "tickets.jsonl#T-1",
        "tickets.jsonl#T-2",
      ].sort(),
    );
    expect(warnings.map((w) => w.key)).toEqual(["broken.pdf"]);
    expect(warnings[0]!.message).toMatch(/cannot read PDF broken\.pdf/);

    const md = byKey.get("guide/install.md")!;
    expect(md.id).toBe("file:kb:guide/install.md");
    expect(md.format).toBe("markdown");
    expect(md.title).toBe("Installing");
    expect(md.access).toEqual(["team:docs"]);
    expect(md.updatedAt).toBeGreaterThan(0);

    const html = byKey.get("page.html")!;
    expect(html.title).toBe("Alpacas");
    expect(html.format).toBe("markdown");
    expect(html.content).toContain("domesticated camelids");
    expect(html.content).toMatch(/## Fibre/);
    expect(html.content).not.toContain("var x");

    const pdf = byKey.get("report.pdf")!;
    expect(pdf.content).toContain("Quarterly llama census");
    expect(pdf.content).toContain("Herd size grew by 12 percent.");
    expect(pdf.title).toBe("Tiny Report");

    const row = byKey.get("animals.csv#1")!;
    expect(row.content).toBe("id: 7\nname: Dolly\nnotes: a sheep, cloned");

    const t1 = byKey.get("tickets.jsonl#T-1")!;
    expect(t1.title).toBe("Login fails");
    expect(t1.content).toBe("Cannot log in.");
    expect(t1.access).toEqual(["support"]);
    expect(t1.metadata.team).toBe("support");
    expect(t1.updatedAt).toBe(Date.parse("2024-05-01T10:00:00Z"));
    expect(byKey.get("tickets.jsonl#T-2")!.updatedAt).toBe(1714557600000);

    // The same folder loaded again gives the same ids and hashes.
    const again = await all(new FileSource({ path: dir, name: "kb", json: { id: "key", content: "body" } }));
    expect(again.find((d) => d.source.key === "readme.txt")!.contentHash).toBe(byKey.get("readme.txt")!.contentHash);
  });

  it("maps CSV columns and honours include globs and size limits", async () => {
    const docs = await all(
      new FileSource({ path: dir, include: ["*.csv"], csv: { id: "id", title: "name", content: "notes" } }),
    );
    expect(docs.map((d) => [d.source.key, d.title, d.content])).toEqual([
      ["animals.csv#7", "Dolly", "a sheep, cloned"],
      ["animals.csv#8", "Laika", "space dog"],
    ]);
    await expect(all(new FileSource({ path: dir, include: ["*.csv"], csv: { id: "nope" } }))).resolves.toEqual([]);
    const warnings: SourceWarning[] = [];
    await all(new FileSource({ path: dir, include: ["*.html"], maxFileBytes: 10 }), (w) => warnings.push(w));
    expect(warnings[0]!.message).toMatch(/over the .* MB limit/);
  });

  it("fails clearly on a single bad file, a missing path or a bad option", async () => {
    await expect(all(new FileSource({ path: join(dir, "broken.pdf") }))).rejects.toThrow(/cannot read PDF/);
    await expect(all(new FileSource({ path: join(dir, "image.png") }))).rejects.toThrow(/unsupported file type \.png/);
    await expect(all(new FileSource({ path: join(dir, "missing") }))).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(all(new FileSource({ path: join(dir, "animals.csv"), csv: { id: "nope" } }))).rejects.toThrow(
      /has no column "nope"/,
    );
    expect(() => new FileSource({ path: "" })).toThrow(/path/);
  });
});

describe("parsers", () => {
  it("convert broken HTML leniently and refuse empty pages", () => {
    const r = htmlToMarkdown("<p>Unclosed <b>bold <i>text<div>more");
    expect(r.markdown).toContain("Unclosed");
    expect(r.markdown).toContain("more");
    expect(() => htmlToMarkdown("<html><body><script>x()</script></body></html>")).toThrow(/no readable text/);
  });

  it("read PDF text page by page", async () => {
    const pdf = await pdfToText(new Uint8Array(tinyPdf(["Hello PDF"])));
    expect(pdf.pages).toHaveLength(1);
    expect(pdf.text).toBe("Hello PDF");
  });
});

describe("RestSource", () => {
  let server: Server;
  let base = "";
  const items = Array.from({ length: 7 }, (_, i) => ({
    id: i + 1,
    attributes: { title: `Item ${i + 1}`, body: `Body of item ${i + 1}` },
    modified: 1700000000 + i,
  }));
  let flaky = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const u = new URL(req.url!, "http://x");
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(body));
      };
      if (u.pathname === "/paged") {
        const page = Number(u.searchParams.get("page"));
        const size = Number(u.searchParams.get("per_page"));
        return json(200, { data: items.slice((page - 1) * size, page * size) });
      }
      if (u.pathname === "/cursor") {
        const c = Number(u.searchParams.get("after") ?? 0);
        return json(200, { results: items.slice(c, c + 3), next: c + 3 < items.length ? String(c + 3) : null });
      }
      if (u.pathname === "/link") {
        const p = Number(u.searchParams.get("p") ?? 0);
        const headers: Record<string, string> =
          p < 2 ? { link: `<${base}/link?p=${p + 1}>; rel="next", <${base}/link?p=0>; rel="first"` } : {};
        return json(200, items.slice(p * 3, p * 3 + 3), headers);
      }
      if (u.pathname === "/forever") return json(200, { items: [items[0]], next: "same" });
      if (u.pathname === "/endless") {
        const p = Number(u.searchParams.get("page"));
        return json(200, [{ ...items[0], id: p }]);
      }
      if (u.pathname === "/flaky") {
        flaky++;
        if (flaky === 1) return json(503, { error: "busy" }, { "retry-after": "0" });
        return json(200, items.slice(0, 2));
      }
      if (u.pathname === "/secret") return json(401, { error: "no token" });
      if (u.pathname === "/html") {
        res.writeHead(200, { "content-type": "text/html" });
        return res.end(
          `<html><head><title>Hi</title></head><body><p>${"Local page text. ".repeat(30)}</p></body></html>`,
        );
      }
      if (u.pathname === "/redirect") {
        res.writeHead(302, { location: "/html" });
        return res.end();
      }
      json(404, {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const fields = { id: "id", title: "attributes.title", content: "attributes.body", updatedAt: "modified" };

  it("pages by number until a short page", async () => {
    const docs = await all(
      new RestSource({
        name: "api",
        url: `${base}/paged`,
        itemsPath: "data",
        fields,
        pagination: { type: "page", sizeParam: "per_page", size: 3 },
      }),
    );
    expect(docs.map((d) => d.id)).toEqual(items.map((i) => `api:api:${i.id}`));
    expect(docs[0]!.title).toBe("Item 1");
    expect(docs[0]!.content).toBe("Body of item 1");
    expect(docs[0]!.updatedAt).toBe(1700000000000);
  });

  it("follows cursors and Link headers", async () => {
    const c = await all(
      new RestSource({
        name: "api",
        url: `${base}/cursor`,
        itemsPath: "results",
        fields,
        pagination: { type: "cursor", param: "after", cursorPath: "next" },
      }),
    );
    expect(c).toHaveLength(7);
    const l = await all(
      new RestSource({ name: "api", url: `${base}/link`, fields, pagination: { type: "link-header" } }),
    );
    expect(l).toHaveLength(7);
  });

  it("retries 503, and stops an API that pages forever or repeats itself", async () => {
    expect(await all(new RestSource({ name: "api", url: `${base}/flaky`, fields }))).toHaveLength(2);
    await expect(
      all(new RestSource({ name: "api", url: `${base}/endless`, fields, pagination: { type: "page" }, maxPages: 5 })),
    ).rejects.toThrow(/still paging after 5 pages/);
    await expect(
      all(
        new RestSource({
          name: "api",
          url: `${base}/forever`,
          itemsPath: "items",
          fields,
          pagination: { type: "cursor", cursorPath: "next" },
        }),
      ),
    ).rejects.toThrow(/already returned/);
    await expect(all(new RestSource({ name: "api", url: `${base}/secret`, fields }))).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
    await expect(all(new RestSource({ name: "api", url: `${base}/paged`, itemsPath: "nope", fields }))).rejects.toThrow(
      /no list at "nope"/,
    );
    expect(() => new RestSource({ name: "api", url: "not a url", fields })).toThrow(/url/);
  });

  it("fetches one URL, refusing private addresses unless allowed", async () => {
    await expect(all(new UrlSource({ url: `${base}/html` }))).rejects.toMatchObject({ code: "FORBIDDEN" });
    const docs = await all(new UrlSource({ url: `${base}/redirect`, allowPrivate: true }));
    expect(docs[0]!.title).toBe("Hi");
    expect(docs[0]!.source.uri).toBe(`${base}/html`);
    expect(docs[0]!.content).toContain("Local page text.");
    await expect(assertFetchableUrl("file:///etc/passwd")).rejects.toThrow(/unsupported URL scheme/);
    expect(isNonPublicAddress("169.254.169.254")).toBe(true);
    expect(isNonPublicAddress("10.1.2.3")).toBe(true);
    expect(isNonPublicAddress("::1")).toBe(true);
    expect(isNonPublicAddress("::ffff:127.0.0.1")).toBe(true);
    expect(isNonPublicAddress("93.184.216.34")).toBe(false);
  });
});

describe("SqlSource", () => {
  it("turns rows of a query on the store into documents", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quintet-rag-sql-"));
    const store = await Store.open({ url: `sqlite:${join(dir, "q.db")}` });
    try {
      await store.db.schema
        .createTable("faq")
        .addColumn("id", "integer")
        .addColumn("q", "text")
        .addColumn("a", "text")
        .addColumn("lang", "text")
        .execute();
      await store.db
        .withTables<{ faq: { id: number; q: string; a: string; lang: string } }>()
        .insertInto("faq")
        .values([
          { id: 1, q: "How do I reset my password?", a: "Use the reset link.", lang: "en" },
          { id: 2, q: "Wie ändere ich die Sprache?", a: "In den Einstellungen.", lang: "de" },
          { id: 3, q: "Where are invoices?", a: "Under Billing.", lang: "en" },
        ])
        .execute();
      const src = new SqlSource({
        name: "faq",
        store,
        query: "select id, q, a, lang from faq where lang = ? order by id",
        params: ["en"],
        fields: { id: "id", title: "q", content: ["q", "a"], metadata: ["lang"] },
        batchSize: 1,
      });
      const docs = await all(src);
      expect(docs.map((d) => [d.id, d.content, d.metadata.lang])).toEqual([
        ["sql:faq:1", "How do I reset my password?\n\nUse the reset link.", "en"],
        ["sql:faq:3", "Where are invoices?\n\nUnder Billing.", "en"],
      ]);
      expect(
        () => new SqlSource({ name: "x", store, query: "delete from faq", fields: { id: "id", content: "a" } }),
      ).toThrow(/SELECT/);
      await expect(
        all(new SqlSource({ name: "x", store, query: "select * from nope", fields: { id: "id", content: "a" } })),
      ).rejects.toThrow(/SQL source "x" failed/);
    } finally {
      await store.close();
    }
  });
});
