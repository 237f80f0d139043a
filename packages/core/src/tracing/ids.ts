import { randomFillSync } from "node:crypto";
import type { IdGenerator } from "@opentelemetry/sdk-trace-base";

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let used = POOL_BYTES;

function randomHex(bytes: number): string {
  if (used + bytes > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const hex = pool.toString("hex", used, used + bytes);
  used += bytes;
  return hex;
}

/**
 * Trace ids that start with the time: 6 bytes of epoch milliseconds, then 10 random bytes
 * (so the last 7 bytes are random, as W3C Trace Context level 2 asks). New traces then
 * land at the end of the spans table's primary key instead of at random pages, which keeps
 * each batch's write to a few pages; with random ids a batch of a thousand spans rewrote
 * most of the index. Span ids are 8 random bytes.
 */
export class TimeOrderedIdGenerator implements IdGenerator {
  generateTraceId(): string {
    return Date.now().toString(16).padStart(12, "0").slice(-12) + randomHex(10);
  }

  generateSpanId(): string {
    let id = randomHex(8);
    // All zeros is the invalid span id; astronomically rare, but never hand it out.
    while (id === "0000000000000000") id = randomHex(8);
    return id;
  }
}
