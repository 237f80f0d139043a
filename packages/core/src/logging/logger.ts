import { pino } from "pino";
import type { QuintetConfig } from "../config/config.js";
import { prettyStream, type WritableLike } from "./pretty.js";
import { redactSecrets, redactString } from "./redact.js";

export type LogLevel = QuintetConfig["log"]["level"];
export type Logger = pino.Logger;

export interface LoggerOptions {
  level?: LogLevel;
  /** Human-readable lines instead of JSON (for terminals). Default false. */
  pretty?: boolean;
  /** A file descriptor (1 = stdout, 2 = stderr) or a stream. Default stdout. */
  destination?: number | WritableLike;
  /** Added to every line as `name`, e.g. the component ("server", "cli"). */
  name?: string;
}

function isConfig(x: QuintetConfig | LoggerOptions): x is QuintetConfig {
  return "log" in x && "home" in x;
}

/**
 * Creates the pino logger every Quintet component uses: one JSON object per line with an
 * ISO time, the level as a number, `msg`, and the fields given. Secrets are scrubbed from
 * every line (see {@link redactSecrets}): values under keys such as `authorization`,
 * `apiKey` or `password`, and passwords inside connection URLs in any string.
 *
 * @example
 * const log = createLogger(config);           // level from config.log.level, JSON to stdout
 * log.info({ runId }, "training started");
 * const dev = createLogger({ level: "debug", pretty: true, destination: 2 });
 */
export function createLogger(options: QuintetConfig | LoggerOptions = {}): Logger {
  const opts: LoggerOptions = isConfig(options) ? { level: options.log.level } : options;
  const dest = opts.destination ?? 1;
  const target: WritableLike =
    typeof dest === "number" ? Object.assign(pino.destination({ fd: dest, sync: true }), { isTTY: isTty(dest) }) : dest;
  const stream = opts.pretty ? prettyStream(target) : target;
  const logger = pino(
    {
      level: opts.level ?? "info",
      ...(opts.name ? { name: opts.name } : {}),
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        // Runs before pino serialises the record, so nothing unscrubbed reaches the line.
        log: (obj) => redactSecrets(obj) as Record<string, unknown>,
        bindings: (bindings) => redactSecrets(bindings) as Record<string, unknown>,
      },
      serializers: {
        msg: (m: unknown) => (typeof m === "string" ? redactString(m) : m),
        // Errors were already turned into scrubbed plain objects by the log formatter.
        err: (e: unknown) => e,
      },
    },
    stream as pino.DestinationStream,
  );
  // pino applies the bindings formatter to the root only; child bindings (`log.child({ … })`)
  // are scrubbed here. Children inherit this method through their prototype chain.
  const child = logger.child;
  logger.child = function scrubbedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redactSecrets(bindings) as typeof bindings, childOptions);
  } as typeof logger.child;
  return logger;
}

function isTty(fd: number): boolean {
  if (fd === 1) return Boolean(process.stdout.isTTY);
  if (fd === 2) return Boolean(process.stderr.isTTY);
  return false;
}
