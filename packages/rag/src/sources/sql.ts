import { type Store, ValidationError } from "@quintet/core";
import { CompiledQuery } from "kysely";
import { z } from "zod";
import type { Document, JsonValue } from "../documents/types.js";
import { FieldMappingSchema, recordToDocument } from "./mapping.js";
import type { LoadOptions, Source } from "./types.js";

export const SqlSourceOptionsSchema = z.object({
  name: z.string().min(1),
  /** A SELECT; placeholders are the dialect's (`?` on SQLite, `$1` on PostgreSQL). */
  query: z.string().min(1),
  params: z.array(z.unknown()).default([]),
  fields: FieldMappingSchema,
  /**
   * Read in pages of this many rows (`select * from (<query>) limit n offset m`); the query then
   * needs an ORDER BY on a unique key so pages do not overlap. Default: one read.
   */
  batchSize: z.number().int().min(1).optional(),
  access: z.array(z.string()).optional(),
  metadata: z.record(z.string(), z.any()).default({}),
  format: z.enum(["text", "markdown"]).default("text"),
});
export type SqlSourceOptions = z.input<typeof SqlSourceOptionsSchema> & { store: Store };

/**
 * Documents from a SQL query on the core store (SQLite or PostgreSQL, through Kysely): each row
 * becomes a document through a field mapping, keyed by the mapped id column.
 */
export class SqlSource implements Source {
  readonly kind = "sql" as const;
  readonly name: string;
  private readonly opts: z.output<typeof SqlSourceOptionsSchema>;
  private readonly store: Store;

  constructor(options: SqlSourceOptions) {
    const { store, ...rest } = options;
    const parsed = SqlSourceOptionsSchema.safeParse(rest);
    if (!parsed.success) {
      throw new ValidationError(
        `invalid SQL source options: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
        { hint: "Pass { name, store, query, fields: { id, content, … } }." },
      );
    }
    if (!/^\s*(select|with)\b/i.test(parsed.data.query)) {
      throw new ValidationError(`SQL source "${parsed.data.name}" must run a SELECT (or WITH … SELECT)`, {
        hint: "Sources only read; write the query as a SELECT.",
      });
    }
    this.opts = parsed.data;
    this.name = parsed.data.name;
    this.store = store;
  }

  async *load(options: LoadOptions = {}): AsyncIterable<Document> {
    const size = this.opts.batchSize;
    const query = this.opts.query.trim().replace(/;\s*$/, "");
    for (let offset = 0; ; offset += size ?? 0) {
      options.signal?.throwIfAborted();
      const text = size ? `select * from (${query}) as quintet_src limit ${size} offset ${offset}` : query;
      let rows: unknown[];
      try {
        rows = (await this.store.db.executeQuery(CompiledQuery.raw(text, this.opts.params))).rows;
      } catch (err) {
        throw new ValidationError(`SQL source "${this.name}" failed: ${(err as Error).message}`, {
          hint: `Check the query runs on ${this.store.dialect} (placeholders are ${this.store.dialect === "postgres" ? "$1, $2" : "?"}).`,
          cause: err,
        });
      }
      const fetchedAt = Date.now();
      for (let i = 0; i < rows.length; i++) {
        yield recordToDocument(rows[i], this.opts.fields, {
          kind: "sql",
          name: this.name,
          uri: (key) => `sql:${this.name}#${encodeURIComponent(key)}`,
          where: `row ${offset + i + 1}`,
          format: this.opts.format,
          metadata: this.opts.metadata as Record<string, JsonValue>,
          fetchedAt,
          ...(this.opts.access ? { access: this.opts.access } : {}),
        });
      }
      if (!size || rows.length < size) return;
    }
  }
}

/** Shorthand for `new SqlSource(options)`. */
export function sqlSource(options: SqlSourceOptions): SqlSource {
  return new SqlSource(options);
}
