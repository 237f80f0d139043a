import { ValidationError } from "@quintet/core";
import type { Tool, ToolContext } from "@quintet/llm";
import { Ajv, type ErrorObject } from "ajv";
import { z } from "zod";

// One validator instance for all tools made from JSON Schema: ajv caches compiled schemas.
// Not strict: real-world schemas carry OpenAPI/MCP extras (example, nullable, x-*) and formats.
const ajv = new Ajv({ strict: false, allErrors: true, logger: false });

export interface JsonSchemaToolDefinition {
  name: string;
  description: string;
  /** JSON Schema of the arguments (an object schema). */
  inputSchema: Record<string, unknown>;
  sideEffects?: boolean;
  /** Default 30 s. */
  timeoutMs?: number;
  execute(args: unknown, ctx: ToolContext): Promise<unknown> | unknown;
}

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Turns any string into a name providers accept (1-64 of letters, digits, _ and -). */
export function toolName(raw: string): string {
  const cleaned = raw
    .replace(/[^a-zA-Z0-9_-]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 64);
  return cleaned || "tool";
}

function issuePath(e: ErrorObject): string[] {
  const path = e.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (e.keyword === "required") path.push(String((e.params as { missingProperty: string }).missingProperty));
  if (e.keyword === "additionalProperties")
    path.push(String((e.params as { additionalProperty: string }).additionalProperty));
  return path;
}

/**
 * A tool whose arguments are described by a JSON Schema rather than zod (tools from an
 * OpenAPI document or an MCP server). The schema is sent to the model as it is and
 * arguments are validated against it with Ajv, through a zod wrapper so the agent loop
 * treats it like any other tool.
 *
 * @throws ValidationError naming the tool when the schema cannot be compiled.
 */
export function jsonSchemaTool(def: JsonSchemaToolDefinition): Tool {
  if (!NAME.test(def.name)) {
    throw new ValidationError(`invalid tool name "${def.name}"`, {
      hint: "Tool names are 1-64 letters, digits, _ or -; toolName() cleans one up.",
    });
  }
  const { $schema: _ignored, ...schema } = def.inputSchema;
  let validate: ReturnType<Ajv["compile"]>;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new ValidationError(
      `tool ${def.name}: its input schema is not valid JSON Schema: ${(err as Error).message}`,
      {
        hint: "Fix the schema at its source (the OpenAPI document or MCP server).",
        cause: err,
      },
    );
  }
  const parameters = z.unknown().superRefine((value, ctx) => {
    if (validate(value)) return;
    for (const e of validate.errors ?? []) {
      const extra =
        e.keyword === "additionalProperties" || e.keyword === "required"
          ? ""
          : e.keyword === "enum"
            ? ` (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)})`
            : "";
      ctx.addIssue({ code: "custom", message: `${e.message ?? "invalid"}${extra}`, path: issuePath(e) });
    }
  });
  const timeoutMs = def.timeoutMs ?? 30_000;
  return {
    name: def.name,
    description: def.description,
    parameters,
    sideEffects: def.sideEffects ?? false,
    timeoutMs,
    execute: (args, ctx) => def.execute(args, ctx),
    spec: { name: def.name, description: def.description, parameters: schema },
  };
}
