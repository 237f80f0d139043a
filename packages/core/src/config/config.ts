import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "../errors/errors.js";

/** File name looked up in the working directory (or given by `QUINTET_CONFIG`). */
export const CONFIG_FILE = "quintet.config.json";

const llmUri = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]*:.+$/,
    "expected provider:model, e.g. openai:gpt-4o-mini, ollama:qwen2.5, llama:./model.gguf",
  );

const dbUrl = z
  .string()
  .min(1)
  .refine((u) => /^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(u), {
    message: "expected sqlite:<path> or postgres://user@host:port/db",
  });

const redisUrl = z
  .string()
  .refine((u) => /^rediss?:\/\/.+/.test(u), { message: "expected redis://host:port or rediss://host:port" });

/** The shape of `quintet.config.json`; every field is optional there. */
export const configFileSchema = z
  .object({
    home: z.string().min(1).optional(),
    db: z.object({ url: dbUrl.optional() }).strict().optional(),
    redis: z.object({ url: redisUrl.optional() }).strict().optional(),
    llm: z.object({ default: llmUri.optional() }).strict().optional(),
    server: z
      .object({
        host: z.string().min(1).optional(),
        port: z.number().int().min(0).max(65535).optional(),
      })
      .strict()
      .optional(),
    jobs: z
      .object({ concurrency: z.number().int().min(1).max(256).optional() })
      .strict()
      .optional(),
    log: z
      .object({ level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional() })
      .strict()
      .optional(),
  })
  .strict();

export type ConfigFile = z.infer<typeof configFileSchema>;

/** The resolved configuration every component reads. */
export interface QuintetConfig {
  /** Absolute path of the project state folder (store, artifacts). */
  home: string;
  /** Folder the configuration was resolved against. */
  cwd: string;
  /** Path of the config file that was read, if any. */
  configFile: string | undefined;
  db: { url: string; dialect: "sqlite" | "postgres"; sqlitePath?: string };
  redis: { url: string | undefined };
  llm: { default: string | undefined };
  server: { host: string; port: number };
  jobs: { concurrency: number };
  log: { level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent" };
}

export interface LoadConfigOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Highest-precedence values, e.g. from CLI flags. */
  overrides?: ConfigFile;
}

function issuePath(path: PropertyKey[]): string {
  return path.map(String).join(".") || "(root)";
}

function parseFile(path: string): ConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON: ${(err as Error).message}`, {
      hint: `Fix the JSON syntax in ${path}, or delete it to use the defaults.`,
    });
  }
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${path}: "${issuePath(issue?.path ?? [])}" ${issue?.message ?? "is invalid"}`, {
      hint: `Correct "${issuePath(issue?.path ?? [])}" in ${path}; see README "Configuration" for allowed values.`,
      details: {
        file: path,
        issues: parsed.error.issues.map((i) => ({ path: issuePath(i.path), message: i.message })),
      },
    });
  }
  return parsed.data;
}

function fromEnv(env: NodeJS.ProcessEnv): ConfigFile {
  const out: ConfigFile = {};
  const check = <T>(name: string, schema: z.ZodType<T>, value: string): T => {
    const r = schema.safeParse(value);
    if (!r.success) {
      throw new ConfigError(`${name}="${value}" is invalid: ${r.error.issues[0]?.message}`, {
        hint: `Set ${name} to a valid value or unset it.`,
      });
    }
    return r.data;
  };
  if (env.QUINTET_HOME) out.home = env.QUINTET_HOME;
  if (env.QUINTET_DB_URL) out.db = { url: check("QUINTET_DB_URL", dbUrl, env.QUINTET_DB_URL) };
  if (env.QUINTET_REDIS_URL) out.redis = { url: check("QUINTET_REDIS_URL", redisUrl, env.QUINTET_REDIS_URL) };
  if (env.QUINTET_LLM) out.llm = { default: check("QUINTET_LLM", llmUri, env.QUINTET_LLM) };
  if (env.QUINTET_PORT) {
    const port = check("QUINTET_PORT", z.coerce.number().int().min(0).max(65535), env.QUINTET_PORT);
    out.server = { ...out.server, port };
  }
  if (env.QUINTET_HOST) out.server = { ...out.server, host: env.QUINTET_HOST };
  if (env.QUINTET_LOG_LEVEL) {
    out.log = {
      level: check(
        "QUINTET_LOG_LEVEL",
        z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
        env.QUINTET_LOG_LEVEL,
      ),
    };
  }
  return out;
}

function merge(...layers: ConfigFile[]): ConfigFile {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      const prev = out[k];
      out[k] =
        v && typeof v === "object" && prev && typeof prev === "object"
          ? { ...(prev as object), ...Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) }
          : v;
    }
  }
  return out as ConfigFile;
}

/** Turns a `sqlite:` URL into an absolute file path (or `:memory:`). */
export function sqlitePathFromUrl(url: string, base: string): string {
  const rest = url.replace(/^sqlite:(\/\/)?/, "");
  if (rest === ":memory:") return rest;
  return isAbsolute(rest) ? rest : resolve(base, rest);
}

/**
 * Resolves the configuration: defaults < `quintet.config.json` < environment < overrides.
 * Throws a {@link ConfigError} naming the bad field and how to fix it.
 *
 * @example
 * const config = loadConfig({ cwd: process.cwd() });
 * console.log(config.db.url); // sqlite:/path/to/.quintet/quintet.db
 */
export function loadConfig(options: LoadConfigOptions = {}): QuintetConfig {
  const cwd = resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;
  const explicit = env.QUINTET_CONFIG;
  const configFile = explicit ? resolve(cwd, explicit) : join(cwd, CONFIG_FILE);
  if (explicit && !existsSync(configFile)) {
    throw new ConfigError(`QUINTET_CONFIG points at ${configFile}, which does not exist`, {
      hint: "Create the file (quintet init) or unset QUINTET_CONFIG.",
    });
  }
  const fileLayer = existsSync(configFile) ? parseFile(configFile) : {};
  let overrides: ConfigFile = {};
  if (options.overrides) {
    const r = configFileSchema.safeParse(options.overrides);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new ConfigError(`option "${issuePath(issue?.path ?? [])}" ${issue?.message ?? "is invalid"}`, {
        hint: "Pass a valid value for that option.",
      });
    }
    overrides = r.data;
  }
  const merged = merge(fileLayer, fromEnv(env), overrides);
  const home = resolve(cwd, merged.home ?? ".quintet");
  const url = merged.db?.url ?? `sqlite:${join(home, "quintet.db")}`;
  const dialect = url.startsWith("sqlite:") ? "sqlite" : "postgres";
  return {
    home,
    cwd,
    configFile: existsSync(configFile) ? configFile : undefined,
    db: dialect === "sqlite" ? { url, dialect, sqlitePath: sqlitePathFromUrl(url, cwd) } : { url, dialect },
    redis: { url: merged.redis?.url },
    llm: { default: merged.llm?.default },
    server: { host: merged.server?.host ?? "127.0.0.1", port: merged.server?.port ?? 7400 },
    jobs: { concurrency: merged.jobs?.concurrency ?? 4 },
    log: { level: merged.log?.level ?? "info" },
  };
}
