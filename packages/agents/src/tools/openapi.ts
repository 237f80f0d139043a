import SwaggerParser from "@apidevtools/swagger-parser";
import { ValidationError } from "@quintet/core";
import type { Tool, ToolContext } from "@quintet/llm";
import type { OpenAPIV3, OpenAPIV3_1 } from "openapi-types";
import { jsonSchemaTool, toolName } from "./json-schema-tool.js";

type Document = OpenAPIV3.Document | OpenAPIV3_1.Document;
type Operation = OpenAPIV3.OperationObject;
type Parameter = OpenAPIV3.ParameterObject;

/** An operation of the document, as {@link OpenApiToolsOptions.sideEffects} sees it. */
export interface OpenApiOperation {
  method: string;
  path: string;
  operationId: string | undefined;
}

export interface OpenApiToolsOptions {
  /** Base URL of the API (default: the document's first server, resolved against its URL when it is relative). */
  baseUrl?: string;
  /** Sent with every request (auth). A function is called per request. */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** Only these operations (operationIds or generated tool names). */
  include?: string[];
  /** Prepended to every tool name, e.g. `petstore_`. */
  prefix?: string;
  /** Which operations change the world (default: everything but GET, HEAD and OPTIONS). */
  sideEffects?: (op: OpenApiOperation) => boolean;
  /** Per call (default 30 s). */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const SAFE = new Set(["get", "head", "options"]);

interface Arg {
  /** Property name in the tool's arguments. */
  key: string;
  param: Parameter;
}

function describe(op: Operation, method: string, path: string): string {
  const text = [op.summary, op.description].filter(Boolean).join("\n") || `${method.toUpperCase()} ${path}`;
  return text.length > 1024 ? `${text.slice(0, 1021)}...` : text;
}

function jsonBodySchema(op: Operation): { schema: Record<string, unknown>; required: boolean } | undefined {
  const body = op.requestBody as OpenAPIV3.RequestBodyObject | undefined;
  if (!body?.content) return undefined;
  const media = Object.entries(body.content).find(([type]) => type === "application/json" || type.endsWith("+json"));
  if (!media) return undefined;
  return { schema: (media[1].schema ?? {}) as Record<string, unknown>, required: body.required === true };
}

/**
 * Tools generated from an OpenAPI 3.x document: one per operation, named by its
 * `operationId`, with path, query and header parameters and the JSON body as arguments.
 * The document is validated and its `$ref`s resolved (swagger-parser) first. Calls go to
 * the live API; a non-2xx answer becomes a tool error the model can read. Operations other
 * than GET/HEAD/OPTIONS are marked as having side effects (so they pass the approval gate)
 * and carry the agent's idempotency key as an `Idempotency-Key` header.
 *
 * @param document a parsed document, or a file path or URL to one (JSON or YAML)
 * @throws ValidationError naming what is wrong with the document or options
 */
export async function openApiTools(document: string | object, options: OpenApiToolsOptions = {}): Promise<Tool[]> {
  let doc: Document;
  try {
    // swagger-parser dereferences in place: give it a copy of a caller's object.
    const input = typeof document === "string" ? document : structuredClone(document);
    doc = (await SwaggerParser.validate(input as never)) as Document;
  } catch (err) {
    throw new ValidationError(`invalid OpenAPI document: ${(err as Error).message}`, {
      hint: "Check it with an OpenAPI validator; Quintet reads OpenAPI 3.0 and 3.1 (JSON or YAML).",
      cause: err,
    });
  }
  if (!("openapi" in doc) || !String(doc.openapi).startsWith("3.")) {
    throw new ValidationError("only OpenAPI 3.x documents can be turned into tools (this is Swagger 2.0)", {
      hint: "Convert it to OpenAPI 3 (e.g. with swagger2openapi) first.",
    });
  }
  let base = options.baseUrl ?? doc.servers?.[0]?.url;
  if (base && !/^https?:\/\//.test(base)) {
    if (typeof document === "string" && /^https?:\/\//.test(document)) base = new URL(base, document).href;
    else base = undefined;
  }
  if (!base) {
    throw new ValidationError("no base URL for the API: the document has no absolute server URL", {
      hint: "Pass openApiTools(doc, { baseUrl: 'https://api.example.com' }).",
    });
  }
  const baseUrl = base.replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch;
  const isSideEffect = options.sideEffects ?? ((op: OpenApiOperation) => !SAFE.has(op.method));
  const tools: Tool[] = [];
  const seen = new Set<string>();
  const allNames: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    if (!item) continue;
    for (const method of METHODS) {
      const op = (item as Record<string, unknown>)[method] as Operation | undefined;
      if (!op) continue;
      const name = `${options.prefix ?? ""}${toolName(op.operationId ?? `${method}_${path}`)}`.slice(0, 64);
      allNames.push(name);
      if (options.include && !options.include.includes(name) && !options.include.includes(op.operationId ?? ""))
        continue;
      if (seen.has(name)) {
        throw new ValidationError(`two operations make a tool named "${name}"`, {
          hint: "Give the operations distinct operationIds, or use include to pick one.",
        });
      }
      seen.add(name);
      // Operation parameters override path-level ones with the same name and location.
      const params = new Map<string, Parameter>();
      for (const p of [...((item.parameters ?? []) as Parameter[]), ...((op.parameters ?? []) as Parameter[])]) {
        params.set(`${p.in}:${p.name}`, p);
      }
      const args: Arg[] = [];
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      const names = [...params.values()].map((p) => p.name);
      for (const p of params.values()) {
        if (p.in === "cookie") continue;
        const key = names.filter((n) => n === p.name).length > 1 ? `${p.in}_${p.name}` : p.name;
        args.push({ key, param: p });
        properties[key] = {
          ...((p.schema ?? { type: "string" }) as object),
          ...(p.description ? { description: p.description } : {}),
        };
        if (p.required || p.in === "path") required.push(key);
      }
      const body = jsonBodySchema(op);
      if (body) {
        properties.body = body.schema;
        if (body.required) required.push("body");
      }
      const inputSchema = { type: "object", properties, required, additionalProperties: false };
      const sideEffects = isSideEffect({ method, path, operationId: op.operationId });
      tools.push(
        jsonSchemaTool({
          name,
          description: describe(op, method, path),
          inputSchema,
          sideEffects,
          timeoutMs: options.timeoutMs ?? 30_000,
          execute: async (raw, ctx: ToolContext) => {
            const values = raw as Record<string, unknown>;
            let url = `${baseUrl}${path}`;
            const query = new URLSearchParams();
            const headers: Record<string, string> = {
              accept: "application/json",
              ...(typeof options.headers === "function" ? await options.headers() : options.headers),
            };
            for (const { key, param } of args) {
              const v = values[key];
              if (v === undefined) continue;
              if (param.in === "path") url = url.replace(`{${param.name}}`, encodeURIComponent(String(v)));
              else if (param.in === "query") {
                for (const x of Array.isArray(v) ? v : [v]) {
                  query.append(param.name, typeof x === "object" ? JSON.stringify(x) : String(x));
                }
              } else if (param.in === "header") headers[param.name] = String(v);
            }
            const qs = query.toString();
            if (qs) url += `?${qs}`;
            const idempotencyKey = (ctx as { idempotencyKey?: string }).idempotencyKey;
            if (sideEffects && idempotencyKey) headers["idempotency-key"] ??= idempotencyKey;
            const init: RequestInit = { method: method.toUpperCase(), headers, signal: ctx.signal };
            if (body && values.body !== undefined) {
              headers["content-type"] = "application/json";
              init.body = JSON.stringify(values.body);
            }
            const res = await doFetch(url, init);
            const text = await res.text();
            if (!res.ok) {
              throw new Error(
                `HTTP ${res.status} ${res.statusText} from ${method.toUpperCase()} ${path}: ${text.slice(0, 1000)}`,
              );
            }
            if ((res.headers.get("content-type") ?? "").includes("json") && text) {
              try {
                return JSON.parse(text);
              } catch {
                return text;
              }
            }
            return text;
          },
        }),
      );
    }
  }
  if (options.include) {
    const missing = options.include.filter(
      (n) => !tools.some((t) => t.name === n || t.name === `${options.prefix ?? ""}${toolName(n)}`),
    );
    if (missing.length) {
      throw new ValidationError(`include names operations the document does not have: ${missing.join(", ")}`, {
        hint: `Its operations are: ${allNames.join(", ")}.`,
      });
    }
  }
  return tools;
}
