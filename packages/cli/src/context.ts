import { resolve } from "node:path";
import type { ArtifactStore, ConfigFile, QuintetConfig, Store } from "@quintet/core";
import type { Command } from "commander";
import { EXIT, type ExitCode } from "./exit-codes.js";
import { Output, type OutputStream } from "./output.js";

/** The process around the CLI; tests and embedders pass their own. */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Options every command accepts (declared on the program, usable before or after the command name). */
export interface GlobalOptions {
  json?: boolean;
  config?: string;
  home?: string;
  db?: string;
}

export interface LoadConfigOptions {
  /** Resolve against this folder instead of the working directory (e.g. `init <dir>`). */
  cwd?: string;
  /** Values from the command's own flags; they win over file, environment and global flags. */
  overrides?: ConfigFile;
}

/**
 * What each command gets besides its arguments: output helpers (human or `--json`,
 * spinners and progress bars), configuration loading that honours `--config`, `--home`
 * and `--db`, store opening, and the exit code to finish with.
 *
 * Core is imported lazily here so `quintet --help` does not load the store drivers.
 */
export class CliContext {
  readonly io: CliIo;
  private program: Command | undefined;
  private output: Output | undefined;
  private code: ExitCode = EXIT.OK;

  constructor(io: CliIo) {
    this.io = io;
  }

  /** Called once by the program builder; global options are read from it after parsing. */
  attach(program: Command): void {
    this.program = program;
  }

  get env(): NodeJS.ProcessEnv {
    return this.io.env;
  }

  get cwd(): string {
    return this.io.cwd;
  }

  globals(): GlobalOptions {
    return (this.program?.opts() ?? {}) as GlobalOptions;
  }

  /** Output for the current invocation (its mode follows `--json`). */
  get out(): Output {
    this.output ??= new Output({
      stdout: this.io.stdout,
      stderr: this.io.stderr,
      json: Boolean(this.globals().json),
      env: this.io.env,
    });
    return this.output;
  }

  /**
   * Resolves the configuration: defaults < quintet.config.json (or `--config`) < environment
   * < `--home`/`--db` < the command's overrides. Throws core's ConfigError (exit 3).
   */
  async loadConfig(options: LoadConfigOptions = {}): Promise<QuintetConfig> {
    const { loadConfig } = await import("@quintet/core");
    const g = this.globals();
    const cwd = resolve(this.cwd, options.cwd ?? ".");
    const env = g.config ? { ...this.env, QUINTET_CONFIG: resolve(this.cwd, g.config) } : this.env;
    const fromFlags: ConfigFile = {};
    if (g.home) fromFlags.home = resolve(this.cwd, g.home);
    if (g.db) fromFlags.db = { url: g.db };
    const o = options.overrides ?? {};
    const overrides: ConfigFile = {
      ...fromFlags,
      ...o,
      ...(fromFlags.db || o.db ? { db: { ...fromFlags.db, ...o.db } } : {}),
    };
    return loadConfig({ cwd, env, overrides });
  }

  /** Opens (and migrates) the store the config points at. Throws STORE_UNAVAILABLE (exit 4). */
  async openStore(config: QuintetConfig): Promise<Store> {
    const { openStore } = await import("@quintet/core");
    return openStore({ url: config.db.url, cwd: config.cwd });
  }

  /**
   * Opens the project (store, artifact store, and the trace unless `trace: false`), runs
   * `fn`, then flushes spans and closes everything, also when `fn` throws.
   */
  async withProject<T>(
    fn: (project: { config: QuintetConfig; store: Store; artifacts: ArtifactStore }) => Promise<T>,
    options: { trace?: boolean; config?: QuintetConfig } = {},
  ): Promise<T> {
    const config = options.config ?? (await this.loadConfig());
    const { ArtifactStore, startTracing } = await import("@quintet/core");
    const store = await this.openStore(config);
    try {
      const artifacts = await ArtifactStore.open({ home: config.home, store });
      const tracing = options.trace === false ? undefined : await startTracing(store);
      try {
        return await fn({ config, store, artifacts });
      } finally {
        await tracing?.shutdown();
      }
    } finally {
      await store.close();
    }
  }

  /** Sets the exit code the process ends with once the command returns (highest wins). */
  setExitCode(code: ExitCode): void {
    if (code > this.code) this.code = code;
  }

  get exitCode(): ExitCode {
    return this.code;
  }
}
