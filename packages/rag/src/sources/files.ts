import { opendir, readFile, stat } from "node:fs/promises";
import { basename, extname, join, relative, resolve, sep } from "node:path";
import { NotFoundError, QuintetError, ValidationError } from "@quintet/core";
import { parse as parseCsv } from "csv-parse/sync";
import { minimatch } from "minimatch";
import { z } from "zod";
import { createDocument } from "../documents/create.js";
import type { Document, JsonValue } from "../documents/types.js";
import { type FieldMapping, FieldMappingSchema, getPath, recordToDocument } from "./mapping.js";
import { htmlToMarkdown } from "./parsers/html.js";
import { pdfToText } from "./parsers/pdf.js";
import type { LoadOptions, Source, SourceWarning } from "./types.js";

/** File extensions a file source reads, by parser. */
export const SUPPORTED_EXTENSIONS = {
  text: [".txt", ".text", ".log", ".rst"],
  markdown: [".md", ".markdown", ".mdx"],
  html: [".html", ".htm", ".xhtml"],
  pdf: [".pdf"],
  csv: [".csv", ".tsv"],
  json: [".json"],
  jsonl: [".jsonl", ".ndjson"],
} as const;
type Parser = keyof typeof SUPPORTED_EXTENSIONS;

function parserFor(path: string): Parser | undefined {
  const ext = extname(path).toLowerCase();
  for (const [p, exts] of Object.entries(SUPPORTED_EXTENSIONS))
    if ((exts as readonly string[]).includes(ext)) return p as Parser;
  return undefined;
}

const CsvOptionsSchema = FieldMappingSchema.partial().extend({
  /** Field separator; default `,` (`\t` for .tsv). */
  delimiter: z.string().min(1).max(4).optional(),
});

export const FileSourceOptionsSchema = z.object({
  /** A file or a folder. */
  path: z.string().min(1),
  /** Source name (part of document ids); default: the folder's or file's name. */
  name: z.string().min(1).optional(),
  /** Descend into sub-folders (default true). */
  recursive: z.boolean().default(true),
  /** Globs on the path relative to the folder (`docs/**\/*.md`); default: every supported file. */
  include: z.array(z.string().min(1)).optional(),
  /** Globs to skip; default node_modules, .git and hidden folders. */
  exclude: z.array(z.string().min(1)).default(["**/node_modules/**", "**/.git/**", "**/.*/**"]),
  /** Files larger than this are skipped with a warning (default 50 MB). */
  maxFileBytes: z
    .number()
    .int()
    .min(1)
    .default(50 * 1024 * 1024),
  /** Access labels of every document (default `["public"]`). */
  access: z.array(z.string()).optional(),
  metadata: z.record(z.string(), z.any()).default({}),
  /** How JSON/JSONL records become documents; without it each .json file is one document and each JSONL line one. */
  json: FieldMappingSchema.extend({
    /** Path to the list of records inside a .json file (default: the file is the list, or one record). */
    itemsPath: z.string().min(1).optional(),
  }).optional(),
  /** How CSV rows become documents; default: key = row number, content = "column: value" lines. */
  csv: CsvOptionsSchema.optional(),
});
export type FileSourceOptions = z.input<typeof FileSourceOptionsSchema>;
type Resolved = z.output<typeof FileSourceOptionsSchema>;

/**
 * Documents from a file or a folder: text and markdown as they are, HTML through Readability to
 * markdown, PDF text via unpdf, CSV rows and JSON/JSONL records through a field mapping. Document
 * keys are paths relative to the folder (`guide/intro.md`; `data.csv#42` for rows), so ids stay the
 * same across machines. In a folder, unreadable, damaged and oversized files are skipped with a
 * warning; a single file that cannot be read is an error.
 */
export class FileSource implements Source {
  readonly kind = "file" as const;
  readonly name: string;
  private readonly opts: Resolved;
  private readonly root: string;

  constructor(options: FileSourceOptions) {
    const parsed = FileSourceOptionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid file source options: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
        { hint: "Pass { path, name?, include?, exclude?, maxFileBytes?, access?, json?, csv? }." },
      );
    }
    this.opts = parsed.data;
    this.root = resolve(parsed.data.path);
    this.name = parsed.data.name ?? (basename(this.root).replace(/\.[^.]+$/, "") || "files");
  }

  async *load(options: LoadOptions = {}): AsyncIterable<Document> {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(this.root);
    } catch (err) {
      throw new NotFoundError(
        `cannot read ${this.root}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        {
          hint: "Check the path exists and is readable.",
          cause: err,
        },
      );
    }
    if (info.isFile()) {
      if (!parserFor(this.root)) {
        throw new ValidationError(`unsupported file type ${extname(this.root) || "(none)"} for ${this.root}`, {
          hint: `Supported: ${Object.values(SUPPORTED_EXTENSIONS).flat().join(" ")}.`,
        });
      }
      yield* this.readFile(this.root, basename(this.root), { strict: true, signal: options.signal });
      return;
    }
    for await (const file of this.walk(this.root, options.signal)) {
      const rel = relative(this.root, file).split(sep).join("/");
      try {
        yield* this.readFile(file, rel, { strict: false, signal: options.signal });
      } catch (err) {
        if (err instanceof QuintetError && err.code === "CANCELLED") throw err;
        options.signal?.throwIfAborted();
        const w: SourceWarning = { key: rel, message: (err as Error).message };
        options.onWarning?.(w);
      }
    }
  }

  private async *walk(dir: string, signal?: AbortSignal): AsyncIterable<string> {
    const entries: Array<{ name: string; dir: boolean; file: boolean }> = [];
    for await (const e of await opendir(dir)) entries.push({ name: e.name, dir: e.isDirectory(), file: e.isFile() });
    // Sorted so every load yields documents in the same order.
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      signal?.throwIfAborted();
      const full = join(dir, e.name);
      const rel = relative(this.root, full).split(sep).join("/");
      if (this.opts.exclude.some((g) => minimatch(rel, g, { dot: true }) || minimatch(`${rel}/`, g, { dot: true })))
        continue;
      if (e.dir) {
        if (this.opts.recursive) yield* this.walk(full, signal);
      } else if (e.file && parserFor(full)) {
        if (this.opts.include && !this.opts.include.some((g) => minimatch(rel, g, { dot: true }))) continue;
        yield full;
      }
    }
  }

  private async *readFile(
    path: string,
    rel: string,
    ctx: { strict: boolean; signal?: AbortSignal },
  ): AsyncIterable<Document> {
    const parser = parserFor(path)!;
    const info = await stat(path);
    if (info.size > this.opts.maxFileBytes) {
      throw new ValidationError(
        `${rel} is ${(info.size / 1048576).toFixed(1)} MB, over the ${(this.opts.maxFileBytes / 1048576).toFixed(1)} MB limit`,
        { hint: "Raise maxFileBytes, or split the file." },
      );
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(path, ctx.signal ? { signal: ctx.signal } : {});
    } catch (err) {
      throw new ValidationError(
        `cannot read ${rel}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        {
          hint: "Check the file's permissions.",
          cause: err,
        },
      );
    }
    const base = {
      fetchedAt: Date.now(),
      updatedAt: Math.round(info.mtimeMs),
      metadata: { ...this.opts.metadata, path: rel } as Record<string, JsonValue>,
      ...(this.opts.access ? { access: this.opts.access } : {}),
    };
    const src = { kind: "file" as const, name: this.name, uri: path, key: rel };
    const stem = basename(rel).replace(/\.[^.]+$/, "");
    switch (parser) {
      case "text":
      case "markdown": {
        const text = decodeText(bytes, rel);
        const heading = parser === "markdown" ? /^#\s+(.+)$/m.exec(text)?.[1]?.trim() : undefined;
        yield createDocument({
          ...base,
          source: src,
          title: heading ?? stem,
          content: text,
          format: parser === "markdown" ? "markdown" : "text",
          mimeType: parser === "markdown" ? "text/markdown" : "text/plain",
        });
        return;
      }
      case "html": {
        const page = htmlToMarkdown(decodeText(bytes, rel), { url: rel });
        yield createDocument({
          ...base,
          source: src,
          title: page.title || stem,
          content: page.markdown,
          format: "markdown",
          mimeType: "text/html",
        });
        return;
      }
      case "pdf": {
        const pdf = await pdfToText(new Uint8Array(bytes), { name: rel });
        yield createDocument({
          ...base,
          source: src,
          title: pdf.title || stem,
          content: pdf.text,
          format: "text",
          mimeType: "application/pdf",
          metadata: { ...base.metadata, pages: pdf.pages.length },
        });
        return;
      }
      case "csv":
        yield* this.csvRows(decodeText(bytes, rel), path, rel, base);
        return;
      case "json":
      case "jsonl":
        yield* this.jsonRecords(decodeText(bytes, rel), parser, path, rel, base);
        return;
    }
  }

  private *csvRows(
    text: string,
    path: string,
    rel: string,
    base: { fetchedAt: number; updatedAt: number; metadata: Record<string, JsonValue>; access?: string[] },
  ): Iterable<Document> {
    const o = this.opts.csv ?? {};
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(text, {
        columns: true,
        skip_empty_lines: true,
        bom: true,
        trim: true,
        relax_column_count: true,
        delimiter: o.delimiter ?? (extname(path).toLowerCase() === ".tsv" ? "\t" : ","),
      });
    } catch (err) {
      throw new ValidationError(`cannot parse CSV ${rel}: ${(err as Error).message}`, {
        hint: "Check quoting and the delimiter (set csv.delimiter).",
        cause: err,
      });
    }
    const columns = rows[0] ? Object.keys(rows[0]) : [];
    for (const c of [o.id, o.title, ...(Array.isArray(o.content) ? o.content : o.content ? [o.content] : [])]) {
      if (c && rows.length > 0 && !columns.includes(c)) {
        throw new ValidationError(`CSV ${rel} has no column "${c}"`, { hint: `Columns: ${columns.join(", ")}.` });
      }
    }
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const rowNo = String(i + 1);
      const record: Record<string, unknown> = { ...row, __row: rowNo };
      // Without a content mapping every column is kept, labelled, so numbers keep their meaning.
      if (!o.content) record.__text = columns.map((c) => `${c}: ${row[c] ?? ""}`).join("\n");
      const mapping: FieldMapping = {
        id: o.id ?? "__row",
        content: o.content ?? "__text",
        ...(o.title ? { title: o.title } : {}),
        ...(o.updatedAt ? { updatedAt: o.updatedAt } : {}),
        ...(o.createdAt ? { createdAt: o.createdAt } : {}),
        ...(o.url ? { url: o.url } : {}),
        ...(o.access ? { access: o.access } : {}),
        ...(o.metadata ? { metadata: o.metadata } : {}),
      };
      const doc = recordToDocument(record, mapping, {
        kind: "file",
        name: this.name,
        uri: () => `${path}#row=${rowNo}`,
        where: `row ${rowNo} of ${rel}`,
        metadata: { ...base.metadata, row: i + 1 },
        fetchedAt: base.fetchedAt,
        ...(base.access ? { access: base.access } : {}),
      });
      yield rekey(doc, `${rel}#${doc.source.key}`, base.updatedAt, mapping.title ? undefined : `${rel} row ${rowNo}`);
    }
  }

  private *jsonRecords(
    text: string,
    parser: "json" | "jsonl",
    path: string,
    rel: string,
    base: { fetchedAt: number; updatedAt: number; metadata: Record<string, JsonValue>; access?: string[] },
  ): Iterable<Document> {
    const mapping = this.opts.json;
    let records: unknown[];
    if (parser === "jsonl") {
      records = [];
      const lines = text.split("\n");
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!.trim();
        if (!line) continue;
        try {
          records.push(JSON.parse(line));
        } catch (err) {
          throw new ValidationError(`${rel} line ${i + 1} is not valid JSON: ${(err as Error).message}`, {
            hint: "Each line of a JSONL file must be one JSON value.",
            cause: err,
          });
        }
      }
    } else {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new ValidationError(`${rel} is not valid JSON: ${(err as Error).message}`, {
          hint: "Fix the file.",
          cause: err,
        });
      }
      if (!mapping) {
        yield createDocument({
          ...base,
          source: { kind: "file", name: this.name, uri: path, key: rel },
          title: basename(rel),
          content: JSON.stringify(value, null, 2),
          format: "text",
          mimeType: "application/json",
        });
        return;
      }
      const items = mapping.itemsPath ? getPath(value, mapping.itemsPath) : value;
      if (mapping.itemsPath && !Array.isArray(items)) {
        throw new ValidationError(`${rel} has no list at itemsPath "${mapping.itemsPath}"`, {
          hint: "Point itemsPath at the array of records.",
        });
      }
      records = Array.isArray(items) ? items : [items];
    }
    for (let i = 0; i < records.length; i++) {
      const where = parser === "jsonl" ? `record ${i + 1} of ${rel}` : `item ${i} of ${rel}`;
      if (!mapping) {
        yield createDocument({
          ...base,
          source: { kind: "file", name: this.name, uri: `${path}#${i + 1}`, key: `${rel}#${i + 1}` },
          title: `${rel} #${i + 1}`,
          content: JSON.stringify(records[i], null, 2),
          format: "text",
          mimeType: "application/x-ndjson",
        });
        continue;
      }
      const doc = recordToDocument(records[i], mapping, {
        kind: "file",
        name: this.name,
        uri: (key) => `${path}#${key}`,
        where,
        metadata: base.metadata,
        fetchedAt: base.fetchedAt,
        ...(base.access ? { access: base.access } : {}),
      });
      yield rekey(doc, `${rel}#${doc.source.key}`, doc.updatedAt ?? base.updatedAt);
    }
  }
}

/** Records inside a file are keyed `<file>#<record key>` so keys are unique across files. */
function rekey(doc: Document, key: string, updatedAt: number, title?: string): Document {
  const out = createDocument({
    source: { ...doc.source, key },
    title: doc.title || title || key,
    content: doc.content,
    format: doc.format,
    fetchedAt: doc.fetchedAt,
    updatedAt: doc.updatedAt ?? updatedAt,
    metadata: doc.metadata,
    access: doc.access,
    ...(doc.createdAt !== undefined ? { createdAt: doc.createdAt } : {}),
    ...(doc.mimeType ? { mimeType: doc.mimeType } : {}),
  });
  return out;
}

function decodeText(bytes: Buffer, rel: string): string {
  // A NUL in the first block means a binary file with a text extension.
  if (bytes.subarray(0, 8192).includes(0)) {
    throw new ValidationError(`${rel} looks binary (it contains NUL bytes)`, {
      hint: "Remove it from the folder or exclude it with `exclude`.",
    });
  }
  return new TextDecoder("utf-8").decode(bytes).replace(/^\uFEFF/, "");
}

/** Shorthand for `new FileSource(options)`. */
export function fileSource(options: FileSourceOptions): FileSource {
  return new FileSource(options);
}
