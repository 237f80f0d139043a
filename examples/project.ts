/**
 * What every example shares: its flags, the project it writes into (store, artifacts,
 * reports — the same layout as `quintet`'s home), and progress lines while training.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ArtifactStore, Store } from "@quintet/core";
import type { TrainEvent, TrainTuneOptions } from "@quintet/platform";

export interface ExampleFlags {
  /** Project home: --home <dir>, else a new temp folder. */
  home: string;
  /** Tuning budget: --budget 60s|5m|N trials (default 30s); --no-tune skips tuning. */
  tune: TrainTuneOptions | undefined;
}

const USAGE = "usage: npm run example -- <name> [--data <dir>] [--home <dir>] [--budget 30s|5m|N trials] [--no-tune]";

/** Reads the flags every example takes (exit 2 on a bad one). */
export function exampleFlags(name: string, argv: readonly string[] = process.argv.slice(2)): ExampleFlags {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) usageError(`${flag} needs a value`);
    return v;
  };
  for (const a of argv)
    if (a.startsWith("--") && !["--data", "--home", "--budget", "--no-tune"].includes(a))
      usageError(`unknown flag ${a}`);
  const home = value("--home");
  const budget = value("--budget") ?? "30s";
  return {
    home: home ? resolve(home) : mkdtempSync(join(tmpdir(), `quintet-example-${name}-`)),
    tune: argv.includes("--no-tune") ? undefined : parseBudget(budget),
  };
}

function usageError(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseBudget(v: string): TrainTuneOptions {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|trials?)\s*$/i.exec(v);
  if (!m) usageError(`--budget must be a time (30s, 5m, 1h) or a trial count ("20 trials"), not "${v}"`);
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  if (unit.startsWith("t")) return { trials: Math.max(1, Math.round(n)) };
  return { budgetMs: n * (unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000) };
}

/** Opens the project in `home`: the store (`quintet.db`) and artifacts, as the CLI lays them out. */
export async function openProject(home: string) {
  const store = await Store.open({ url: `sqlite:${join(home, "quintet.db")}` });
  const artifacts = await ArtifactStore.open({ home, store });
  return { store, artifacts, home };
}

/** Prints the workflow's phases and one line per tuning trial to stderr. */
export function progress(event: TrainEvent): void {
  if (event.type === "phase") process.stderr.write(`· ${event.message}\n`);
  else if (event.type === "trial") {
    const best = event.best ? `best ${event.metric} ${event.best.value.toFixed(4)} (trial ${event.best.number})` : "";
    const got = event.state === "complete" ? `${event.metric} ${event.value!.toFixed(4)}` : event.state;
    process.stderr.write(`    trial ${event.number}: ${got}  ${best}\n`);
  }
}

/** A fixed-width text table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, j) => Math.max(...cells.map((r) => r[j]!.length)));
  return cells
    .map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join("  "))
    .join("\n");
}
