import { performance } from "node:perf_hooks";

/**
 * Wall-clock epoch milliseconds with sub-millisecond resolution.
 *
 * `Date.now()` only has whole milliseconds (and the OpenTelemetry SDK anchors span starts
 * to it), which ties sibling spans that start within the same millisecond. This clock is
 * the monotonic `performance.now()` offset to the wall clock. The offset is re-read only
 * when the two clocks have drifted apart by more than {@link MAX_DRIFT_MS} (checked at most
 * every {@link CHECK_EVERY_MS}), so consecutive readings keep their order in practice.
 */
const MAX_DRIFT_MS = 25;
const CHECK_EVERY_MS = 10_000;

let offset = performance.timeOrigin;
let checkedAt = performance.now();

export function epochMs(perfNow: number = performance.now()): number {
  if (perfNow - checkedAt > CHECK_EVERY_MS) {
    checkedAt = perfNow;
    const wall = Date.now();
    if (Math.abs(wall - (offset + perfNow)) > MAX_DRIFT_MS) offset = wall - perfNow;
  }
  return offset + perfNow;
}
