/**
 * The static import graph of TypeScript sources, for tests that keep heavy packages off
 * a module's load path. Only `import`/`export ... from` and side-effect imports count:
 * `import type` is erased and `import()` loads on demand.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

function staticImports(file: string): string[] {
  const src = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of src.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms)) {
    if (!m[1]) out.push(m[2]!);
  }
  for (const m of src.matchAll(/^import\s+"([^"]+)";/gm)) out.push(m[1]!);
  return out;
}

/**
 * Every source file `entry` loads and the packages they import (with `node:` built-ins).
 * `workspace` maps a workspace package name to its `src/index.ts`, which is followed too.
 */
export function importGraph(
  entry: string,
  workspace: Record<string, string> = {},
): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith(".")) visit(join(dirname(file), spec.replace(/\.js$/, ".ts")));
      else if (workspace[spec]) visit(workspace[spec]);
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}
