import { ValidationError } from "@quintet/core";
import { z } from "zod";
import { createDocument } from "../documents/create.js";
import type { ContentFormat, Document, JsonValue, SourceKind } from "../documents/types.js";

/**
 * Which fields of a record (a JSON object, an API item, a SQL row, a CSV row) make a document.
 * Paths are dotted (`fields.summary`, `tags.0`).
 */
export const FieldMappingSchema = z.object({
  /** The record's key; becomes part of the document id. */
  id: z.string().min(1),
  /** The text; several paths are joined with blank lines (empty values skipped). */
  content: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  title: z.string().min(1).optional(),
  /** Epoch seconds/milliseconds or an ISO date. */
  updatedAt: z.string().min(1).optional(),
  createdAt: z.string().min(1).optional(),
  /** A link to the item (kept as the document's uri). */
  url: z.string().min(1).optional(),
  /** A string or list of strings with the access labels of the item. */
  access: z.string().min(1).optional(),
  /** Fields kept as metadata: a list of paths, or `{ name: path }`. */
  metadata: z.union([z.array(z.string().min(1)), z.record(z.string(), z.string().min(1))]).optional(),
});
export type FieldMapping = z.infer<typeof FieldMappingSchema>;

/** Reads a dotted path from a value; undefined when any step is missing. */
export function getPath(value: unknown, path: string): unknown {
  let cur: unknown = value;
  for (const part of path.split(".")) {
    if (cur === null || cur === undefined) return undefined;
    if (Array.isArray(cur) && /^\d+$/.test(part)) cur = cur[Number(part)];
    else if (typeof cur === "object") cur = (cur as Record<string, unknown>)[part];
    else return undefined;
  }
  return cur;
}

/** Parses epoch seconds, epoch milliseconds, a Date or an ISO date string into epoch ms. */
export function parseTimestamp(value: unknown, field: string): number | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number" || (typeof value === "string" && /^\d+(\.\d+)?$/.test(value))) {
    const n = Number(value);
    // Anything below ~1973 in milliseconds is taken as seconds (Unix timestamps).
    return n < 1e11 ? Math.round(n * 1000) : Math.round(n);
  }
  if (typeof value === "string") {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return t;
  }
  throw new ValidationError(`field ${field} is not a timestamp: ${JSON.stringify(value)?.slice(0, 80)}`, {
    hint: "Map a field holding epoch seconds/milliseconds or an ISO-8601 date.",
  });
}

function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map(text).filter(Boolean).join("\n");
  return JSON.stringify(value);
}

function toJson(value: unknown): JsonValue {
  if (value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  if (Array.isArray(value)) return value.map(toJson);
  if (value && typeof value === "object") {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
    return out;
  }
  return value as JsonValue;
}

export interface RecordContext {
  kind: SourceKind;
  /** Source name. */
  name: string;
  /** Default uri for an item without a `url` field. */
  uri: (key: string) => string;
  format?: ContentFormat;
  /** Labels for items without an access field. */
  access?: string[];
  /** Metadata added to every item. */
  metadata?: Record<string, JsonValue>;
  fetchedAt?: number;
  /** Where the record is, for error messages ("row 12", "page 3 item 4"). */
  where: string;
}

/** Builds a document from one record with a field mapping; a missing id or content names the field. */
export function recordToDocument(record: unknown, mapping: FieldMapping, ctx: RecordContext): Document {
  if (record === null || typeof record !== "object") {
    throw new ValidationError(`${ctx.where} of source "${ctx.name}" is not an object`, {
      hint: "Point the mapping at a list of objects (e.g. set itemsPath).",
    });
  }
  const rawId = getPath(record, mapping.id);
  if (rawId === undefined || rawId === null || rawId === "") {
    throw new ValidationError(`${ctx.where} of source "${ctx.name}" has no value at id field "${mapping.id}"`, {
      hint: `Fields present: ${Object.keys(record).slice(0, 20).join(", ")}. Fix the id mapping.`,
    });
  }
  const key = text(rawId);
  const paths = Array.isArray(mapping.content) ? mapping.content : [mapping.content];
  const content = paths
    .map((p) => text(getPath(record, p)).trim())
    .filter(Boolean)
    .join("\n\n");
  const title = mapping.title ? text(getPath(record, mapping.title)).trim() : "";
  let access = ctx.access;
  if (mapping.access) {
    const a = getPath(record, mapping.access);
    if (a !== undefined && a !== null)
      access = Array.isArray(a)
        ? a.map(text)
        : text(a)
            .split(/[,\s]+/)
            .filter(Boolean);
  }
  const metadata: Record<string, JsonValue> = { ...ctx.metadata };
  if (Array.isArray(mapping.metadata)) for (const p of mapping.metadata) metadata[p] = toJson(getPath(record, p));
  else if (mapping.metadata)
    for (const [k, p] of Object.entries(mapping.metadata)) metadata[k] = toJson(getPath(record, p));
  const url = mapping.url ? text(getPath(record, mapping.url)) : "";
  const updatedAt = mapping.updatedAt
    ? parseTimestamp(getPath(record, mapping.updatedAt), mapping.updatedAt)
    : undefined;
  const createdAt = mapping.createdAt
    ? parseTimestamp(getPath(record, mapping.createdAt), mapping.createdAt)
    : undefined;
  return createDocument({
    source: { kind: ctx.kind, name: ctx.name, uri: url || ctx.uri(key), key },
    title,
    content,
    format: ctx.format ?? "text",
    metadata,
    ...(access ? { access } : {}),
    ...(updatedAt !== undefined ? { updatedAt } : {}),
    ...(createdAt !== undefined ? { createdAt } : {}),
    ...(ctx.fetchedAt !== undefined ? { fetchedAt: ctx.fetchedAt } : {}),
  });
}

/** Validates a field mapping, naming the bad field. */
export function parseFieldMapping(mapping: unknown, what: string): FieldMapping {
  const parsed = FieldMappingSchema.safeParse(mapping);
  if (!parsed.success) {
    throw new ValidationError(
      `invalid field mapping for ${what}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
      { hint: 'A mapping needs at least { id: "<path>", content: "<path>" | ["<path>", …] }.' },
    );
  }
  return parsed.data;
}
