import { type ErrorCode, NotFoundError, QuintetError, toHttpError, ValidationError } from "@quintet/core";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

/** `$id` of the shared error body schema; route modules reference it as `{ $ref: "QuintetError#" }`. */
export const ERROR_SCHEMA_ID = "QuintetError";

/** The one JSON shape of every error response. */
export const errorSchema = {
  $id: ERROR_SCHEMA_ID,
  type: "object",
  description: "Every error response: a stable code, what was wrong, and how to fix it.",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", description: "Stable machine-readable code, e.g. VALIDATION_FAILED." },
        message: { type: "string" },
        hint: { type: "string", description: "What to do next." },
        details: { type: "object", additionalProperties: true },
      },
    },
  },
} as const;

export type ErrorBody = ReturnType<typeof toHttpError>["body"];

interface AjvIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** `"/items/0/name"` with context "body" → `"body.items.0.name"`; a missing property is appended. */
function fieldOf(context: string | undefined, issue: AjvIssue): string {
  const parts = (issue.instancePath ?? "").split("/").filter(Boolean);
  if (issue.keyword === "required" && typeof issue.params?.missingProperty === "string") {
    parts.push(issue.params.missingProperty);
  }
  if (issue.keyword === "additionalProperties" && typeof issue.params?.additionalProperty === "string") {
    parts.push(issue.params.additionalProperty);
  }
  return [context ?? "body", ...parts].join(".");
}

function fromValidation(err: FastifyError): QuintetError {
  const issues = (err.validation ?? []) as AjvIssue[];
  const context = err.validationContext;
  const list = issues.map((i) => ({ field: fieldOf(context, i), message: i.message ?? "is invalid" }));
  const first = list[0] ?? { field: context ?? "body", message: "is invalid" };
  const unknown = issues[0]?.keyword === "additionalProperties";
  return new ValidationError(`${first.field} ${unknown ? "is not an allowed field" : first.message}`, {
    hint: unknown
      ? `Remove "${first.field}"; see /docs for the request schema.`
      : `Fix "${first.field}" and retry; see /docs for the request schema.`,
    details: { field: first.field, issues: list },
  });
}

const CODE_FOR_STATUS: Record<number, ErrorCode> = {
  400: "VALIDATION_FAILED",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
  429: "RATE_LIMITED",
};

/** Client errors Fastify raises itself (bad JSON, body too large, wrong content type). */
function fromFastifyClientError(err: FastifyError, status: number, bodyLimit: number): QuintetError {
  const code = CODE_FOR_STATUS[status] ?? (status === 415 ? "UNSUPPORTED" : "VALIDATION_FAILED");
  let message = err.message;
  let hint = "Check the request against /docs and retry.";
  if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    message = `request body is larger than the ${bodyLimit}-byte limit`;
    hint = "Send a smaller body, or split the request.";
  } else if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    hint = "Send JSON with content-type: application/json.";
  } else if (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY" || err instanceof SyntaxError) {
    message = `request body is not valid JSON: ${err.message}`;
    hint = "Send a well-formed JSON body with content-type: application/json.";
  }
  return new QuintetError(code, message, { hint });
}

/**
 * Maps anything a handler throws to a status and the one JSON error shape. Only
 * {@link QuintetError}s and client errors show their message; anything else is an
 * internal error whose detail stays in the server log (no stack traces on the wire).
 */
export function httpErrorFor(
  err: unknown,
  requestId: string,
  bodyLimit: number,
): { status: number; body: ErrorBody; internal: boolean } {
  const fe = err as FastifyError;
  if (fe && Array.isArray(fe.validation)) return { ...toHttpError(fromValidation(fe)), internal: false };
  if (err instanceof QuintetError) return { ...toHttpError(err), internal: err.status >= 500 };
  const status = typeof fe?.statusCode === "number" ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    return { status, body: toHttpError(fromFastifyClientError(fe, status, bodyLimit)).body, internal: false };
  }
  const internal = new QuintetError("INTERNAL", "internal server error", {
    hint: `This is a bug or an unavailable dependency; the server log has the details under request id ${requestId}.`,
    details: { requestId },
  });
  return { ...toHttpError(internal), internal: true };
}

export function errorHandler(bodyLimit: number, onError: (code: string) => void) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body, internal } = httpErrorFor(err, request.id, bodyLimit);
    onError(body.error.code);
    if (internal) request.log.error({ err }, "request failed");
    else request.log.info({ code: body.error.code, message: body.error.message }, "request rejected");
    return reply.status(status).send(body);
  };
}

export function notFoundHandler(onError: (code: string) => void) {
  return (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0];
    const { status, body } = toHttpError(
      new NotFoundError(`no route for ${request.method} ${path}`, {
        hint: "See /docs (or /openapi.json) for the available routes.",
      }),
    );
    onError(body.error.code);
    return reply.status(status).send(body);
  };
}
