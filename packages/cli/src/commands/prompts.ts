import { resolve } from "node:path";
import type { Store } from "@quintet/core";
import type { PromptRegistry } from "@quintet/llm";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { UsageError } from "../exit-codes.js";

/** Opens the project's store, hands its prompt registry to `fn`, and always closes the store. */
async function withRegistry<T>(ctx: CliContext, fn: (registry: PromptRegistry) => Promise<T>): Promise<T> {
  const config = await ctx.loadConfig();
  const store: Store = await ctx.openStore(config);
  try {
    const { PromptRegistry } = await import("@quintet/llm");
    return await fn(new PromptRegistry(store));
  } finally {
    await store.close();
  }
}

/** `name@version` → parts; names may hold `/` and `.`, so only the last `@` separates. */
function parseRef(ref: string): { name: string; version: string | undefined } {
  const at = ref.lastIndexOf("@");
  const name = at > 0 ? ref.slice(0, at) : ref;
  const version = at > 0 ? ref.slice(at + 1) : undefined;
  if (name.trim() === "" || version === "") {
    throw new UsageError(
      `"${ref}" is not a prompt reference`,
      "Use <name> for the latest version, or <name>@<version|alias> (e.g. support/answer@production).",
    );
  }
  return { name, version };
}

const short = (version: string) => version.slice(0, 12);

/** `latest` means the newest version (unless the prompt has an alias of that name). */
async function pick(registry: PromptRegistry, name: string, v: string | undefined): Promise<string> {
  if (v === undefined) return registry.resolve(name);
  if (v !== "latest") return v;
  return registry.resolve(name, v).catch(() => registry.resolve(name));
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 16);
}

export function register(program: Command, ctx: CliContext): void {
  const prompts = program
    .command("prompts")
    .description("Versioned prompt templates in the project store: list, show, diff, add, alias")
    .addHelpText(
      "after",
      "\nA version is the content hash of the template (12 characters are shown; 6 or more select one).\nAliases such as production are movable pointers: promoting or rolling back is an alias move.",
    );

  prompts
    .command("ls")
    .description("List every prompt with its latest version, version count and aliases")
    .action(() =>
      withRegistry(ctx, async (registry) => {
        const list = await registry.list();
        ctx.out.result(list, (rows) => {
          if (rows.length === 0) return "No prompts saved yet. Save one with `quintet prompts add <file.yaml>`.";
          const w = Math.max(4, ...rows.map((r) => r.name.length));
          return [
            `${"NAME".padEnd(w)}  ${"LATEST".padEnd(12)}  VERSIONS  ${"UPDATED".padEnd(16)}  ALIASES`,
            ...rows.map((r) =>
              `${r.name.padEnd(w)}  ${short(r.latest)}  ${String(r.versions).padStart(8)}  ${when(r.updatedAt)}  ${Object.entries(
                r.aliases,
              )
                .map(([a, v]) => `${a}→${short(v)}`)
                .join(", ")}`.trimEnd(),
            ),
          ].join("\n");
        });
      }),
    );

  prompts
    .command("show")
    .argument("<ref>", "prompt name, optionally @version, @alias or @latest (default: latest)")
    .description("Print one prompt version: persona, messages, examples, variables and options")
    .addHelpText(
      "after",
      "\nExamples:\n  quintet prompts show support/answer\n  quintet prompts show support/answer@production --json",
    )
    .action((ref: string) =>
      withRegistry(ctx, async (registry) => {
        const { name, version: wanted } = parseRef(ref);
        const { promptText } = await import("@quintet/llm");
        const prompt = await registry.get(name, await pick(registry, name, wanted));
        const info = (await registry.versions(name)).find((v) => v.version === prompt.version);
        const def = prompt.definition;
        const data = {
          name,
          version: prompt.version,
          aliases: info?.aliases ?? [],
          createdAt: info?.createdAt,
          definition: def,
        };
        const { c } = ctx.out;
        ctx.out.result(data, (d) =>
          [
            `${c.bold(`${d.name}@${short(d.version)}`)}${d.aliases.length ? `  (${d.aliases.join(", ")})` : ""}${
              d.createdAt ? c.dim(`  saved ${when(d.createdAt)}`) : ""
            }`,
            ...(def.description ? [def.description] : []),
            "",
            promptText(def).trimEnd(),
            ...(Object.keys(def.variables).length
              ? [
                  "",
                  "# variables",
                  ...Object.entries(def.variables).map(([k, spec]) => `  ${k}: ${JSON.stringify(spec)}`),
                ]
              : []),
          ].join("\n"),
        );
      }),
    );

  prompts
    .command("diff")
    .argument("<name>", "prompt name")
    .argument("<from>", "older version, alias or latest")
    .argument("<to>", "newer version, alias or latest")
    .description("Show what changed between two versions: a unified diff of the template and the variable changes")
    .addHelpText(
      "after",
      "\nExamples:\n  quintet prompts diff support/answer production 3f2a9c\n  quintet prompts diff support/answer 3f2a9c 91bd07 --json",
    )
    .action((name: string, from: string, to: string) =>
      withRegistry(ctx, async (registry) => {
        const diff = await registry.diff(name, await pick(registry, name, from), await pick(registry, name, to));
        const { c } = ctx.out;
        ctx.out.result(diff, (d) => {
          if (d.identical) return `${d.name}: ${from} and ${to} are the same version (${short(d.from)}).`;
          const body = d.text
            .split("\n")
            .filter((l) => !l.startsWith("====="))
            .map((l) =>
              l.startsWith("+++") || l.startsWith("---")
                ? c.bold(l)
                : l.startsWith("+")
                  ? c.green(l)
                  : l.startsWith("-")
                    ? c.red(l)
                    : l.startsWith("@@")
                      ? c.cyan(l)
                      : l,
            )
            .join("\n")
            .trimEnd();
          const v = d.variables;
          const changes = [
            ...v.added.map((k) => `  + ${k}`),
            ...v.removed.map((k) => `  - ${k}`),
            ...v.changed.map((x) => `  ~ ${x.name}: ${JSON.stringify(x.from)} → ${JSON.stringify(x.to)}`),
          ];
          return [body, ...(changes.length ? ["", "# variables", ...changes] : [])].join("\n");
        });
      }),
    );

  prompts
    .command("add")
    .argument("<file>", "prompt definition in YAML or JSON (name, persona, messages, variables, …)")
    .description("Save a prompt file as a new version (saving unchanged content keeps its version)")
    .option("--alias <name>", "also point this alias (e.g. staging) at the saved version")
    .addHelpText(
      "after",
      "\nExamples:\n  quintet prompts add prompts/answer.yaml\n  quintet prompts add prompts/answer.yaml --alias staging",
    )
    .action((file: string, opts: { alias?: string }) =>
      withRegistry(ctx, async (registry) => {
        const { readPromptFile } = await import("@quintet/llm");
        const prompt = await readPromptFile(resolve(ctx.cwd, file));
        const saved = await registry.save(prompt);
        const moved = opts.alias ? await registry.alias(saved.name, opts.alias, saved.version) : undefined;
        ctx.out.result(
          { ...saved, ...(opts.alias ? { alias: opts.alias, previous: moved?.previous ?? null } : {}) },
          (s) =>
            `${s.created ? "Saved" : "Unchanged:"} ${s.name}@${short(s.version)}${
              opts.alias ? `; ${opts.alias} → ${short(s.version)}` : ""
            }`,
        );
      }),
    );

  prompts
    .command("alias")
    .argument("<name>", "prompt name")
    .argument("<alias>", "alias to set, e.g. production")
    .argument("<version>", "version (hash prefix) or another alias to point it at")
    .description("Point an alias at a version: promote or roll back a prompt")
    .addHelpText(
      "after",
      "\nExamples:\n  quintet prompts alias support/answer production staging\n  quintet prompts alias support/answer production 3f2a9c",
    )
    .action((name: string, alias: string, version: string) =>
      withRegistry(ctx, async (registry) => {
        const r = await registry.alias(name, alias, version);
        ctx.out.result(
          { name, alias, version: r.version, previous: r.previous ?? null },
          (d) => `${d.name}: ${d.alias} → ${short(d.version)}${d.previous ? ` (was ${short(d.previous)})` : ""}`,
        );
      }),
    );
}
