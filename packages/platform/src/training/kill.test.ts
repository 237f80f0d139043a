import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ArtifactStore, Store } from "@quintet/core";
import { syntheticCustomers, toCsv } from "@quintet/ml";
import { describe, expect, it } from "vitest";
import { ModelRegistry, Tracker, trainTable } from "../index.js";

const child = fileURLToPath(new URL("./fixtures/train-child.ts", import.meta.url));

/** Runs a training process until it reaches `phase`, then SIGKILLs it. */
async function killAt(home: string, csv: string, name: string, phase: string): Promise<void> {
  const p = spawn(process.execPath, ["--conditions=source", "--import", "tsx", child, home, csv, name, phase], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  p.stderr!.on("data", (d) => {
    err += d;
  });
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on("data", (d) => {
      out += d;
      if (out.includes(`at ${phase}`)) resolve();
    });
    p.on("exit", (code) => reject(new Error(`training exited (${code}) before ${phase}: ${out}${err}`)));
  });
  p.kill("SIGKILL");
  await new Promise((r) => p.once("exit", r));
}

describe("a training process killed midway", () => {
  const home = mkdtempSync(join(tmpdir(), "quintet-train-kill-"));
  const csv = join(home, "customers.csv");
  writeFileSync(csv, toCsv(syntheticCustomers({ rows: 1500, seed: 3 })));

  it.each(["train", "register"])(
    "leaves no half-registered version when killed at %s",
    async (phase) => {
      const name = `killed-${phase}`;
      await killAt(home, csv, name, phase);

      const store = await Store.open({ url: `sqlite:${join(home, "q.db")}` });
      try {
        const artifacts = await ArtifactStore.open({ home, store });
        const registry = new ModelRegistry(store, artifacts);
        expect((await registry.listModels()).find((m) => m.name === name)?.versions ?? 0).toBe(0);
        await expect(registry.resolve(`${name}@champion`)).rejects.toThrow();
        // The run the killed process started is on record as interrupted, not forever running.
        const tracker = new Tracker(store, artifacts);
        const interrupted = await tracker.listRuns({ status: "interrupted" });
        expect(interrupted.filter((r) => r.tags.model === name)).toHaveLength(1);
        expect(await tracker.listRuns({ status: "running" })).toEqual([]);

        // The next training of the same model is version 1, champion, and loads.
        const again = await trainTable(
          { data: csv, target: "churned", positive: "yes", name },
          { store, artifacts, home },
        );
        expect(again.model).toMatchObject({ name, version: 1, aliases: ["champion"] });
        const { bundle } = await registry.loadBundle(`${name}@champion`);
        expect(bundle.byteLength).toBe(again.model.size);
      } finally {
        await store.close();
      }
    },
    120_000,
  );
});
