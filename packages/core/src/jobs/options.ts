import { z } from "zod";
import { NotFoundError, ValidationError } from "../errors/errors.js";
import type { EnqueueOptions, JobHandler, ListOptions, RegisterOptions } from "./types.js";

/** BullMQ's lowest priority; we use the same range everywhere so both runners accept the same jobs. */
export const MAX_PRIORITY = 2_097_152;

// Names become BullMQ queue names (no ":"), ids become Redis key parts (BullMQ refuses integers and ":").
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

const jobName = z
  .string()
  .regex(namePattern, "expected 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit");

const registerSchema = z
  .object({
    concurrency: z.number().int().min(1).max(1024).optional(),
    attempts: z.number().int().min(1).max(1000).optional(),
    backoff: z
      .object({
        baseMs: z.number().int().min(0).optional(),
        maxMs: z.number().int().min(0).optional(),
        jitter: z.boolean().optional(),
      })
      .strict()
      .optional(),
    timeoutMs: z.number().int().min(1).optional(),
    schema: z.custom<z.ZodType>((s) => s instanceof z.ZodType, "expected a zod schema").optional(),
  })
  .strict();

const enqueueSchema = z
  .object({
    jobId: z
      .string()
      .regex(idPattern, "expected 1-200 letters, digits, '_', '-' or '.', starting with a letter or digit")
      .refine((s) => !/^\d+$/.test(s), "must not be all digits (BullMQ reserves those for its own ids)")
      .optional(),
    delayMs: z.number().int().min(0).optional(),
    priority: z.number().int().min(0).max(MAX_PRIORITY).optional(),
  })
  .strict();

const listSchema = z
  .object({
    name: jobName.optional(),
    state: z.enum(["queued", "active", "completed", "failed", "cancelled"]).optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
  })
  .strict();

function fieldOf(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(root)" : path.map(String).join(".");
}

/** One line naming every bad field, e.g. `"to": Invalid email address; "count": expected number`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `"${fieldOf(i.path)}": ${i.message}`).join("; ");
}

function issueDetails(issues: readonly z.core.$ZodIssue[]) {
  return { issues: issues.map((i) => ({ field: fieldOf(i.path), message: i.message })) };
}

export function checkName(name: unknown): string {
  const r = jobName.safeParse(name);
  if (!r.success) {
    throw new ValidationError(`invalid job name ${JSON.stringify(name)}: ${r.error.issues[0]?.message}`, {
      hint: "Name job types like 'send-email' or 'train.model'.",
    });
  }
  return r.data;
}

export interface Registration {
  name: string;
  handler: JobHandler<any, unknown>;
  concurrency: number | undefined;
  attempts: number;
  backoff: { baseMs: number; maxMs: number; jitter: boolean };
  timeoutMs: number | undefined;
  schema: z.ZodType | undefined;
}

export function parseRegistration(name: string, handler: unknown, options: RegisterOptions | undefined): Registration {
  checkName(name);
  if (typeof handler !== "function") {
    throw new ValidationError(`handler of job "${name}" must be a function (data, ctx) => Promise<result>`);
  }
  const r = registerSchema.safeParse(options ?? {});
  if (!r.success) {
    throw new ValidationError(`invalid options for job "${name}": ${describeIssues(r.error.issues)}`, {
      hint: "See RegisterOptions: concurrency, attempts, backoff { baseMs, maxMs, jitter }, timeoutMs, schema.",
      details: issueDetails(r.error.issues),
    });
  }
  const o = r.data;
  const baseMs = o.backoff?.baseMs ?? 1000;
  return {
    name,
    handler: handler as JobHandler<any, unknown>,
    concurrency: o.concurrency,
    attempts: o.attempts ?? 1,
    backoff: { baseMs, maxMs: Math.max(baseMs, o.backoff?.maxMs ?? 60_000), jitter: o.backoff?.jitter ?? true },
    timeoutMs: o.timeoutMs,
    schema: o.schema,
  };
}

export function parseEnqueueOptions(name: string, options: EnqueueOptions | undefined): EnqueueOptions {
  const r = enqueueSchema.safeParse(options ?? {});
  if (!r.success) {
    throw new ValidationError(`invalid enqueue options for job "${name}": ${describeIssues(r.error.issues)}`, {
      hint: "jobId: letters, digits, '_', '-', '.'; delayMs: milliseconds >= 0; priority: 0 (first) .. 2097152.",
      details: issueDetails(r.error.issues),
    });
  }
  return r.data;
}

export function parseListOptions(options: ListOptions | undefined): Required<Pick<ListOptions, "limit">> & ListOptions {
  const r = listSchema.safeParse(options ?? {});
  if (!r.success) {
    throw new ValidationError(`invalid list options: ${describeIssues(r.error.issues)}`, {
      details: issueDetails(r.error.issues),
    });
  }
  return { ...r.data, limit: r.data.limit ?? 100 };
}

/** Looks up a registration, with an error that says how to fix a missing one. */
export function requireRegistration(registry: ReadonlyMap<string, Registration>, name: string): Registration {
  const reg = registry.get(name);
  if (!reg) {
    const known = [...registry.keys()];
    throw new NotFoundError(`no job type "${name}" is registered in this process`, {
      hint: `Call runner.register("${name}", handler) before enqueueing it${known.length ? ` (registered: ${known.join(", ")})` : ""}.`,
    });
  }
  return reg;
}

/**
 * Validates data against the job type's schema (returning the parsed value, so schema
 * defaults and transforms apply) and checks it survives JSON, the form it is stored in.
 */
export function validateData(reg: Registration, data: unknown): { value: unknown; json: string } {
  let value = data;
  if (reg.schema) {
    const r = reg.schema.safeParse(data);
    if (!r.success) {
      throw new ValidationError(`invalid data for job "${reg.name}": ${describeIssues(r.error.issues)}`, {
        hint: `Pass data matching the schema registered for "${reg.name}".`,
        details: issueDetails(r.error.issues),
      });
    }
    value = r.data;
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new ValidationError(`data for job "${reg.name}" cannot be stored as JSON: ${(err as Error).message}`, {
      hint: "Pass plain data (objects, arrays, strings, numbers, booleans, null).",
    });
  }
  if (json === undefined) return { value: null, json: "null" };
  return { value, json };
}
