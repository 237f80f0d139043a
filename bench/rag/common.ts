import { existsSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, "..", "..");
export const resultsDir = join(repo, "bench", "results");
export const PY = "/usr/bin/python3";
/** Fitted LSA models are cached here between bench runs (keyed by corpus and settings). */
export const cacheDir = join(tmpdir(), "quintet-bench-rag-cache");

/** The SciFact folder: first argument, else $QUINTET_DATA_DIR/beir-scifact, else ../shared/data/beir-scifact. */
export function scifactDir(): string {
  const arg = process.argv.slice(2).find((a) => !a.startsWith("-"));
  const dataDir = resolve(arg ?? process.env.QUINTET_DATA_DIR ?? join(repo, "..", "shared", "data"));
  const dir = existsSync(join(dataDir, "queries.jsonl")) ? dataDir : join(dataDir, "beir-scifact");
  if (!existsSync(dir)) {
    console.error(
      `BEIR SciFact not found at ${dir}: pass the data folder (or the beir-scifact folder) as an argument, or set QUINTET_DATA_DIR. ` +
        "The public copy lives in ../shared/data/beir-scifact next to the repo (see its README.md).",
    );
    process.exit(2);
  }
  return dir;
}

export function machine(): string {
  const [l1] = loadavg();
  return `Node ${process.version}, 2 cores shared with other work (load average ${l1!.toFixed(1)} at the start)`;
}

export function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
