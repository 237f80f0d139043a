import { columnTypes, type Migration } from "@quintet/core";

export type RegistryTables = {
  registry_models: { name: string; description: string; created_at: number };
  registry_versions: {
    name: string;
    version: number;
    digest: string;
    size: number;
    flavor: string;
    run_id: string | null;
    dataset: string | null;
    metrics: string;
    signature: string | null;
    tags: string;
    created_at: number;
  };
  registry_aliases: { name: string; alias: string; version: number; updated_at: number };
  registry_alias_events: {
    name: string;
    alias: string;
    from_version: number | null;
    to_version: number | null;
    at: number;
  };
};

export const registryMigrations: Migration[] = [
  {
    id: "0001_registry",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("registry_models")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("registry_versions")
        .addColumn("name", "text", (c) => c.notNull().references("registry_models.name"))
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("digest", "text", (c) => c.notNull())
        .addColumn("size", t.bigint, (c) => c.notNull())
        .addColumn("flavor", "text", (c) => c.notNull())
        .addColumn("run_id", "text")
        .addColumn("dataset", t.json)
        .addColumn("metrics", t.json, (c) => c.notNull())
        .addColumn("signature", t.json)
        .addColumn("tags", t.json, (c) => c.notNull())
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("registry_versions_pk", ["name", "version"])
        .execute();
      await db.schema
        .createTable("registry_aliases")
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("alias", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("updated_at", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("registry_aliases_pk", ["name", "alias"])
        .addForeignKeyConstraint("registry_aliases_version_fk", ["name", "version"], "registry_versions", [
          "name",
          "version",
        ])
        .execute();
      await db.schema
        .createTable("registry_alias_events")
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("alias", "text", (c) => c.notNull())
        .addColumn("from_version", "integer")
        .addColumn("to_version", "integer")
        .addColumn("at", t.bigint, (c) => c.notNull())
        .execute();
    },
  },
];
