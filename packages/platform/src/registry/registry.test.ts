import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArtifactStore, NotFoundError, Store, ValidationError } from "@quintet/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ModelRegistry, parseModelRef } from "../index.js";

let home: string;
let store: Store;
let registry: ModelRegistry;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "quintet-registry-"));
  store = await Store.open({ url: `sqlite:${join(home, "q.db")}` });
  registry = new ModelRegistry(store, await ArtifactStore.open({ home, store }));
});
afterEach(async () => {
  await store.close();
});

describe("ModelRegistry", () => {
  it("numbers versions, keeps lineage and resolves every reference form", async () => {
    const v1 = await registry.register({
      name: "churn",
      bundle: '{"trees":1}',
      flavor: "quintet.gbdt",
      runId: "run_1",
      metrics: { auc: 0.9 },
      signature: { inputs: [{ name: "tenure", type: "number" }], outputs: [{ name: "p", type: "number" }] },
      aliases: ["champion"],
    });
    const v2 = await registry.register({
      name: "churn",
      bundle: '{"trees":2}',
      flavor: "quintet.gbdt",
      metrics: { auc: 0.92 },
    });
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect((await registry.resolve("churn@champion")).version).toBe(1);
    expect((await registry.resolve("churn/2")).metrics).toEqual({ auc: 0.92 });
    expect((await registry.resolve("churn")).version).toBe(2);
    const { bundle, version } = await registry.loadBundle("churn@champion");
    expect(Buffer.from(bundle).toString()).toBe('{"trees":1}');
    expect(version.runId).toBe("run_1");
    expect(version.signature?.inputs[0]?.name).toBe("tenure");
  });

  it("moves aliases atomically and keeps their history", async () => {
    await registry.register({ name: "churn", bundle: "a", flavor: "x", aliases: ["champion"] });
    await registry.register({ name: "churn", bundle: "b", flavor: "x", aliases: ["challenger"] });
    await registry.setAlias("churn", "champion", 2);
    expect((await registry.resolve("churn@champion")).version).toBe(2);
    expect((await registry.listVersions("churn")).map((v) => [v.version, v.aliases])).toEqual([
      [2, ["challenger", "champion"]],
      [1, []],
    ]);
    const history = await registry.aliasHistory("churn");
    expect(history.map((h) => [h.alias, h.from_version, h.to_version])).toEqual([
      ["champion", null, 1],
      ["challenger", null, 2],
      ["champion", 1, 2],
    ]);
    await expect(registry.setAlias("churn", "champion", 9)).rejects.toBeInstanceOf(NotFoundError);
    expect((await registry.resolve("churn@champion")).version).toBe(2);
    await registry.deleteAlias("churn", "challenger");
    await expect(registry.resolve("churn@challenger")).rejects.toBeInstanceOf(NotFoundError);
    expect(await registry.listModels()).toEqual([
      { name: "churn", description: "", latest: 2, versions: 2, aliases: { champion: 2 } },
    ]);
  });

  it("concurrent registrations get distinct version numbers", async () => {
    const versions = await Promise.all(
      Array.from({ length: 8 }, (_, i) => registry.register({ name: "m", bundle: `b${i}`, flavor: "x" })),
    );
    expect(versions.map((v) => v.version).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("validates references, names and metrics", async () => {
    expect(parseModelRef("churn@champion")).toEqual({ name: "churn", alias: "champion" });
    expect(parseModelRef("churn/3")).toEqual({ name: "churn", version: 3 });
    expect(() => parseModelRef("churn/x")).toThrow(ValidationError);
    expect(() => parseModelRef("Churn Model")).toThrow(/invalid model name/);
    await expect(
      registry.register({ name: "m", bundle: "x", flavor: "x", metrics: { auc: Number.NaN } }),
    ).rejects.toThrow(/finite/);
    await expect(registry.resolve("nothing@champion")).rejects.toBeInstanceOf(NotFoundError);
    expect(await registry.listModels()).toEqual([]);
  });
});
