import type { ColumnDataType, Kysely } from "kysely";

export type Dialect = "sqlite" | "postgres";

/** Core tables. Other packages add theirs with `store.db.withTables<T>()`. */
export interface CoreTables {
  quintet_migrations: {
    namespace: string;
    id: string;
    applied_at: number;
  };
  quintet_lock: {
    name: string;
    n: number;
  };
}

/** One versioned schema change. `id`s sort in apply order (e.g. `0001_init`). */
export interface Migration {
  id: string;
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

/** Column types that mean the same thing on SQLite and PostgreSQL. */
export interface ColumnTypes {
  /** Integer that may exceed 2^31 (epoch milliseconds, counters). Read back as a JS number. */
  bigint: ColumnDataType;
  /** 64-bit float. */
  double: ColumnDataType;
  /** JSON stored as text; parse on read. */
  json: ColumnDataType;
  text: ColumnDataType;
  blob: ColumnDataType;
}

export function columnTypes(dialect: Dialect): ColumnTypes {
  return dialect === "postgres"
    ? { bigint: "bigint", double: "double precision", json: "text", text: "text", blob: "bytea" }
    : { bigint: "integer", double: "real", json: "text", text: "text", blob: "blob" };
}
