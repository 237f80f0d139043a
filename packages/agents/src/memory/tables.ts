import { columnTypes, type Migration } from "@quintet/core";
import type { StoredScope } from "./scope.js";

/** Tables of the `agents.memory` store namespace. */
export type MemoryTables = {
  agent_episodes: StoredScope & {
    run_id: string;
    key: string;
    seq: number;
    kind: string;
    agent: string;
    text: string;
    /** Stemmed content terms between single spaces (` term term `), for portable LIKE search. */
    terms: string;
    data: string | null;
    at: number;
  };
  agent_facts: StoredScope & {
    id: string;
    kind: string;
    text: string;
    /** Lower-cased, whitespace-collapsed text: exact duplicates compare equal. */
    norm: string;
    /** JSON array of where the fact came from. */
    sources: string;
    vector: Uint8Array;
    dims: number;
    embedder: string;
    confidence: number;
    hits: number;
    created_at: number;
    last_seen_at: number;
  };
};

export const memoryMigrations: Migration[] = [
  {
    id: "0001_memory",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("agent_episodes")
        .addColumn("run_id", "text", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("scope_user", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("scope_agent", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("scope_team", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("seq", t.bigint, (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("agent", "text", (c) => c.notNull())
        .addColumn("text", "text", (c) => c.notNull())
        .addColumn("terms", "text", (c) => c.notNull())
        .addColumn("data", t.json)
        .addColumn("at", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("agent_episodes_pk", ["run_id", "key"])
        .execute();
      await db.schema
        .createIndex("agent_episodes_scope")
        .on("agent_episodes")
        .columns(["scope_agent", "scope_user", "scope_team", "at"])
        .execute();
      await db.schema
        .createTable("agent_facts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("scope_user", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("scope_agent", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("scope_team", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("text", "text", (c) => c.notNull())
        .addColumn("norm", "text", (c) => c.notNull())
        .addColumn("sources", t.json, (c) => c.notNull())
        .addColumn("vector", t.blob, (c) => c.notNull())
        .addColumn("dims", "integer", (c) => c.notNull())
        .addColumn("embedder", "text", (c) => c.notNull())
        .addColumn("confidence", t.double, (c) => c.notNull())
        .addColumn("hits", t.bigint, (c) => c.notNull())
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addColumn("last_seen_at", t.bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("agent_facts_scope")
        .on("agent_facts")
        .columns(["scope_user", "scope_agent", "scope_team"])
        .execute();
    },
  },
];
