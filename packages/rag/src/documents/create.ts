import { createHash } from "node:crypto";
import { ValidationError } from "@quintet/core";
import { z } from "zod";
import { type Document, type JsonValue, PUBLIC_LABEL, type SourceKind } from "./types.js";

/** Access labels are plain identifiers so they can be matched exactly inside the index. */
const LABEL_RE = /^[A-Za-z0-9_.:@/+-]{1,128}$/;

/** `sha256:<hex>` of a text (UTF-8). */
export function contentHash(text: string): string {
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

// Ids appear in filters and file names; very long keys (URLs with query strings) are hashed.
const MAX_KEY = 400;

/**
 * The stable id of a document: `<kind>:<source name>:<key>`. The same source and key always give
 * the same id; keys longer than 400 characters are replaced by `h:<sha256 prefix>`.
 */
export function documentId(kind: SourceKind, sourceName: string, key: string): string {
  if (!sourceName) throw new ValidationError("a source needs a name", { hint: "Pass `name` to the source." });
  if (!key)
    throw new ValidationError(`a document of source "${sourceName}" has an empty key`, {
      hint: "Map a non-empty id field.",
    });
  const k = key.length > MAX_KEY ? `h:${createHash("sha256").update(key).digest("hex").slice(0, 32)}` : key;
  return `${kind}:${sourceName}:${k}`;
}

/** Checks access labels and returns them de-duplicated and sorted; an empty list becomes `["public"]`. */
export function normalizeAccessLabels(labels: readonly string[] | undefined, what = "document"): string[] {
  if (!labels || labels.length === 0) return [PUBLIC_LABEL];
  for (const l of labels) {
    if (typeof l !== "string" || !LABEL_RE.test(l)) {
      throw new ValidationError(`invalid access label ${JSON.stringify(l)} on ${what}`, {
        hint: "Labels are 1–128 characters of letters, digits and _ . : @ / + - (e.g. team:sales, user@example.com).",
      });
    }
  }
  return [...new Set(labels)].sort();
}

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

const createDocumentSchema = z.object({
  source: z.object({
    kind: z.enum(["file", "web", "api", "sql", "inline"]),
    name: z.string().min(1),
    uri: z.string().min(1),
    key: z.string().min(1),
    priority: z.number().finite().optional(),
  }),
  title: z.string().default(""),
  content: z.string(),
  format: z.enum(["text", "markdown"]).default("text"),
  createdAt: z.number().finite().optional(),
  updatedAt: z.number().finite().optional(),
  fetchedAt: z.number().finite().optional(),
  mimeType: z.string().optional(),
  metadata: z.record(z.string(), jsonValue).default({}),
  access: z.array(z.string()).optional(),
});

/** What {@link createDocument} needs; id, hash and defaults are filled in. */
export type CreateDocumentInput = z.input<typeof createDocumentSchema>;

/**
 * Builds a validated {@link Document}: the id from source kind, name and key, the content hash,
 * `fetchedAt` (now unless given) and access labels (`["public"]` unless given).
 */
export function createDocument(input: CreateDocumentInput): Document {
  const parsed = createDocumentSchema.safeParse(input);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid document: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      { hint: "A document needs source {kind, name, uri, key} and string content." },
    );
  }
  const d = parsed.data;
  // Normalise line endings so the same text read on Windows and Linux hashes the same.
  const content = d.content.replace(/\r\n?/g, "\n");
  const doc: Document = {
    id: documentId(d.source.kind, d.source.name, d.source.key),
    title: d.title.trim(),
    content,
    format: d.format,
    contentHash: contentHash(content),
    source: { ...d.source },
    fetchedAt: d.fetchedAt ?? Date.now(),
    metadata: d.metadata,
    access: normalizeAccessLabels(d.access, `document ${d.source.key}`),
  };
  if (d.createdAt !== undefined) doc.createdAt = d.createdAt;
  if (d.updatedAt !== undefined) doc.updatedAt = d.updatedAt;
  if (d.mimeType !== undefined) doc.mimeType = d.mimeType;
  return doc;
}

/**
 * A hash of everything about a document that ends up in the index (title, content, access labels,
 * metadata, source priority): when it is unchanged, re-ingesting the document can be skipped.
 */
export function documentFingerprint(doc: Document): string {
  return contentHash(
    JSON.stringify([
      doc.title,
      doc.contentHash,
      doc.access,
      sortKeys(doc.metadata),
      doc.source.priority ?? 0,
      doc.updatedAt ?? null,
    ]),
  );
}

function sortKeys(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out: Record<string, JsonValue> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]!);
    return out;
  }
  return v;
}
