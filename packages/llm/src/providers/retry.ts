import { APICallError } from "@ai-sdk/provider";
import { CancelledError, QuintetError, TimeoutError } from "@quintet/core";
import { z } from "zod";

export const RetryOptionsSchema = z
  .object({
    /** Retries after the first attempt (so at most maxRetries + 1 requests). */
    maxRetries: z.number().int().min(0).max(20).default(3),
    baseDelayMs: z.number().int().min(0).default(500),
    maxDelayMs: z.number().int().min(0).default(10_000),
    /** Total time budget for all attempts and waits of one call. */
    maxElapsedMs: z.number().int().min(1).default(180_000),
  })
  .strict();
export type RetryOptions = z.input<typeof RetryOptionsSchema>;
export type ResolvedRetry = z.output<typeof RetryOptionsSchema>;

/** Who answered and how: used in error messages and hints. */
export interface CallTarget {
  uri: string;
  provider: string;
  /** The environment variable holding the key, for hints on 401. */
  keyEnv?: string;
}

/** Seconds or an HTTP date in `Retry-After`, or milliseconds in `retry-after-ms`. */
export function retryAfterMs(headers: Record<string, string> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const get = (name: string) => {
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
    return undefined;
  };
  const ms = Number.parseFloat(get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = get("retry-after");
  if (raw === undefined) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with jitter: a random delay in [d/2, d] where d = base * 2^(retry-1), capped. */
export function backoffMs(retry: number, o: ResolvedRetry, random = Math.random): number {
  const d = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (retry - 1));
  return d / 2 + random() * (d / 2);
}

function statusOf(err: unknown): number | undefined {
  return APICallError.isInstance(err) ? err.statusCode : undefined;
}

/** 408, 409, 429, 5xx and network failures (no status) are worth another attempt; other 4xx are not. */
export function isRetryable(err: unknown): boolean {
  if (APICallError.isInstance(err)) {
    const s = err.statusCode;
    if (s === undefined) return err.isRetryable;
    return s === 408 || s === 409 || s === 429 || s >= 500;
  }
  // A connection dropped while reading the body (undici "terminated", ECONNRESET).
  if (err instanceof TypeError) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|UND_ERR_)/.test(code);
}

/** The provider's own words for what went wrong (from the error body when there is one). */
function providerMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Maps an SDK/transport error to a QuintetError naming the provider, with a fix in the hint. */
export function toProviderError(err: unknown, target: CallTarget, attempts: number): QuintetError {
  if (err instanceof QuintetError) return err;
  const status = statusOf(err);
  const msg = providerMessage(err);
  const details = { uri: target.uri, provider: target.provider, attempts, ...(status ? { status } : {}) };
  if (status === 401 || status === 403) {
    return new QuintetError(
      "UNAUTHORIZED",
      `${target.uri}: the provider rejected the credentials (${status}): ${msg}`,
      {
        hint: target.keyEnv
          ? `Check ${target.keyEnv} (or the apiKey option) holds a valid key for ${target.provider}.`
          : `Check the API key configured for ${target.provider}.`,
        details,
        cause: err,
      },
    );
  }
  if (status === 429) {
    return new QuintetError(
      "RATE_LIMITED",
      `${target.uri}: rate limited after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${msg}`,
      {
        hint: "Lower the request rate or concurrency, raise retry.maxRetries, or ask the provider for a higher limit.",
        details,
        cause: err,
      },
    );
  }
  if (status === 404) {
    return new QuintetError("PROVIDER_ERROR", `${target.uri}: not found (404): ${msg}`, {
      hint: "Check the model name (or Azure deployment name) and the base URL.",
      details,
      cause: err,
    });
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new QuintetError("PROVIDER_ERROR", `${target.uri}: the provider refused the request (${status}): ${msg}`, {
      hint: "The request is invalid for this model (context length, parameters, schema); the message says which.",
      details,
      cause: err,
    });
  }
  return new QuintetError(
    "PROVIDER_ERROR",
    `${target.uri}: ${status ? `provider error ${status}` : "request failed"} after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${msg}`,
    {
      hint: status
        ? "The provider is failing; retry later or raise retry.maxRetries."
        : "Check the base URL and that the provider is reachable (network, proxy, server running).",
      details,
      cause: err,
    },
  );
}

/**
 * Cancellation, timeouts and the retry budget of one logical call (all its attempts).
 * Each attempt gets its own AbortController, aborted by the caller's signal, the per-attempt
 * timeout, or the overall deadline; we abort without a reason so the SDK sees an ordinary
 * AbortError, and read from our own flags which of the three it was.
 */
export class CallControl {
  readonly started = Date.now();
  attempts = 0;
  private readonly deadline: number;

  constructor(
    readonly target: CallTarget,
    private readonly retry: ResolvedRetry,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.deadline = this.started + retry.maxElapsedMs;
    if (signal?.aborted) throw this.cancelled();
  }

  cancelled(): CancelledError {
    return new CancelledError(`${this.target.uri}: the call was cancelled`, {
      hint: "The caller's AbortSignal fired; nothing was retried after it.",
      details: { uri: this.target.uri, attempts: this.attempts },
    });
  }

  /** Starts an attempt; `touch()` restarts its idle timer (streams call it per chunk). */
  attempt(): Attempt {
    this.attempts++;
    return new Attempt(this, this.signal, this.timeoutMs, this.deadline);
  }

  timedOut(kind: "attempt" | "deadline"): TimeoutError {
    const details = { uri: this.target.uri, attempts: this.attempts };
    return kind === "deadline"
      ? new TimeoutError(
          `${this.target.uri}: no answer within the ${this.retry.maxElapsedMs} ms budget (${this.attempts} attempts)`,
          { hint: "Raise retry.maxElapsedMs, or check that the provider is responding.", details },
        )
      : new TimeoutError(`${this.target.uri}: the provider did not answer within ${this.timeoutMs} ms`, {
          hint: "Raise timeoutMs for long generations, or check that the provider is responding.",
          details,
        });
  }

  /**
   * After a failed attempt: returns the error to throw, or waits the backoff (honouring
   * Retry-After) and returns undefined so the caller tries again.
   */
  async afterFailure(
    err: unknown,
    attempt: Attempt,
    options: { retry?: boolean } = {},
  ): Promise<QuintetError | undefined> {
    if (this.signal?.aborted) return this.cancelled();
    if (attempt.timeout) return this.timedOut(attempt.timeout);
    if (options.retry === false || !isRetryable(err) || this.attempts > this.retry.maxRetries) {
      return toProviderError(err, this.target, this.attempts);
    }
    const headers = APICallError.isInstance(err) ? err.responseHeaders : undefined;
    const wait = retryAfterMs(headers) ?? backoffMs(this.attempts, this.retry);
    if (Date.now() + wait >= this.deadline) return toProviderError(err, this.target, this.attempts);
    await abortableSleep(wait, this.signal);
    if (this.signal?.aborted) return this.cancelled();
    return undefined;
  }
}

export class Attempt {
  readonly controller = new AbortController();
  /** Set when our timer (not the caller) aborted this attempt. */
  timeout: "attempt" | "deadline" | undefined;
  private idle: NodeJS.Timeout | undefined;
  private readonly overall: NodeJS.Timeout;
  private readonly onAbort = () => this.controller.abort();

  constructor(
    _control: CallControl,
    private readonly signal: AbortSignal | undefined,
    private readonly timeoutMs: number,
    deadline: number,
  ) {
    signal?.addEventListener("abort", this.onAbort, { once: true });
    this.overall = setTimeout(
      () => {
        this.timeout ??= "deadline";
        this.controller.abort();
      },
      Math.max(0, deadline - Date.now()),
    );
    this.touch();
  }

  get abortSignal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.timeout ??= "attempt";
      this.controller.abort();
    }, this.timeoutMs);
  }

  dispose(): void {
    clearTimeout(this.idle);
    clearTimeout(this.overall);
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
