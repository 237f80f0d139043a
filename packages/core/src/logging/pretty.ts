/**
 * A small human-readable rendering of pino's JSON lines for terminals
 * (`12:01:02.345 INFO  request completed method=GET status=200`). Machines get JSON.
 */

const LEVELS: Record<number, [string, string]> = {
  10: ["TRACE", "\x1b[90m"],
  20: ["DEBUG", "\x1b[36m"],
  30: ["INFO ", "\x1b[32m"],
  40: ["WARN ", "\x1b[33m"],
  50: ["ERROR", "\x1b[31m"],
  60: ["FATAL", "\x1b[35m"],
};
const OMIT = new Set(["level", "time", "msg", "pid", "hostname"]);

export interface WritableLike {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** Formats one pino JSON line; lines that are not JSON pass through unchanged. */
export function formatPrettyLine(line: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line);
  } catch {
    return line.endsWith("\n") ? line : `${line}\n`;
  }
  const [name, tint] = LEVELS[Number(rec.level)] ?? [String(rec.level).toUpperCase(), ""];
  const time =
    typeof rec.time === "string" ? rec.time.slice(11, 23) : new Date(Number(rec.time)).toISOString().slice(11, 23);
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [k, v] of Object.entries(rec)) {
    if (OMIT.has(k)) continue;
    if ((k === "err" || k === "error") && v && typeof v === "object") {
      const e = v as { message?: string; stack?: string; code?: string };
      fields.push(`${k}=${JSON.stringify(e.code ? `${e.code}: ${e.message}` : e.message)}`);
      stack = e.stack;
      continue;
    }
    fields.push(`${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  }
  const level = color && tint ? `${tint}${name}\x1b[0m` : name;
  const rest = fields.length ? ` ${color ? `\x1b[90m${fields.join(" ")}\x1b[0m` : fields.join(" ")}` : "";
  return `${time} ${level} ${rec.msg ?? ""}${rest}\n${stack && Number(rec.level) >= 50 ? `${stack}\n` : ""}`;
}

/** Wraps a destination so that each JSON line written to it is rendered for humans. */
export function prettyStream(dest: WritableLike): { write(chunk: string): void } {
  const color = Boolean(dest.isTTY) && !process.env.NO_COLOR;
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line) dest.write(formatPrettyLine(line, color));
    },
  };
}
