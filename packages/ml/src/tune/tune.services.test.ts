import { openStore, type Store } from "@quintet/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { categoricalParam, floatParam, intParam, openStudy, type Params, Study, tuneMigrations } from "./index.js";

// The same studies on PostgreSQL: trial numbering in transactions, reclaiming, resuming.
const url = process.env.QUINTET_TEST_PG_URL ?? "postgres://root@127.0.0.1:5432/test";
let store: Store;
const prefix = `svc-${Date.now().toString(36)}`;

beforeAll(async () => {
  store = await openStore({ url });
  await store.migrate("tune", tuneMigrations);
});
afterAll(async () => {
  await store.db
    .withTables<{ tune_studies: { name: string } }>()
    .deleteFrom("tune_studies")
    .where("name", "like", `${prefix}%`)
    .execute();
  await store.close();
});

const space = {
  x: floatParam(0.001, 10, { log: true }),
  k: intParam(1, 20),
  kind: categoricalParam(["a", "b", "c"]),
};
const f = (p: Params) =>
  (Math.log10(p.x as number) + 1) ** 2 + ((p.k as number) - 7) ** 2 / 20 + (p.kind === "b" ? 0 : 1);

describe("tuning studies on PostgreSQL", () => {
  it("numbers concurrent trials without gaps and repeats a serial study by seed", async () => {
    const study = await openStudy({ store, name: `${prefix}-a`, space, direction: "minimize", seed: 3 });
    const r = await study.optimize(
      async (t) => {
        await new Promise((res) => setTimeout(res, 5));
        return f(t.params);
      },
      { trials: 20, concurrency: 4 },
    );
    expect(r.trials.map((t) => t.number)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(r.trials.every((t) => t.state === "complete" && typeof t.value === "number")).toBe(true);

    const serial = async (name: string) => {
      const s = await openStudy({ store, name, space, direction: "minimize", seed: 9 });
      return (await s.optimize((t) => f(t.params), { trials: 15 })).trials.map((t) => [t.params, t.value]);
    };
    expect(await serial(`${prefix}-b`)).toEqual(await serial(`${prefix}-c`));
  });

  it("takes back a trial whose process is gone and runs it again with its parameters", async () => {
    const name = `${prefix}-d`;
    const study = await openStudy({ store, name, space, direction: "minimize", seed: 1 });
    await study.optimize((t) => f(t.params), { trials: 3 });
    // A trial left running by a process that no longer exists on this host.
    const db = store.db.withTables<{
      tune_trials: { study_id: string; number: number; state: string; owner: string | null; params: string };
    }>();
    const params = { k: 7, kind: "b", x: 0.1 };
    await study.enqueue(params);
    await db
      .updateTable("tune_trials")
      .set({ state: "running", owner: `${(await import("node:os")).hostname()}|999999999|dead` })
      .where("study_id", "=", study.id)
      .where("number", "=", 3)
      .execute();
    const reopened = await Study.load(store, name);
    const r = await reopened.optimize((t) => f(t.params), { trials: 5 });
    expect(r.resumed).toBe(1);
    expect(r.trials[3]).toMatchObject({ state: "complete", params, value: 0 });
    expect(r.trials).toHaveLength(5);
  });
});
