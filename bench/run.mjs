#!/usr/bin/env node
// Runs the side-by-side benchmarks one after another (never in parallel: they measure
// the machine). `npm run bench` runs all; `npm run bench -- core trees` runs a subset.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const suites = {
  agents: ["agents/orchestration.ts"],
  core: ["core/spans.ts", "core/jobs.ts"],
  ml: ["ml-workflow/quality.ts"],
  rag: ["rag/quality.ts", "rag/speed.ts"],
  trees: ["trees/train.ts", "trees/predict.ts", "trees/linear.ts"],
};
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const names = wanted.length > 0 ? wanted : Object.keys(suites);
let failed = 0;
for (const name of names) {
  const files = suites[name];
  if (!files) {
    console.error(`unknown benchmark suite "${name}"; choose from: ${Object.keys(suites).join(", ")}`);
    process.exit(2);
  }
  for (const file of files) {
    const path = join(here, file);
    if (!existsSync(path)) {
      console.error(`(skipping ${file}: not present)`);
      continue;
    }
    console.log(`\n=== bench ${file}`);
    const r = spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", path], { stdio: "inherit" });
    if (r.status !== 0) failed++;
  }
}
process.exit(failed > 0 ? 1 : 0);
