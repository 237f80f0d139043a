import { CancelledError } from "@quintet/core";

/** Clock and sleep, injectable so politeness can be tested without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new CancelledError("the crawl was cancelled"));
      const t = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(new CancelledError("the crawl was cancelled"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/**
 * Spaces requests to each host at least `intervalMs` apart (a crawl delay). Slots are reserved in
 * call order, so concurrent workers hitting the same host queue up instead of bursting, while
 * different hosts proceed independently.
 */
export class HostRateLimiter {
  private readonly next = new Map<string, number>();

  constructor(private readonly clock: Clock = systemClock) {}

  /** Waits for the host's next free slot (at least `intervalMs` after the previous one) and takes it. */
  async acquire(host: string, intervalMs: number, signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(now, this.next.get(host) ?? 0);
    this.next.set(host, at + Math.max(0, intervalMs));
    if (at > now) await this.clock.sleep(at - now, signal);
  }
}
