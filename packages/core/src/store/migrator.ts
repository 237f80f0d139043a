import { QuintetError } from "../errors/errors.js";
import { kyselyModule } from "./kysely.js";
import type { Store } from "./store.js";
import type { Migration } from "./types.js";

async function ensureBookkeeping(store: Store): Promise<void> {
  // IF NOT EXISTS makes this safe when several processes open a fresh database at once.
  await store.db.schema
    .createTable("quintet_migrations")
    .ifNotExists()
    .addColumn("namespace", "text", (c) => c.notNull())
    .addColumn("id", "text", (c) => c.notNull())
    .addColumn("applied_at", store.dialect === "postgres" ? "bigint" : "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("quintet_migrations_pk", ["namespace", "id"])
    .execute()
    .catch(ignoreAlreadyExists);
  await store.db.schema
    .createTable("quintet_lock")
    .ifNotExists()
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("n", "integer", (c) => c.notNull())
    .execute()
    .catch(ignoreAlreadyExists);
}

function ignoreAlreadyExists(err: unknown): void {
  // PostgreSQL can still race on CREATE TABLE IF NOT EXISTS (duplicate type/relation).
  const code = (err as { code?: string }).code;
  if (code === "23505" || code === "42P07") return;
  throw err;
}

/**
 * Applies pending migrations of `namespace` in id order. Each runs in one transaction
 * together with its bookkeeping row, so a crash leaves it either applied or not at all.
 */
export async function migrate(store: Store, namespace: string, migrations: readonly Migration[]): Promise<void> {
  const ids = migrations.map((m) => m.id);
  const sorted = [...ids].sort();
  if (ids.some((id, i) => id !== sorted[i]) || new Set(ids).size !== ids.length) {
    throw new QuintetError("INTERNAL", `migrations of "${namespace}" must have unique ids in ascending order`);
  }
  await ensureBookkeeping(store);
  const applied = await store.db
    .selectFrom("quintet_migrations")
    .select("id")
    .where("namespace", "=", namespace)
    .execute();
  const known = new Set(ids);
  const unknown = applied.filter((r) => !known.has(r.id));
  if (unknown.length > 0) {
    throw new QuintetError(
      "CONFLICT",
      `the store has "${namespace}" migrations this version of Quintet does not know (${unknown.map((r) => r.id).join(", ")})`,
      { hint: "Upgrade Quintet to the version that created this database, or point QUINTET_DB_URL at another one." },
    );
  }
  const done = new Set(applied.map((r) => r.id));
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    await store.tx(async (db) => {
      if (store.dialect === "postgres") {
        const { sql } = await kyselyModule();
        await sql`select pg_advisory_xact_lock(hashtext(${`quintet:${namespace}`}))`.execute(db);
      } else {
        // BEGIN IMMEDIATE already holds the write lock; nothing more to take.
      }
      const again = await db
        .selectFrom("quintet_migrations")
        .select("id")
        .where("namespace", "=", namespace)
        .where("id", "=", m.id)
        .executeTakeFirst();
      if (again) return;
      await m.up(db, store.dialect);
      await db.insertInto("quintet_migrations").values({ namespace, id: m.id, applied_at: Date.now() }).execute();
    });
  }
}
