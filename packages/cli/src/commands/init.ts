import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { ConfigFile, QuintetConfig } from "@quintet/core";
import type { Command } from "commander";
import type { CliContext } from "../context.js";

interface InitResult {
  dir: string;
  config: string;
  home: string;
  store: string;
  gitignore: "appended" | "present" | "created" | "skipped";
  next: string[];
}

/** Writes a file whole or not at all: a crash leaves the old file (or none), never half of one. */
function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, path);
}

/** Adds `entry` to `dir/.gitignore` unless a line already ignores it. */
function ensureIgnored(dir: string, entry: string): InitResult["gitignore"] {
  const path = join(dir, ".gitignore");
  const bare = entry.replace(/\/$/, "");
  if (!existsSync(path)) {
    writeAtomic(path, `${entry}\n`);
    return "created";
  }
  const text = readFileSync(path, "utf8");
  const lines = text.split(/\r?\n/).map((l) => l.trim().replace(/^\//, "").replace(/\/$/, ""));
  if (lines.includes(bare)) return "present";
  writeAtomic(path, `${text}${text.endsWith("\n") || text === "" ? "" : "\n"}${entry}\n`);
  return "appended";
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command("init")
    .argument("[dir]", "project folder (created if missing)", ".")
    .description("Create a Quintet project: quintet.config.json, the .quintet/ state folder and its store")
    .option("-f, --force", "overwrite an existing quintet.config.json")
    .addHelpText(
      "after",
      "\nExamples:\n  quintet init my-app\n  quintet init . --force\n  quintet --db postgres://postgres@127.0.0.1:5432/quintet init",
    )
    .action(async (dirArg: string, opts: { force?: boolean }) => {
      const { ConflictError, redact } = await import("@quintet/core");
      const dir = resolve(ctx.cwd, dirArg);
      const configPath = join(dir, "quintet.config.json");
      if (existsSync(configPath) && !opts.force) {
        throw new ConflictError(`${configPath} already exists`, {
          hint: "Keep it, or pass --force to overwrite it with the defaults.",
        });
      }
      const g = ctx.globals();
      // Paths in the file are relative to the project so the folder can move.
      const homeAbs = g.home ? resolve(ctx.cwd, g.home) : join(dir, ".quintet");
      const homeRel = relative(dir, homeAbs);
      const insideProject = homeRel !== "" && !homeRel.startsWith("..") && !isAbsolute(homeRel);
      const file: ConfigFile = {
        home: insideProject ? homeRel.split(sep).join("/") : homeAbs,
        ...(g.db ? { db: { url: g.db } } : {}),
        server: { host: "127.0.0.1", port: 7400 },
        log: { level: "info" },
      };
      // Resolve the config exactly as the project will (this file + environment + flags) before
      // anything is written, so a bad value leaves no half-made project behind.
      mkdirSync(dir, { recursive: true });
      const tmp = `${configPath}.${process.pid}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`);
      let config: QuintetConfig;
      try {
        const { loadConfig } = await import("@quintet/core");
        config = loadConfig({ cwd: dir, env: { ...ctx.env, QUINTET_CONFIG: tmp } });
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
      renameSync(tmp, configPath);
      mkdirSync(config.home, { recursive: true });
      const gitignore = insideProject ? ensureIgnored(dir, `${homeRel.split(sep).join("/")}/`) : "skipped";

      const spinner = await ctx.out.spinner(`Creating the store (${config.db.dialect})`);
      try {
        const store = await ctx.openStore(config);
        await store.close();
        spinner.succeed(`Store ready: ${redact(config.db.url)}`);
      } catch (err) {
        spinner.fail("Could not create the store");
        throw err;
      }

      const shownDir = relative(ctx.cwd, dir) || ".";
      const next = [
        ...(shownDir !== "." ? [`cd ${shownDir}`] : []),
        "quintet doctor    # check that everything works",
        "quintet up        # start the API at http://127.0.0.1:7400 (docs at /docs)",
      ];
      const result: InitResult = {
        dir,
        config: configPath,
        home: config.home,
        store: redact(config.db.url),
        gitignore,
        next,
      };
      const { c } = ctx.out;
      ctx.out.result(result, (r) =>
        [
          `${c.green("✓")} Created ${c.bold(relative(ctx.cwd, r.config) || r.config)}`,
          `${c.green("✓")} State folder ${relative(ctx.cwd, r.home) || r.home}${
            r.gitignore === "skipped" ? "" : ` (${r.gitignore === "present" ? "already in" : "added to"} .gitignore)`
          }`,
          "",
          "Next steps:",
          ...r.next.map((n) => `  ${n}`),
        ].join("\n"),
      );
    });
}
