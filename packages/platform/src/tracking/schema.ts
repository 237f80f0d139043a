import { columnTypes, type Migration } from "@quintet/core";

export type TrackingTables = {
  tracking_runs: {
    id: string;
    experiment: string;
    name: string;
    status: string;
    params: string;
    tags: string;
    dataset: string | null;
    git_commit: string | null;
    started_at: number;
    ended_at: number | null;
    error: string | null;
    /** `host:pid` of the process running it (see RunStatus "interrupted"). */
    owner: string | null;
  };
  tracking_metrics: { run_id: string; key: string; step: number; value: number; at: number };
  tracking_artifacts: { run_id: string; name: string; digest: string; media_type: string; size: number; at: number };
};

export const trackingMigrations: Migration[] = [
  {
    id: "0001_runs",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("tracking_runs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("experiment", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("params", t.json, (c) => c.notNull())
        .addColumn("tags", t.json, (c) => c.notNull())
        .addColumn("dataset", t.json)
        .addColumn("git_commit", "text")
        .addColumn("started_at", t.bigint, (c) => c.notNull())
        .addColumn("ended_at", t.bigint)
        .addColumn("error", "text")
        .execute();
      await db.schema
        .createIndex("tracking_runs_experiment")
        .on("tracking_runs")
        .columns(["experiment", "started_at"])
        .execute();
      await db.schema
        .createTable("tracking_metrics")
        .addColumn("run_id", "text", (c) => c.notNull().references("tracking_runs.id").onDelete("cascade"))
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("step", t.bigint, (c) => c.notNull())
        .addColumn("value", t.double, (c) => c.notNull())
        .addColumn("at", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("tracking_metrics_pk", ["run_id", "key", "step"])
        .execute();
      await db.schema
        .createTable("tracking_artifacts")
        .addColumn("run_id", "text", (c) => c.notNull().references("tracking_runs.id").onDelete("cascade"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("digest", "text", (c) => c.notNull())
        .addColumn("media_type", "text", (c) => c.notNull())
        .addColumn("size", t.bigint, (c) => c.notNull())
        .addColumn("at", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("tracking_artifacts_pk", ["run_id", "name"])
        .execute();
    },
  },
  {
    id: "0002_run_owner",
    async up(db) {
      await db.schema.alterTable("tracking_runs").addColumn("owner", "text").execute();
    },
  },
];
