import { columnTypes, type Migration, type Store } from "@quintet/core";
import type { Params } from "./space.js";
import type { TrialRecord, TrialState } from "./types.js";

export type TuneTables = {
  tune_studies: {
    id: string;
    name: string;
    direction: string;
    space: string;
    sampler: string;
    pruner: string;
    seed: number;
    attrs: string;
    created_at: number;
  };
  tune_trials: {
    study_id: string;
    number: number;
    state: string;
    params: string;
    value: number | null;
    intermediate: string;
    attrs: string;
    attempts: number;
    owner: string | null;
    heartbeat_at: number | null;
    started_at: number | null;
    ended_at: number | null;
    error: string | null;
  };
};

export const tuneMigrations: Migration[] = [
  {
    id: "0001_studies",
    async up(db, dialect) {
      const t = columnTypes(dialect);
      await db.schema
        .createTable("tune_studies")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull().unique())
        .addColumn("direction", "text", (c) => c.notNull())
        .addColumn("space", t.json, (c) => c.notNull())
        .addColumn("sampler", t.json, (c) => c.notNull())
        .addColumn("pruner", t.json, (c) => c.notNull())
        .addColumn("seed", t.bigint, (c) => c.notNull())
        .addColumn("attrs", t.json, (c) => c.notNull())
        .addColumn("created_at", t.bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("tune_trials")
        .addColumn("study_id", "text", (c) => c.notNull().references("tune_studies.id").onDelete("cascade"))
        .addColumn("number", t.bigint, (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("params", t.json, (c) => c.notNull())
        .addColumn("value", t.double)
        .addColumn("intermediate", t.json, (c) => c.notNull())
        .addColumn("attrs", t.json, (c) => c.notNull())
        .addColumn("attempts", t.bigint, (c) => c.notNull())
        .addColumn("owner", "text")
        .addColumn("heartbeat_at", t.bigint)
        .addColumn("started_at", t.bigint)
        .addColumn("ended_at", t.bigint)
        .addColumn("error", "text")
        .addPrimaryKeyConstraint("tune_trials_pk", ["study_id", "number"])
        .execute();
      await db.schema.createIndex("tune_trials_state").on("tune_trials").columns(["study_id", "state"]).execute();
    },
  },
];

export async function tuneDb(store: Store) {
  await store.migrate("tune", tuneMigrations);
  return store.db.withTables<TuneTables>();
}

export type TuneDb = Awaited<ReturnType<typeof tuneDb>>;

export function rowToTrial(r: TuneTables["tune_trials"]): TrialRecord {
  return {
    number: Number(r.number),
    state: r.state as TrialState,
    params: JSON.parse(r.params) as Params,
    value: r.value === null ? null : Number(r.value),
    intermediate: JSON.parse(r.intermediate) as [number, number][],
    attrs: JSON.parse(r.attrs) as Record<string, unknown>,
    attempts: Number(r.attempts),
    error: r.error,
    startedAt: r.started_at === null ? null : Number(r.started_at),
    endedAt: r.ended_at === null ? null : Number(r.ended_at),
  };
}

/** The owner column of running trials: host, process and a per-study-object token. */
export interface Owner {
  host: string;
  pid: number;
  token: string;
}

export function ownerString(o: Owner): string {
  return `${o.host}|${o.pid}|${o.token}`;
}

export function parseOwner(s: string | null): Owner | undefined {
  if (!s) return undefined;
  const [host, pid, token] = s.split("|");
  if (host === undefined || pid === undefined || token === undefined) return undefined;
  return { host, pid: Number(pid), token };
}
