import type { Migration } from "../store/types.js";
import { columnTypes } from "../store/types.js";

/** One row per job of the in-process runner. */
export type JobsTable = {
  jobs: JobRow;
};

export type JobRow = {
  id: string;
  name: string;
  /** JSON */
  data: string;
  state: string;
  priority: number;
  /** Epoch ms when the job becomes due (enqueue time, delay, or retry backoff). */
  run_at: number;
  /** Breaks ties in enqueue order among jobs of equal priority and due time. */
  seq: number;
  /** Handler runs started. */
  attempts: number;
  /** Handler runs that failed (the retry budget counts these). */
  failures: number;
  /** Times the job was taken back from a runner whose lease expired. */
  stalls: number;
  max_attempts: number;
  progress: string | null;
  result: string | null;
  error: string | null;
  lease_owner: string | null;
  /** Fresh per claim; every write about an attempt is guarded by it, so a stale owner writes nothing. */
  lease_token: string | null;
  lease_expires_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
};

/** Migrations of the "jobs" namespace. Never edit a released one: append. */
export const jobsMigrations: Migration[] = [
  {
    id: "0001_jobs",
    up: async (db, dialect) => {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("jobs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("data", t.json, (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("priority", "integer", (c) => c.notNull())
        .addColumn("run_at", t.bigint, (c) => c.notNull())
        .addColumn("seq", t.bigint, (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("failures", "integer", (c) => c.notNull())
        .addColumn("stalls", "integer", (c) => c.notNull())
        .addColumn("max_attempts", "integer", (c) => c.notNull())
        .addColumn("progress", t.json)
        .addColumn("result", t.json)
        .addColumn("error", t.json)
        .addColumn("lease_owner", "text")
        .addColumn("lease_token", "text")
        .addColumn("lease_expires_at", t.bigint)
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addColumn("started_at", t.bigint)
        .addColumn("finished_at", t.bigint)
        .execute();
      // The claim query walks queued jobs in run order; stalled ones are found by lease expiry.
      await db.schema.createIndex("jobs_due").on("jobs").columns(["state", "priority", "run_at", "seq"]).execute();
      await db.schema.createIndex("jobs_lease").on("jobs").columns(["state", "lease_expires_at"]).execute();
      await db.schema.createIndex("jobs_name_created").on("jobs").columns(["name", "created_at"]).execute();
      await db.schema.createIndex("jobs_created").on("jobs").column("created_at").execute();
    },
  },
];
