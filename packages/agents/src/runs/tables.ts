import { columnTypes, type Migration } from "@quintet/core";

/** Tables of the `agents` store namespace (runs and their checkpointed steps). */
export type RunTables = {
  agent_runs: {
    id: string;
    kind: string;
    name: string;
    /** JSON: the input (goal) the run started with. */
    input: string;
    /** JSON: what is needed to rebuild the agent or team on resume (e.g. a team config). */
    config: string | null;
    /** running | done | stopped | failed */
    status: string;
    stop_reason: string | null;
    stop_detail: string | null;
    /** JSON: the result (output, partial results). */
    output: string | null;
    /** JSON: a QuintetError as `toJSON()`. */
    error: string | null;
    total_tokens: number;
    cost_usd: number | null;
    steps: number;
    owner: string | null;
    lease_until: number | null;
    created_at: number;
    updated_at: number;
    ended_at: number | null;
  };
  agent_steps: {
    run_id: string;
    key: string;
    seq: number;
    type: string;
    agent: string | null;
    /** JSON: the recorded event. */
    data: string;
    at: number;
    /** Active milliseconds since the run started (across resumes) when this step was written. */
    elapsed_ms: number;
  };
};

export const runMigrations: Migration[] = [
  {
    id: "0001_runs",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("agent_runs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("input", t.json, (c) => c.notNull())
        .addColumn("config", t.json)
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("stop_reason", "text")
        .addColumn("stop_detail", "text")
        .addColumn("output", t.json)
        .addColumn("error", t.json)
        .addColumn("total_tokens", t.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn("cost_usd", t.double)
        .addColumn("steps", t.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn("owner", "text")
        .addColumn("lease_until", t.bigint)
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .addColumn("updated_at", t.bigint, (c) => c.notNull())
        .addColumn("ended_at", t.bigint)
        .execute();
      await db.schema.createIndex("agent_runs_created").on("agent_runs").column("created_at").execute();
      await db.schema
        .createTable("agent_steps")
        .addColumn("run_id", "text", (c) => c.notNull().references("agent_runs.id").onDelete("cascade"))
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("seq", t.bigint, (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("agent", "text")
        .addColumn("data", t.json, (c) => c.notNull())
        .addColumn("at", t.bigint, (c) => c.notNull())
        .addColumn("elapsed_ms", t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("agent_steps_pk", ["run_id", "key"])
        .execute();
      await db.schema.createIndex("agent_steps_seq").on("agent_steps").columns(["run_id", "seq"]).execute();
    },
  },
];
