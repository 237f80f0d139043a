import type { Store } from "../store/store.js";
import type { Migration } from "../store/types.js";
import { columnTypes } from "../store/types.js";

/** Migrations of the "tracing" namespace. Never edit a released one: append. */
export const tracingMigrations: Migration[] = [
  {
    id: "0001_spans",
    up: async (db, dialect) => {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("spans")
        .addColumn("trace_id", "text", (c) => c.notNull())
        .addColumn("span_id", "text", (c) => c.notNull())
        .addColumn("parent_id", "text")
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("attributes", t.json, (c) => c.notNull())
        .addColumn("input_tokens", t.bigint)
        .addColumn("output_tokens", t.bigint)
        .addColumn("cost_usd", t.double)
        // Doubles, not integers: epoch milliseconds keep microsecond precision this way.
        .addColumn("start_ms", t.double, (c) => c.notNull())
        .addColumn("end_ms", t.double, (c) => c.notNull())
        .addColumn("duration_ms", t.double, (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("error_code", "text")
        .addColumn("error_message", "text")
        .execute();
      // No (trace_id, span_id) key: entries of one trace would then sit in span-id order,
      // which is random, and every batch of a long trace would rewrite pages all over the
      // index. Keyed on trace_id alone, a trace's entries follow insertion order and new
      // traces (time-ordered ids, see ids.ts) append at the end.
      await db.schema.createIndex("spans_trace").on("spans").column("trace_id").execute();
      await db.schema.createIndex("spans_kind_start").on("spans").columns(["kind", "start_ms"]).execute();
      await db.schema.createIndex("spans_start").on("spans").column("start_ms").execute();
    },
  },
];

/** Creates the `spans` table on first use; free afterwards. */
export function migrateTracing(store: Store): Promise<void> {
  return store.migrate("tracing", tracingMigrations);
}
