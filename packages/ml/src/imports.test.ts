import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importGraph } from "./testing/import-graph.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("importing @quintet/ml", () => {
  it("loads no database driver, job queue, DuckDB or tracing SDK until one is used", () => {
    // Each loads on first use (a store, a Redis runner, a DuckDB query, startTracing). Loaded
    // with the package they cost ~200 ms and ~20 MB of heap per process, and their garbage
    // was collected during the first training (~10 % of a small one).
    const { packages } = importGraph(join(here, "index.ts"), {
      "@quintet/core": join(here, "../../core/src/index.ts"),
    });
    const heavy = [
      "kysely",
      "pg",
      "better-sqlite3",
      "ioredis",
      "bullmq",
      "@duckdb/node-api",
      "@opentelemetry/sdk-trace-base",
      "@opentelemetry/context-async-hooks",
    ];
    expect([...packages].filter((p) => heavy.includes(p))).toEqual([]);
    // The walk did reach core's modules (zod is the validation library of both packages).
    expect(packages.has("zod")).toBe(true);
    expect(packages.has("@opentelemetry/api")).toBe(true);
  });
});
