import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import type { Kysely } from "kysely";
import type { QuintetConfig } from "../config/config.js";
import { sqlitePathFromUrl } from "../config/config.js";
import { QuintetError, UnavailableError } from "../errors/errors.js";
import { coreMigrations } from "./core-migrations.js";
import { type KyselyModule, kyselyModule } from "./kysely.js";
import { migrate } from "./migrator.js";
import type { CoreTables, Dialect, Migration } from "./types.js";

export interface OpenStoreOptions {
  /** `sqlite:<path>`, `sqlite::memory:` or `postgres://…`. */
  url: string;
  /** Base folder for relative SQLite paths. */
  cwd?: string;
  /** How long a SQLite writer waits for another process's lock before giving up. */
  busyTimeoutMs?: number;
  /** PostgreSQL pool size. */
  poolSize?: number;
}

/**
 * The state store: one Kysely instance over SQLite (embedded default) or PostgreSQL.
 * Opening it runs the core migrations; packages register theirs with {@link Store.migrate}.
 *
 * @example
 * const store = await openStore({ url: "sqlite:./.quintet/quintet.db" });
 * await store.tx(async (db) => db.insertInto("my_table").values(row).execute());
 * await store.close();
 */
export class Store {
  readonly db: Kysely<CoreTables>;
  readonly dialect: Dialect;
  readonly url: string;
  private readonly migrated = new Map<string, Promise<void>>();
  private closed = false;

  private constructor(
    /** Kysely's module, loaded by {@link Store.open}. */
    private readonly k: KyselyModule,
    db: Kysely<CoreTables>,
    dialect: Dialect,
    url: string,
  ) {
    this.db = db;
    this.dialect = dialect;
    this.url = url;
  }

  /** Opens (and migrates) the store described by `options.url`. */
  static async open(options: OpenStoreOptions): Promise<Store> {
    const { url } = options;
    const k = await kyselyModule();
    let store: Store;
    if (url.startsWith("sqlite:")) {
      const path = sqlitePathFromUrl(url, options.cwd ?? process.cwd());
      let database: Database.Database;
      try {
        if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
        // Drivers load with the store that needs them, not with the package.
        const { default: SQLite } = await import("better-sqlite3");
        database = new SQLite(path);
        database.pragma("journal_mode = WAL");
        database.pragma("synchronous = NORMAL");
        database.pragma("foreign_keys = ON");
        database.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 15000}`);
      } catch (err) {
        throw new UnavailableError(
          "STORE_UNAVAILABLE",
          `cannot open SQLite store at ${path}: ${(err as Error).message}`,
          {
            hint: "Check that the folder is writable and the file is a SQLite database, or set QUINTET_DB_URL.",
            cause: err,
          },
        );
      }
      store = new Store(k, new k.Kysely<CoreTables>({ dialect: new k.SqliteDialect({ database }) }), "sqlite", url);
    } else if (/^postgres(ql)?:\/\//.test(url)) {
      const { default: pg } = await import("pg");
      const pool = new pg.Pool({
        connectionString: url,
        max: options.poolSize ?? 10,
        connectionTimeoutMillis: 5000,
        // int8 and numeric come back as strings by default; our bigints are epoch ms and counters.
        types: {
          getTypeParser: ((oid: number, format?: string) =>
            oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as never,
        },
      });
      pool.on("error", () => {
        // An idle client lost its connection; the pool replaces it on next checkout.
      });
      try {
        const client = await pool.connect();
        client.release();
      } catch (err) {
        await pool.end().catch(() => {});
        throw new UnavailableError(
          "STORE_UNAVAILABLE",
          `cannot reach PostgreSQL at ${redact(url)}: ${(err as Error).message}`,
          {
            hint: "Start PostgreSQL or fix QUINTET_DB_URL (postgres://user@host:5432/db); unset it to use the embedded SQLite store.",
            cause: err,
          },
        );
      }
      store = new Store(k, new k.Kysely<CoreTables>({ dialect: new k.PostgresDialect({ pool }) }), "postgres", url);
    } else {
      throw new QuintetError("CONFIG_INVALID", `unsupported store URL "${url}"`, {
        hint: "Use sqlite:<path> or postgres://user@host:port/db.",
      });
    }
    try {
      await store.migrate("core", coreMigrations);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Opens the store a resolved config points at. */
  static fromConfig(config: QuintetConfig): Promise<Store> {
    return Store.open({ url: config.db.url, cwd: config.cwd });
  }

  /**
   * Applies the pending migrations of one namespace (a package), each in its own
   * transaction, under a lock so concurrent processes apply each exactly once.
   * Repeated calls on one store are free.
   */
  migrate(namespace: string, migrations: readonly Migration[]): Promise<void> {
    let p = this.migrated.get(namespace);
    if (!p) {
      p = migrate(this, namespace, migrations);
      this.migrated.set(namespace, p);
      p.catch(() => this.migrated.delete(namespace));
    }
    return p;
  }

  /**
   * Runs `fn` in a write transaction. On SQLite it starts with `BEGIN IMMEDIATE` so the
   * write lock is taken up front (no upgrade deadlocks between processes) and retries
   * when another process holds the lock past the busy timeout.
   */
  async tx<T>(fn: (db: Kysely<CoreTables>) => Promise<T>): Promise<T> {
    if (this.dialect === "postgres") return this.db.transaction().execute(fn);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.connection().execute(async (conn) => {
          await this.k.sql`begin immediate`.execute(conn);
          try {
            const result = await fn(conn);
            await this.k.sql`commit`.execute(conn);
            return result;
          } catch (err) {
            await this.k.sql`rollback`.execute(conn).catch(() => {});
            throw err;
          }
        });
      } catch (err) {
        if (!isBusy(err) || attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random())));
      }
    }
  }

  /** Checks the connection answers; used by readiness probes and `quintet doctor`. */
  async ping(): Promise<void> {
    await this.k.sql`select 1`.execute(this.db);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }
}

/** Shorthand for {@link Store.open}. */
export function openStore(options: OpenStoreOptions): Promise<Store> {
  return Store.open(options);
}

export function isBusy(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

/** Hides the password in a connection URL before it reaches a log or an error. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]+)@/, "//$1:***@");
}
