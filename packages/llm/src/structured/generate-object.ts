import { ValidationError } from "@quintet/core";
import { z } from "zod";
import type { ChatMessage, GenerateRequest, GenerateResult, LlmClient, ToolCall, Usage } from "../providers/types.js";
import { extractJson } from "./extract-json.js";

export type ObjectMode = "auto" | "json-schema" | "tool" | "prompt";

export interface GenerateObjectOptions<S extends z.ZodType> {
  llm: LlmClient;
  schema: S;
  /** The conversation; or give `prompt` (and optionally `system`). */
  messages?: ChatMessage[];
  prompt?: string;
  system?: string;
  /**
   * How the model is held to the schema. `auto` (default): native JSON-schema output when the
   * client has it, else a forced tool call, else instructions in the prompt.
   */
  mode?: ObjectMode;
  /** Corrective round trips after the first answer (default 2). */
  maxRepairs?: number;
  /** Names the output for providers that use a name (json_schema name, tool name). */
  name?: string;
  description?: string;
  temperature?: number;
  maxOutputTokens?: number;
  signal?: AbortSignal;
  metadata?: Record<string, string>;
}

export interface GenerateObjectResult<T> {
  object: T;
  /** Model calls made (1 + repairs used). */
  attempts: number;
  /** Tokens summed over every attempt. */
  usage: Usage;
  costUsd: number | undefined;
  /** The JSON text of the accepted answer. */
  raw: string;
  mode: Exclude<ObjectMode, "auto">;
}

export function resolveMode(llm: LlmClient, mode: ObjectMode | undefined): Exclude<ObjectMode, "auto"> {
  if (mode && mode !== "auto") return mode;
  if (llm.capabilities?.jsonSchema) return "json-schema";
  if (llm.capabilities?.tools) return "tool";
  return "prompt";
}

/** The schema as JSON Schema, for the provider and for prompting. */
export function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  try {
    const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "output" }) as Record<string, unknown>;
    return rest;
  } catch (err) {
    throw new ValidationError(`the schema cannot be expressed as JSON Schema: ${(err as Error).message}`, {
      hint: "Use plain data types (objects, arrays, strings, numbers, enums); transforms and custom checks cannot be sent to a model.",
    });
  }
}

/** A zod failure as one line per issue, for the model to read. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `- ${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`).join("\n");
}

export function addUsage(a: Usage, b: Usage): Usage {
  const sum: Usage = {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
  const cached = (a.cachedInputTokens ?? 0) + (b.cachedInputTokens ?? 0);
  if (cached) sum.cachedInputTokens = cached;
  return sum;
}

export function baseMessages(o: { messages?: ChatMessage[]; prompt?: string; system?: string }): ChatMessage[] {
  if (o.messages?.length && o.prompt !== undefined) {
    throw new ValidationError("give either messages or prompt, not both", {
      hint: "Put the prompt into messages as a user message.",
    });
  }
  const msgs: ChatMessage[] = o.messages?.length
    ? [...o.messages]
    : o.prompt !== undefined
      ? [{ role: "user", content: o.prompt }]
      : [];
  if (msgs.length === 0) {
    throw new ValidationError("no input: give messages or prompt", {
      hint: 'generateObject({ llm, schema, prompt: "..." })',
    });
  }
  if (o.system !== undefined) msgs.unshift({ role: "system", content: o.system });
  return msgs;
}

const TOOL_NAME = "respond";

/** One strategy's request and how it reads the answer; shared by generateObject and streamObject. */
export interface ObjectPlan {
  mode: Exclude<ObjectMode, "auto">;
  request(messages: ChatMessage[]): GenerateRequest;
  /** The JSON text of an answer. */
  rawOf(result: Pick<GenerateResult, "text" | "toolCalls">): string;
  /** Messages that show the model its failed answer and the error. */
  repair(result: Pick<GenerateResult, "text" | "toolCalls">, raw: string, error: string): ChatMessage[];
}

export function planFor(o: GenerateObjectOptions<z.ZodType>, mode: Exclude<ObjectMode, "auto">): ObjectPlan {
  const jsonSchema = toJsonSchema(o.schema);
  const name = o.name ?? TOOL_NAME;
  const common = {
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.maxOutputTokens !== undefined ? { maxOutputTokens: o.maxOutputTokens } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.metadata ? { metadata: o.metadata } : {}),
  };
  const schemaText = JSON.stringify(jsonSchema);
  const askAgain = (error: string) =>
    `That answer does not match the required JSON Schema:\n${error}\nReply again with only the corrected JSON.`;
  if (mode === "tool") {
    return {
      mode,
      request: (messages) => ({
        ...common,
        messages,
        tools: [
          { name, description: o.description ?? "Give the answer in this exact structure.", parameters: jsonSchema },
        ],
        toolChoice: { name },
      }),
      rawOf: (r) => {
        const call = r.toolCalls.find((c) => c.name === name) ?? r.toolCalls[0];
        if (!call) return r.text;
        return typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments);
      },
      repair: (r, raw, error) => {
        const call: ToolCall | undefined = r.toolCalls[0];
        if (!call)
          return [
            { role: "assistant", content: raw },
            { role: "user", content: `Call the ${name} tool. ${askAgain(error)}` },
          ];
        return [
          { role: "assistant", content: r.text, toolCalls: [call] },
          {
            role: "tool",
            toolCallId: call.id,
            name: call.name,
            content: `Invalid arguments:\n${error}\nCall ${name} again with corrected arguments.`,
          },
        ];
      },
    };
  }
  const instructions =
    mode === "prompt"
      ? `Answer with only a JSON value (no prose, no code fences) that matches this JSON Schema:\n${schemaText}`
      : undefined;
  return {
    mode,
    request: (messages) => ({
      ...common,
      messages: instructions ? withInstructions(messages, instructions) : messages,
      responseFormat: mode === "json-schema" ? { type: "json", schema: jsonSchema, name } : { type: "text" },
    }),
    rawOf: (r) => r.text,
    repair: (_r, raw, error) => [
      { role: "assistant", content: raw },
      { role: "user", content: askAgain(error) },
    ],
  };
}

function withInstructions(messages: ChatMessage[], instructions: string): ChatMessage[] {
  const [first, ...rest] = messages;
  if (first?.role === "system") return [{ role: "system", content: `${first.content}\n\n${instructions}` }, ...rest];
  return [{ role: "system", content: instructions }, ...messages];
}

/** Parses and validates one answer; returns the object or the error text for a repair. */
export function check<S extends z.ZodType>(
  schema: S,
  raw: string,
): { ok: true; object: z.output<S> } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = extractJson(raw);
  } catch (err) {
    return { ok: false, error: `- not valid JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { ok: true, object: parsed.data } : { ok: false, error: describeIssues(parsed.error) };
}

/** The error after the last repair; `details` carry what the failed attempts used, so they can be accounted for. */
export function exhausted(
  attempts: number,
  error: string,
  raw: string,
  spent: { usage: Usage; costUsd: number | undefined },
): ValidationError {
  return new ValidationError(`the model's output failed the schema ${attempts} times; last error:\n${error}`, {
    hint: "Simplify the schema, describe the fields in the prompt, use a stronger model, or raise maxRepairs.",
    details: { attempts, raw, error, usage: spent.usage, costUsd: spent.costUsd },
  });
}

function checkRepairs(n: number | undefined): number {
  const r = n ?? 2;
  if (!Number.isInteger(r) || r < 0 || r > 10) {
    throw new ValidationError(`maxRepairs must be an integer from 0 to 10, got ${n}`, { hint: "The default is 2." });
  }
  return r;
}

/**
 * Asks the model for an object matching a zod schema and returns it validated. If the
 * answer does not parse or validate, the error goes back to the model, at most
 * `maxRepairs` times; after that a ValidationError carries the last error and raw text.
 *
 * @example
 * const { object } = await generateObject({ llm, schema: z.object({ city: z.string() }), prompt: "Where is the Louvre?" });
 */
export async function generateObject<S extends z.ZodType>(
  options: GenerateObjectOptions<S>,
): Promise<GenerateObjectResult<z.output<S>>> {
  const maxRepairs = checkRepairs(options.maxRepairs);
  const plan = planFor(options, resolveMode(options.llm, options.mode));
  let messages = baseMessages(options);
  let usage: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  let cost: number | undefined;
  let last = { error: "", raw: "" };
  for (let attempt = 1; attempt <= maxRepairs + 1; attempt++) {
    const result = await options.llm.generate(plan.request(messages));
    usage = addUsage(usage, result.usage);
    if (result.costUsd !== undefined) cost = (cost ?? 0) + result.costUsd;
    const raw = plan.rawOf(result);
    const verdict = check(options.schema, raw);
    if (verdict.ok) return { object: verdict.object, attempts: attempt, usage, costUsd: cost, raw, mode: plan.mode };
    last = { error: verdict.error, raw };
    messages = [...messages, ...plan.repair(result, raw, verdict.error)];
  }
  throw exhausted(maxRepairs + 1, last.error, last.raw, { usage, costUsd: cost });
}

export { checkRepairs };
