import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ArtifactStore, NotFoundError, Store, ValidationError } from "@quintet/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fingerprint, Tracker } from "../index.js";

let store: Store;
let artifacts: ArtifactStore;
let tracker: Tracker;

beforeEach(async () => {
  const home = await mkdtemp(join(tmpdir(), "quintet-tracking-"));
  store = await Store.open({ url: `sqlite:${join(home, "q.db")}` });
  artifacts = await ArtifactStore.open({ home, store });
  tracker = new Tracker(store, artifacts);
});
afterEach(async () => {
  await store.close();
});

describe("Tracker", () => {
  it("records params, per-step metrics, dataset, artifacts and the final status", async () => {
    const data = "a,b\n1,2\n";
    const run = await tracker.startRun({
      experiment: "churn",
      params: { eta: 0.1, depth: 6 },
      tags: { owner: "ml" },
      dataset: { fingerprint: fingerprint(data), name: "customers.csv", rows: 1 },
      gitCommit: "abc123",
    });
    for (let i = 0; i < 5; i++) await run.logMetric("valid_auc", 0.8 + i * 0.01);
    await run.logParams({ rounds: 5 });
    const { digest } = await run.logArtifact("report.html", "<html></html>", "text/html");
    await run.end("finished");

    const info = await tracker.getRun(run.id);
    expect(info.status).toBe("finished");
    expect(info.params).toEqual({ eta: 0.1, depth: 6, rounds: 5 });
    expect(info.metrics.valid_auc).toBeCloseTo(0.84);
    expect(info.dataset?.fingerprint).toBe(fingerprint(data));
    expect(info.gitCommit).toBe("abc123");
    expect(info.artifacts).toEqual([{ name: "report.html", digest, mediaType: "text/html", size: 13 }]);
    expect((await tracker.metricHistory(run.id, "valid_auc")).map((m) => m.step)).toEqual([0, 1, 2, 3, 4]);
    expect(Buffer.from(await artifacts.get(digest)).toString()).toBe("<html></html>");
  });

  it("marks a run failed with the error when its body throws", async () => {
    await expect(
      tracker.withRun({ experiment: "churn" }, async (run) => {
        await run.logMetric("loss", 1);
        throw new Error("out of memory");
      }),
    ).rejects.toThrow("out of memory");
    const [run] = await tracker.listRuns({ experiment: "churn" });
    expect(run?.status).toBe("failed");
    expect(run?.error).toBe("out of memory");
  });

  it("compares runs and flags what differs", async () => {
    const a = await tracker.withRun({ params: { eta: 0.1, depth: 6 } }, async (r) => {
      await r.logMetric("auc", 0.9);
      return r.id;
    });
    const b = await tracker.withRun({ params: { eta: 0.3, depth: 6 } }, async (r) => {
      await r.logMetric("auc", 0.9);
      return r.id;
    });
    const cmp = await tracker.compareRuns([a, b]);
    expect(cmp.params).toEqual([
      { key: "depth", values: [6, 6], differs: false },
      { key: "eta", values: [0.1, 0.3], differs: true },
    ]);
    expect(cmp.metrics[0]).toEqual({ key: "auc", values: [0.9, 0.9], differs: false });
    expect((await tracker.listRuns()).map((r) => r.id)).toEqual([b, a]);
  });

  it("rejects bad input with errors that say what to do", async () => {
    await expect(tracker.startRun({ experiment: "" })).rejects.toBeInstanceOf(ValidationError);
    const run = await tracker.startRun({});
    await expect(run.logMetric("auc", Number.NaN)).rejects.toThrow(/finite/);
    await expect(tracker.getRun("run_missing")).rejects.toBeInstanceOf(NotFoundError);
    await expect(tracker.compareRuns([run.id])).rejects.toBeInstanceOf(ValidationError);
  });
});
