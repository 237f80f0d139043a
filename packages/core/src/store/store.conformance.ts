import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import type { Store } from "./store.js";
import type { Migration } from "./types.js";
import { columnTypes } from "./types.js";

interface Items {
  items: { id: string; n: number; at: number; meta: string };
}

/**
 * The behaviour every store backend must show. SQLite runs it in `npm test`,
 * PostgreSQL in `npm run test:services`.
 */
export function storeConformance(label: string, open: () => Promise<Store>): void {
  describe(`store conformance: ${label}`, () => {
    const opened: Store[] = [];
    const openTracked = async () => {
      const s = await open();
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    const ns = () => `test_${Math.random().toString(36).slice(2, 10)}`;
    const itemsMigration = (table: string): Migration => ({
      id: "0001_items",
      up: async (db, dialect) => {
        const t = columnTypes(dialect);
        await db.schema
          .createTable(table)
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("n", "integer", (c) => c.notNull())
          .addColumn("at", t.bigint, (c) => c.notNull())
          .addColumn("meta", t.json, (c) => c.notNull())
          .execute();
      },
    });

    it("applies migrations on a fresh database and records them", async () => {
      const store = await openTracked();
      const name = ns();
      await store.migrate(name, [itemsMigration(name)]);
      const rows = await store.db.selectFrom("quintet_migrations").selectAll().where("namespace", "=", name).execute();
      expect(rows.map((r) => r.id)).toEqual(["0001_items"]);
      expect(typeof rows[0]?.applied_at).toBe("number");
    });

    it("applies only the new migrations on an existing database, idempotently", async () => {
      const name = ns();
      const first = await openTracked();
      await first.migrate(name, [itemsMigration(name)]);
      const db = first.db.withTables<Record<string, Items["items"]>>();
      await db.insertInto(name).values({ id: "a", n: 1, at: 1_700_000_000_000, meta: "{}" }).execute();
      await first.close();

      const second = await openTracked();
      let ran = 0;
      const addColumn: Migration = {
        id: "0002_add_label",
        up: async (d) => {
          ran++;
          await d.schema.alterTable(name).addColumn("label", "text").execute();
        },
      };
      await second.migrate(name, [itemsMigration(name), addColumn]);
      const third = await openTracked();
      await third.migrate(name, [itemsMigration(name), addColumn]);
      expect(ran).toBe(1);
      const row = await third.db
        .withTables<Record<string, Items["items"] & { label: string | null }>>()
        .selectFrom(name)
        .selectAll()
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ id: "a", n: 1, at: 1_700_000_000_000, label: null });
    });

    it("rolls back a failing migration completely", async () => {
      const store = await openTracked();
      const name = ns();
      const broken: Migration = {
        id: "0001_broken",
        up: async (db) => {
          await db.schema.createTable(name).addColumn("id", "text").execute();
          throw new Error("boom");
        },
      };
      await expect(store.migrate(name, [broken])).rejects.toThrow("boom");
      const applied = await store.db
        .selectFrom("quintet_migrations")
        .selectAll()
        .where("namespace", "=", name)
        .execute();
      expect(applied).toEqual([]);
      // The table created before the failure was rolled back with it.
      const probe = sql`select 1 from ${sql.table(name)}`.execute(store.db);
      await expect(probe).rejects.toThrow();
    });

    it("refuses a database migrated by a newer version", async () => {
      const store = await openTracked();
      const name = ns();
      const extra: Migration = { id: "0002_future", up: async () => {} };
      await store.migrate(name, [itemsMigration(name), extra]);
      const older = await openTracked();
      await expect(older.migrate(name, [itemsMigration(name)])).rejects.toMatchObject({ code: "CONFLICT" });
    });

    it("commits a transaction atomically and rolls back on error", async () => {
      const store = await openTracked();
      const name = ns();
      await store.migrate(name, [itemsMigration(name)]);
      const db = store.db.withTables<Record<string, Items["items"]>>();
      await expect(
        store.tx(async (tx) => {
          await tx
            .withTables<Record<string, Items["items"]>>()
            .insertInto(name)
            .values({ id: "x", n: 1, at: 0, meta: "{}" })
            .execute();
          throw new Error("abort");
        }),
      ).rejects.toThrow("abort");
      expect(await db.selectFrom(name).selectAll().execute()).toEqual([]);
      await store.tx(async (tx) => {
        await tx
          .withTables<Record<string, Items["items"]>>()
          .insertInto(name)
          .values({ id: "y", n: 2, at: 2 ** 40, meta: '{"k":1}' })
          .execute();
      });
      const rows = await db.selectFrom(name).selectAll().execute();
      expect(rows).toEqual([{ id: "y", n: 2, at: 2 ** 40, meta: '{"k":1}' }]);
    });

    it("answers ping", async () => {
      const store = await openTracked();
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
