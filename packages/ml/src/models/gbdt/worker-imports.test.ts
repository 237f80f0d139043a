import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importGraph } from "../../testing/import-graph.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("histogram worker", () => {
  it("loads only its own small modules and Node built-ins (each worker start pays for every module)", () => {
    const { files, packages } = importGraph(join(here, "worker.ts"));
    expect([...packages].filter((p) => !p.startsWith("node:"))).toEqual([]);
    // The split search is among them (workers share it), binning with its dependencies is not.
    expect(files.has(join(here, "split.ts"))).toBe(true);
    expect(files.has(join(here, "binning.ts"))).toBe(false);
  });
});
