import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** Header carrying the request id in both directions. */
export const REQUEST_ID_HEADER = "x-request-id";

// Ids from callers end up in logs and headers: accept only short, printable tokens.
const VALID_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Honours a well-formed incoming `x-request-id` (so a trace spans proxies) or makes a UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value && VALID_ID.test(value) ? value : randomUUID();
}
