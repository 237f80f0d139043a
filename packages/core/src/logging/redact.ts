/**
 * Secret scrubbing for log records. Logs leave the process (files, collectors, CI output),
 * so credentials must never reach them: values under sensitive keys are replaced and
 * credentials embedded in strings (connection URLs, bearer tokens, API keys) are masked.
 */

/** What a scrubbed value is replaced with. */
export const REDACTED = "[redacted]";

// Exact header-like names, then suffixes so `dbPassword`, `openaiApiKey`, `client_secret` match too.
const SENSITIVE_EXACT = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key)$/i;
const SENSITIVE_SUFFIX = /(password|passwd|secret|api[-_]?key|access[-_]?token|refresh[-_]?token|private[-_]?key)$/i;

/** True when a property named `key` holds a credential. */
export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_EXACT.test(key) || SENSITIVE_SUFFIX.test(key);
}

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s/]+@/gi;
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/-]+=*/gi;
const API_KEY = /\b(sk|sk-ant|sk-proj|pk|rk)-[A-Za-z0-9_-]{16,}/g;

/** Masks credentials inside free text: `postgres://u:pw@h` → `postgres://u:***@h`, bearer tokens, `sk-…` keys. */
export function redactString(text: string): string {
  if (text.length < 8) return text;
  return text.replace(URL_PASSWORD, "$1***@").replace(BEARER, "$1 ***").replace(API_KEY, "$1-***");
}

const MAX_DEPTH = 8;

/**
 * Returns a copy of `value` with secrets removed; the input is never mutated. Errors become
 * plain `{ type, message, stack, code, cause }` objects so their text is scrubbed as well.
 */
export function redactSecrets(value: unknown): unknown {
  return walk(value, 0, new WeakSet());
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === "string") return redactString(value);
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[Circular]";
  if (depth >= MAX_DEPTH) return "[Truncated]";
  if (value instanceof Error) {
    seen.add(value);
    return walk(errorToObject(value), depth, seen);
  }
  if (Array.isArray(value)) {
    seen.add(value);
    return value.map((v) => walk(v, depth + 1, seen));
  }
  const proto = Object.getPrototypeOf(value);
  // Buffers, Dates, Maps and class instances keep their own JSON form; only plain records are walked.
  if (proto !== Object.prototype && proto !== null) return value;
  seen.add(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSensitiveKey(k) && v !== undefined && v !== null && v !== "" ? REDACTED : walk(v, depth + 1, seen);
  }
  return out;
}

function errorToObject(err: Error): Record<string, unknown> {
  const e = err as Error & { code?: unknown; hint?: unknown; details?: unknown; cause?: unknown };
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  if (e.code !== undefined) out.code = e.code;
  if (e.hint !== undefined) out.hint = e.hint;
  if (e.details !== undefined) out.details = e.details;
  if (e.cause !== undefined) out.cause = e.cause;
  return out;
}
