import type { Store } from "../store/store.js";
import type { Migration } from "../store/types.js";
import { columnTypes } from "../store/types.js";

// Type aliases, not interfaces: Kysely's withTables wants an index-signature-compatible shape.
export type ArtifactRow = {
  digest: string;
  size: number;
  media_type: string;
  name: string | null;
  created_at: number;
  labels: string;
};

/** One row per label, so label filters are plain indexed equality on both dialects. */
export type ArtifactLabelRow = {
  digest: string;
  key: string;
  value: string;
};

export type ArtifactTables = {
  artifacts: ArtifactRow;
  artifact_labels: ArtifactLabelRow;
};

/** Migrations of the "artifacts" namespace. Never edit a released one: append. */
export const artifactMigrations: Migration[] = [
  {
    id: "0001_artifacts",
    up: async (db, dialect) => {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("artifacts")
        .addColumn("digest", "text", (c) => c.primaryKey())
        .addColumn("size", t.bigint, (c) => c.notNull())
        .addColumn("media_type", "text", (c) => c.notNull())
        .addColumn("name", "text")
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addColumn("labels", t.json, (c) => c.notNull())
        .execute();
      await db.schema.createIndex("artifacts_name").on("artifacts").columns(["name", "created_at"]).execute();
      await db.schema.createIndex("artifacts_created").on("artifacts").column("created_at").execute();
      await db.schema
        .createTable("artifact_labels")
        .addColumn("digest", "text", (c) => c.notNull().references("artifacts.digest").onDelete("cascade"))
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("artifact_labels_pk", ["digest", "key"])
        .execute();
      await db.schema.createIndex("artifact_labels_kv").on("artifact_labels").columns(["key", "value"]).execute();
    },
  },
];

export function migrateArtifacts(store: Store): Promise<void> {
  return store.migrate("artifacts", artifactMigrations);
}
