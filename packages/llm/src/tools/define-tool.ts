import { ValidationError } from "@quintet/core";
import type { z } from "zod";
import type { ToolSpec } from "../providers/types.js";
import { toJsonSchema } from "../structured/generate-object.js";

export interface ToolContext {
  /** Aborted when the loop is cancelled or this tool's timeout fires. */
  signal: AbortSignal;
  /** The model's id for this call. */
  callId: string;
  /** 1-based model step that asked for this call. */
  step: number;
}

export interface Tool<S extends z.ZodType = z.ZodType, R = unknown> {
  readonly name: string;
  readonly description: string;
  readonly parameters: S;
  /** Changes the world (writes, sends, pays): runToolLoop asks `approve` first and, without it, refuses the call unless `allowSideEffects`. */
  readonly sideEffects: boolean;
  readonly timeoutMs: number;
  execute(args: z.output<S>, ctx: ToolContext): Promise<R> | R;
  /** The tool as the model sees it (JSON Schema parameters). */
  readonly spec: ToolSpec;
}

export interface ToolDefinition<S extends z.ZodType, R> {
  name: string;
  description: string;
  parameters: S;
  sideEffects?: boolean;
  /** Default 30 s. */
  timeoutMs?: number;
  execute(args: z.output<S>, ctx: ToolContext): Promise<R> | R;
}

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Declares a tool the model may call. Arguments are validated with `parameters` before
 * `execute` runs; the return value is sent to the model as JSON (strings as they are).
 *
 * @example
 * const add = defineTool({ name: "add", description: "Adds two numbers",
 *   parameters: z.object({ a: z.number(), b: z.number() }), execute: ({ a, b }) => a + b });
 */
export function defineTool<S extends z.ZodType, R>(def: ToolDefinition<S, R>): Tool<S, R> {
  if (!NAME.test(def.name)) {
    throw new ValidationError(`invalid tool name "${def.name}"`, {
      hint: "Tool names are 1-64 letters, digits, _ or - (what providers accept).",
    });
  }
  if (typeof def.execute !== "function") {
    throw new ValidationError(`tool ${def.name} has no execute function`, { hint: "Pass execute(args, ctx)." });
  }
  const timeoutMs = def.timeoutMs ?? 30_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new ValidationError(`tool ${def.name}: timeoutMs must be a positive integer`, {
      hint: "Milliseconds, e.g. 5000.",
    });
  }
  const parameters = toJsonSchema(def.parameters);
  return {
    name: def.name,
    description: def.description,
    parameters: def.parameters,
    sideEffects: def.sideEffects ?? false,
    timeoutMs,
    execute: def.execute,
    spec: { name: def.name, description: def.description, parameters },
  };
}
