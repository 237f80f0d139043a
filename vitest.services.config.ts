import { defineConfig } from "vitest/config";
import { alias } from "./vitest.shared.js";

/** Suites that need the PostgreSQL and Redis servers (QUINTET_TEST_PG_URL, QUINTET_TEST_REDIS_URL). */
export default defineConfig({
  resolve: { alias },
  test: {
    include: ["packages/*/src/**/*.services.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
