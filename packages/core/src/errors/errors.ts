/**
 * Typed errors with stable codes. Every error Quintet raises at a boundary is a
 * {@link QuintetError}: a machine-readable `code`, a message that names what was wrong,
 * a `hint` that says how to fix it, and the HTTP status the server answers with.
 */
export type ErrorCode =
  | "CONFIG_INVALID"
  | "VALIDATION_FAILED"
  | "NOT_FOUND"
  | "CONFLICT"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "RATE_LIMITED"
  | "BUDGET_EXCEEDED"
  | "STORE_UNAVAILABLE"
  | "REDIS_UNAVAILABLE"
  | "PROVIDER_ERROR"
  | "PROVIDER_NOT_CONFIGURED"
  | "ARTIFACT_CORRUPT"
  | "JOB_FAILED"
  | "CANCELLED"
  | "TIMEOUT"
  | "UNSUPPORTED"
  | "INTERNAL";

const STATUS: Record<ErrorCode, number> = {
  CONFIG_INVALID: 500,
  VALIDATION_FAILED: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  BUDGET_EXCEEDED: 402,
  STORE_UNAVAILABLE: 503,
  REDIS_UNAVAILABLE: 503,
  PROVIDER_ERROR: 502,
  PROVIDER_NOT_CONFIGURED: 503,
  ARTIFACT_CORRUPT: 500,
  JOB_FAILED: 500,
  CANCELLED: 499,
  TIMEOUT: 504,
  UNSUPPORTED: 422,
  INTERNAL: 500,
};

export interface QuintetErrorOptions {
  /** What the user should do next, in one sentence. */
  hint?: string;
  /** Structured detail (field paths, ids) safe to show to the caller. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class QuintetError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: QuintetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** The HTTP status the server answers with for this error. */
  get status(): number {
    return STATUS[this.code];
  }

  toJSON(): { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export class ConfigError extends QuintetError {
  constructor(message: string, options?: QuintetErrorOptions) {
    super("CONFIG_INVALID", message, options);
  }
}

export class ValidationError extends QuintetError {
  constructor(message: string, options?: QuintetErrorOptions) {
    super("VALIDATION_FAILED", message, options);
  }
}

export class NotFoundError extends QuintetError {
  constructor(message: string, options?: QuintetErrorOptions) {
    super("NOT_FOUND", message, options);
  }
}

export class ConflictError extends QuintetError {
  constructor(message: string, options?: QuintetErrorOptions) {
    super("CONFLICT", message, options);
  }
}

export class UnavailableError extends QuintetError {
  constructor(code: "STORE_UNAVAILABLE" | "REDIS_UNAVAILABLE", message: string, options?: QuintetErrorOptions) {
    super(code, message, options);
  }
}

export class IntegrityError extends QuintetError {
  constructor(message: string, options?: QuintetErrorOptions) {
    super("ARTIFACT_CORRUPT", message, options);
  }
}

export class CancelledError extends QuintetError {
  constructor(message = "The operation was cancelled.", options?: QuintetErrorOptions) {
    super("CANCELLED", message, options);
  }
}

export class TimeoutError extends QuintetError {
  constructor(message: string, options?: QuintetErrorOptions) {
    super("TIMEOUT", message, options);
  }
}

/** Wraps anything thrown into a QuintetError, keeping the original as `cause`. */
export function toQuintetError(err: unknown): QuintetError {
  if (err instanceof QuintetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new QuintetError("INTERNAL", message, { cause: err });
}

/** One line for a terminal: `error[CODE]: message (fix: hint)`. */
export function formatError(err: unknown): string {
  const e = toQuintetError(err);
  return `error[${e.code}]: ${e.message}${e.hint ? ` (fix: ${e.hint})` : ""}`;
}

/** The HTTP status and JSON body the server answers with for any thrown value. */
export function toHttpError(err: unknown): { status: number; body: { error: ReturnType<QuintetError["toJSON"]> } } {
  const e = toQuintetError(err);
  return { status: e.status, body: { error: e.toJSON() } };
}
