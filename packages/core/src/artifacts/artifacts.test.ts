import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../store/store.js";
import { ArtifactStore } from "./artifact-store.js";
import { artifactConformance } from "./artifacts.conformance.js";

const dir = mkdtempSync(join(tmpdir(), "quintet-artifacts-db-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const freshStore = () => openStore({ url: `sqlite:${join(dir, `artifacts-${n++}.db`)}` });

artifactConformance("sqlite", freshStore);

describe("artifact store on SQLite", () => {
  it("removes temp files a crashed writer left behind long ago, and keeps recent ones", async () => {
    const home = mkdtempSync(join(tmpdir(), "quintet-artifacts-"));
    const tmp = join(home, "artifacts", "tmp");
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, "old.part"), "half a blob");
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    utimesSync(join(tmp, "old.part"), twoDaysAgo, twoDaysAgo);
    writeFileSync(join(tmp, "in-progress.part"), "another writer");
    const store = await freshStore();
    await ArtifactStore.open({ home, store });
    expect(readdirSync(tmp)).toEqual(["in-progress.part"]);
    await store.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("keeps metadata and blobs across reopening the store", async () => {
    const home = mkdtempSync(join(tmpdir(), "quintet-artifacts-"));
    const url = `sqlite:${join(dir, "reopen.db")}`;
    const first = await openStore({ url });
    const { digest } = await (await ArtifactStore.open({ home, store: first })).put("persisted", { name: "p" });
    await first.close();
    const second = await openStore({ url });
    const artifacts = await ArtifactStore.open({ home, store: second });
    expect((await artifacts.get(digest)).toString()).toBe("persisted");
    expect((await artifacts.list({ name: "p" })).map((a) => a.digest)).toEqual([digest]);
    await second.close();
    rmSync(home, { recursive: true, force: true });
  });
});
