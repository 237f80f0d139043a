#!/usr/bin/env node
// `npm run example -- <name> [flags]`: runs examples/<name>.ts from source (no build needed).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const examples = ["churn", "lead-scoring", "fraud"];
const [name, ...rest] = process.argv.slice(2);
if (!name || !examples.includes(name) || !existsSync(join(here, `${name}.ts`))) {
  console.error(`${name ? `unknown example "${name}"; ` : ""}choose one of: ${examples.join(", ")}`);
  console.error(
    "usage: npm run example -- <name> [--data <dir>] [--home <dir>] [--budget 30s|5m|N trials] [--no-tune]",
  );
  process.exit(2);
}
const r = spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", join(here, `${name}.ts`), ...rest], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
