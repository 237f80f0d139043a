import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArtifactStore, Store } from "@quintet/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelRegistry, Tracker } from "../index.js";

const url = process.env.QUINTET_TEST_PG_URL;

describe.skipIf(!url)("registry and tracking on PostgreSQL", () => {
  let store: Store;
  let registry: ModelRegistry;
  let tracker: Tracker;
  const name = `m-${randomBytes(4).toString("hex")}`;

  beforeAll(async () => {
    const home = await mkdtemp(join(tmpdir(), "quintet-registry-pg-"));
    store = await Store.open({ url: url! });
    const artifacts = await ArtifactStore.open({ home, store });
    registry = new ModelRegistry(store, artifacts);
    tracker = new Tracker(store, artifacts);
  });
  afterAll(async () => {
    await store?.close();
  });

  it("concurrent registrations of one model get distinct, gapless versions", async () => {
    const versions = await Promise.all(
      Array.from({ length: 10 }, (_, i) => registry.register({ name, bundle: `b${i}`, flavor: "x" })),
    );
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await registry.setAlias(name, "champion", 7);
    expect((await registry.resolve(`${name}@champion`)).version).toBe(7);
  });

  it("records runs and metrics", async () => {
    const id = await tracker.withRun({ experiment: name, params: { eta: 0.1 } }, async (run) => {
      await run.logMetrics({ auc: 0.9, logloss: 0.3 });
      return run.id;
    });
    const run = await tracker.getRun(id);
    expect(run.metrics).toEqual({ auc: 0.9, logloss: 0.3 });
    expect(run.status).toBe("finished");
  });
});
