import { describe, expect, it } from "vitest";
import { formatError, NotFoundError, QuintetError, toHttpError, toQuintetError, ValidationError } from "./errors.js";

describe("errors", () => {
  it("carry a stable code, hint and HTTP status", () => {
    const e = new ValidationError("age must be a number", { hint: "Pass a number.", details: { field: "age" } });
    expect(e).toBeInstanceOf(QuintetError);
    expect(e.name).toBe("ValidationError");
    expect(e.code).toBe("VALIDATION_FAILED");
    expect(e.status).toBe(400);
    expect(toHttpError(e)).toEqual({
      status: 400,
      body: {
        error: {
          code: "VALIDATION_FAILED",
          message: "age must be a number",
          hint: "Pass a number.",
          details: { field: "age" },
        },
      },
    });
    expect(new NotFoundError("no model").status).toBe(404);
    expect(new QuintetError("RATE_LIMITED", "slow down").status).toBe(429);
  });

  it("wrap unknown throwables as INTERNAL without losing the cause", () => {
    const cause = new TypeError("x is undefined");
    const e = toQuintetError(cause);
    expect(e.code).toBe("INTERNAL");
    expect(e.cause).toBe(cause);
    expect(toHttpError("plain string").status).toBe(500);
  });

  it("format as one line for a terminal", () => {
    expect(formatError(new ValidationError("bad", { hint: "fix it" }))).toBe(
      "error[VALIDATION_FAILED]: bad (fix: fix it)",
    );
    expect(formatError(new Error("boom"))).toBe("error[INTERNAL]: boom");
  });
});
