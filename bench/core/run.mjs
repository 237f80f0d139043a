#!/usr/bin/env node
// `npm run bench:core`: span persistence and job overhead.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const r = spawnSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), "..", "run.mjs"), "core"], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
