import { CancelledError, QuintetError, TimeoutError, ValidationError } from "../errors/errors.js";
import type { Registration } from "./options.js";
import type { JobContext, JobError, JobProgress, ProgressInput } from "./types.js";

/**
 * The delay before retry `n` (1 = the first retry): `baseMs * 2^(n-1)` capped at `maxMs`;
 * with jitter, drawn uniformly from the upper half of that, so runners that failed together
 * do not retry together while the delay still grows.
 */
export function backoffDelay(
  backoff: Registration["backoff"],
  retry: number,
  random: () => number = Math.random,
): number {
  const full = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(backoff.jitter ? full / 2 + (random() * full) / 2 : full);
}

/** Turns what a handler reported into a stored progress value; bad input is the handler's bug. */
export function normalizeProgress(input: ProgressInput): JobProgress {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0 || input > 1) {
      throw new ValidationError(`progress must be a fraction in 0..1, got ${input}`, {
        hint: "Call ctx.progress(0.5) or ctx.progress({ done: 5, total: 10 }).",
      });
    }
    return { fraction: input };
  }
  const { done, total, message } = input ?? ({} as { done?: number; total?: number; message?: string });
  if (
    typeof done !== "number" ||
    typeof total !== "number" ||
    !Number.isFinite(done) ||
    !Number.isFinite(total) ||
    done < 0 ||
    total < 0
  ) {
    throw new ValidationError("progress needs non-negative numbers { done, total }", {
      hint: "Call ctx.progress({ done: 5, total: 10, message: 'parsing' }).",
    });
  }
  const fraction = total === 0 ? 1 : Math.min(1, done / total);
  return { fraction, done, total, ...(message !== undefined ? { message: String(message) } : {}) };
}

/** What gets stored about a failed attempt: handlers' own QuintetErrors keep their code and hint. */
export function toJobError(err: unknown): JobError {
  if (err instanceof QuintetError) {
    return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: "JOB_FAILED", message: message || "the job's handler failed" };
}

export type AttemptOutcome =
  /** `json` is undefined when the handler returned undefined. */
  | { kind: "completed"; result: unknown; json: string | undefined }
  | { kind: "failed"; error: JobError }
  /** The runner took the job away (cancelled, lease lost, stopping); nothing is to be recorded. */
  | { kind: "aborted"; reason: unknown };

/**
 * Runs one attempt of a handler. It settles as soon as the handler settles, the attempt's
 * timeout passes (the signal aborts with a TimeoutError and the attempt fails) or the
 * controller is aborted from outside (cancellation): a handler that ignores its signal
 * cannot hold its slot.
 */
export function runAttempt(
  reg: Registration,
  data: unknown,
  ctx: Omit<JobContext, "signal">,
  controller: AbortController,
): Promise<AttemptOutcome> {
  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const signal = controller.signal;
    const settle = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const onAbort = () => {
      const reason = signal.reason;
      if (reason instanceof TimeoutError) settle({ kind: "failed", error: toJobError(reason) });
      else settle({ kind: "aborted", reason });
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort);
    if (reg.timeoutMs !== undefined) {
      const ms = reg.timeoutMs;
      timer = setTimeout(() => {
        controller.abort(
          new TimeoutError(`job "${reg.name}" (${ctx.jobId}) timed out after ${ms} ms`, {
            hint: `Make the handler faster or register "${reg.name}" with a larger timeoutMs.`,
          }),
        );
      }, ms);
    }
    let promise: Promise<unknown>;
    try {
      promise = Promise.resolve(reg.handler(data, { ...ctx, signal }));
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (result) => {
        if (signal.aborted) return onAbort();
        let json: string | undefined;
        try {
          json = JSON.stringify(result);
        } catch (err) {
          settle({
            kind: "failed",
            error: {
              code: "VALIDATION_FAILED",
              message: `job "${reg.name}" returned a value that cannot be stored as JSON: ${(err as Error).message}`,
              hint: "Return plain data from job handlers.",
            },
          });
          return;
        }
        settle({ kind: "completed", result, json });
      },
      (err) => {
        if (signal.aborted) return onAbort();
        settle({ kind: "failed", error: toJobError(err) });
      },
    );
  });
}

/** The reason a runner aborts a handler's signal with when the job is cancelled. */
export function cancelledReason(id: string): CancelledError {
  return new CancelledError(`job ${id} was cancelled`);
}
