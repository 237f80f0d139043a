/** Process exit codes of `quintet`; scripts can rely on them. */
export const EXIT = {
  /** Everything worked. */
  OK: 0,
  /** The command failed. */
  FAILURE: 1,
  /** The command line was wrong: unknown command or flag, missing or bad argument. */
  USAGE: 2,
  /** The configuration (file, environment, flags) is invalid. */
  CONFIG: 3,
  /** A dependency (store, Redis, LLM provider, native module) is unavailable. */
  UNAVAILABLE: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A mistake on the command line (exit 2) found by a command itself, e.g. a flag value
 * commander cannot check. Printed like a core `ValidationError`.
 */
export class UsageError extends Error {
  readonly code = "VALIDATION_FAILED";
  readonly hint: string;
  constructor(message: string, hint = "Run `quintet --help` to see the commands and their options.") {
    super(message);
    this.name = "UsageError";
    this.hint = hint;
  }
}

/**
 * The exit code for an error that ended a command. Matches on the stable error `code`
 * rather than on classes so this module (loaded on every start) need not load core.
 */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof UsageError) return EXIT.USAGE;
  switch ((err as { code?: unknown } | null)?.code) {
    case "CONFIG_INVALID":
      return EXIT.CONFIG;
    case "STORE_UNAVAILABLE":
    case "REDIS_UNAVAILABLE":
    case "PROVIDER_NOT_CONFIGURED":
      return EXIT.UNAVAILABLE;
    default:
      return EXIT.FAILURE;
  }
}
