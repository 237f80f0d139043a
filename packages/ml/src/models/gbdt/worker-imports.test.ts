import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));

/** Modules `file` loads at run time (`import type` is erased), relative ones resolved to .ts. */
function runtimeImports(file: string): string[] {
  const src = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of src.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms)) {
    if (m[1]) continue;
    out.push(m[2]!);
  }
  return out;
}

describe("histogram worker", () => {
  it("loads only its own small modules and Node built-ins (each worker start pays for every module)", () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of runtimeImports(file)) {
        if (spec.startsWith(".")) visit(join(dirname(file), spec.replace(/\.js$/, ".ts")));
        else packages.add(spec);
      }
    };
    visit(join(here, "worker.ts"));
    expect([...packages].filter((p) => !p.startsWith("node:"))).toEqual([]);
    // The split search is among them (workers share it), binning with its dependencies is not.
    expect(seen.has(join(here, "split.ts"))).toBe(true);
    expect(seen.has(join(here, "binning.ts"))).toBe(false);
  });
});
