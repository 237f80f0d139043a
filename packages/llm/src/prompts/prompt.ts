import { createHash } from "node:crypto";
import { ValidationError } from "@quintet/core";
import { z } from "zod";
import type { Embedder } from "../embeddings/types.js";
import { cosineSimilarity } from "../embeddings/types.js";
import type { ChatMessage } from "../providers/types.js";
import { renderTemplate, templateVariables } from "./template.js";
import { compileVariables, type VariableSpec, VariableSpecSchema, type VariablesOf } from "./variables.js";

export const PROMPT_STRATEGIES = ["zero-shot", "few-shot", "chain-of-thought"] as const;

const TemplateMessageSchema = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});

const ExampleSchema = z.object({ input: z.string().min(1), output: z.string() });

export const PromptDefinitionSchema = z
  .object({
    name: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9._/-]{0,127}$/i,
        "use letters, digits, . _ / - (max 128 chars), starting with a letter or digit",
      ),
    description: z.string().optional(),
    /** Role persona: becomes the system message (a template, may use variables). */
    persona: z.string().optional(),
    /** The conversation template; the last message is usually the user turn. */
    messages: z.array(TemplateMessageSchema).min(1),
    variables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), VariableSpecSchema).default({}),
    strategy: z.enum(PROMPT_STRATEGIES).default("zero-shot"),
    /** Few-shot pool; `k` of them are shown, the most similar to the query when an embedder is given. */
    examples: z.array(ExampleSchema).default([]),
    fewShotK: z.number().int().min(1).max(50).default(3),
    /** Chain-of-thought instruction appended to the last user message. */
    reasoningInstruction: z
      .string()
      .default(
        'Think through the problem step by step. Then write the final answer on its own last line, starting with "Final answer:".',
      ),
    /** Suggested generation options stored with the version (temperature, max tokens, model). */
    options: z
      .object({
        model: z.string().optional(),
        temperature: z.number().min(0).max(2).optional(),
        maxOutputTokens: z.number().int().min(1).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type PromptDefinitionInput = z.input<typeof PromptDefinitionSchema>;
export type PromptDefinition = z.output<typeof PromptDefinitionSchema>;

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The body that is hashed and stored: everything that changes what the model sees, minus the name. */
export function promptBody(def: PromptDefinition): Omit<PromptDefinition, "name" | "description"> {
  const { name: _n, description: _d, ...body } = def;
  return body;
}

/** sha256 of the canonical JSON of the template, variable schema, strategy, examples and options. */
export function promptVersion(def: PromptDefinition): string {
  return createHash("sha256")
    .update(canonicalJson(promptBody(def)))
    .digest("hex");
}

export interface RenderedPrompt {
  name: string;
  version: string;
  messages: ChatMessage[];
  /** The examples shown (few-shot), in order. */
  examples: Array<{ input: string; output: string }>;
  options: PromptDefinition["options"];
  /** Ready for `GenerateRequest.metadata`, so the trace records which prompt version ran. */
  metadata: Record<string, string>;
}

/**
 * A validated, versioned prompt. Create with {@link definePrompt}; render with
 * {@link Prompt.render}. Rendering is deterministic: the same variables (and, for few-shot,
 * the same embedder) always give the same messages.
 */
export class Prompt<V extends Record<string, VariableSpec> = Record<string, VariableSpec>> {
  readonly definition: PromptDefinition;
  readonly version: string;
  private readonly schema: z.ZodObject;

  constructor(definition: PromptDefinitionInput) {
    const parsed = PromptDefinitionSchema.safeParse(definition);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ValidationError(`invalid prompt definition: ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
        hint: "A prompt needs a name, at least one message {role, content}, and a variables map of {type} specs.",
        details: { issues: parsed.error.issues },
      });
    }
    const def = parsed.data;
    const used = new Set<string>();
    for (const t of [def.persona ?? "", ...def.messages.map((m) => m.content)])
      for (const v of templateVariables(t)) used.add(v);
    for (const v of used) {
      if (!(v in def.variables)) {
        throw new ValidationError(`prompt "${def.name}" uses {{${v}}} but does not declare variable "${v}"`, {
          hint: `Add variables.${v} = { type: "string" } (or another type) to the definition.`,
        });
      }
    }
    for (const [name, spec] of Object.entries(def.variables)) {
      if (spec.type === "enum" && !spec.values) {
        throw new ValidationError(`variable "${name}" is an enum without values`, {
          hint: `Set variables.${name}.values.`,
        });
      }
    }
    if (def.strategy === "few-shot" && def.examples.length === 0) {
      throw new ValidationError(`prompt "${def.name}" is few-shot but has no examples`, {
        hint: "Add examples: [{ input, output }, …] or use strategy zero-shot.",
      });
    }
    if (def.messages.at(-1)!.role !== "user") {
      throw new ValidationError(`prompt "${def.name}" must end with a user message`, {
        hint: "Put the instruction or question template in a final { role: 'user' } message.",
      });
    }
    this.definition = def;
    this.version = promptVersion(def);
    this.schema = compileVariables(def.variables);
  }

  get name(): string {
    return this.definition.name;
  }

  /** Validates variables, naming the missing or bad one. */
  validate(values: unknown): Record<string, unknown> {
    const r = this.schema.safeParse(values ?? {});
    if (r.success) return r.data as Record<string, unknown>;
    const issue = r.error.issues[0]!;
    const path = issue.path.join(".");
    const missing =
      issue.code === "invalid_type" && (values as Record<string, unknown> | undefined)?.[path] === undefined;
    const unknown = issue.code === "unrecognized_keys" ? (issue as { keys?: string[] }).keys?.join(", ") : undefined;
    const message = unknown
      ? `prompt "${this.name}": unknown variable(s) ${unknown}`
      : missing
        ? `prompt "${this.name}": missing variable "${path}"`
        : `prompt "${this.name}": variable "${path}" is invalid: ${issue.message}`;
    throw new ValidationError(message, {
      hint: `Variables: ${Object.entries(this.definition.variables)
        .map(([k, s]) => `${k}: ${s.type}${s.optional || s.default !== undefined ? "?" : ""}`)
        .join(", ")}.`,
      details: { variable: path || unknown, issues: r.error.issues },
    });
  }

  /**
   * Renders the messages. For few-shot prompts with an `embedder`, the `fewShotK` examples
   * most similar to the rendered final user message are chosen (ties keep pool order); without
   * one, the first `fewShotK` examples are used.
   */
  async render(
    values: VariablesOf<V>,
    options: { embedder?: Embedder; signal?: AbortSignal } = {},
  ): Promise<RenderedPrompt> {
    const vars = this.validate(values);
    const def = this.definition;
    const rendered = def.messages.map((m) => ({ role: m.role, content: renderTemplate(m.content, vars) }));
    const last = rendered.at(-1)!;
    let examples: Array<{ input: string; output: string }> = [];
    if (def.strategy === "few-shot") {
      examples = await selectExamples(def.examples, last.content, def.fewShotK, options.embedder, options.signal);
    }
    if (def.strategy === "chain-of-thought") last.content = `${last.content}\n\n${def.reasoningInstruction}`;
    const messages: ChatMessage[] = [];
    if (def.persona) messages.push({ role: "system", content: renderTemplate(def.persona, vars) });
    for (const m of rendered.slice(0, -1)) messages.push(m as ChatMessage);
    for (const ex of examples) {
      messages.push({ role: "user", content: ex.input });
      messages.push({ role: "assistant", content: ex.output });
    }
    messages.push(last as ChatMessage);
    return {
      name: def.name,
      version: this.version,
      messages,
      examples,
      options: def.options,
      metadata: { "prompt.name": def.name, "prompt.version": this.version, "prompt.strategy": def.strategy },
    };
  }
}

/** Defines a prompt; throws a ValidationError naming the first problem. */
export function definePrompt<const V extends Record<string, VariableSpec>>(
  definition: Omit<PromptDefinitionInput, "variables"> & { variables?: V },
): Prompt<V> {
  return new Prompt<V>(definition as PromptDefinitionInput);
}

async function selectExamples(
  pool: ReadonlyArray<{ input: string; output: string }>,
  query: string,
  k: number,
  embedder: Embedder | undefined,
  signal: AbortSignal | undefined,
): Promise<Array<{ input: string; output: string }>> {
  if (!embedder || pool.length <= k) return pool.slice(0, k);
  const vectors = await embedder.embed([query, ...pool.map((e) => e.input)], signal ? { signal } : {});
  const q = vectors[0]!;
  const scored = pool.map((e, i) => ({ e, i, s: cosineSimilarity(q, vectors[i + 1]!) }));
  scored.sort((a, b) => b.s - a.s || a.i - b.i);
  // Most similar last, closest to the question, where recency helps the model most.
  return scored
    .slice(0, k)
    .reverse()
    .map((x) => x.e);
}

export interface FinalAnswer {
  /** The extracted answer (or the best fallback). */
  answer: string;
  /** The reasoning before the marker. */
  reasoning: string;
  /** Whether an explicit final-answer marker was found. */
  found: boolean;
}

const MARKER =
  /(?:^|\n)[ \t>*_#-]*(?:\*\*|__)?\s*(?:final\s+answer|answer)\s*(?:\*\*|__)?\s*[:：\-–—]\s*(?:\*\*|__)?/gi;

/**
 * Pulls the final answer out of a chain-of-thought completion: the text after the last
 * "Final answer:" marker (also "**Final Answer:**", "Final answer -", or a bare "Answer:" line),
 * stripped of markdown emphasis and wrapping quotes. Without a marker, falls back to the last
 * non-empty line with `found: false`.
 */
export function extractFinalAnswer(text: string): FinalAnswer {
  const matches = [...text.matchAll(MARKER)];
  const finals = matches.filter((m) => /final/i.test(m[0]));
  const m = (finals.length ? finals : matches).at(-1);
  if (m) {
    const after = text.slice(m.index + m[0].length);
    const firstBlock = after.split(/\n\s*\n/)[0]!;
    return { answer: cleanAnswer(firstBlock), reasoning: text.slice(0, m.index).trim(), found: true };
  }
  const lines = text.split("\n").filter((l) => l.trim());
  return { answer: cleanAnswer(lines.at(-1) ?? ""), reasoning: lines.slice(0, -1).join("\n").trim(), found: false };
}

function cleanAnswer(s: string): string {
  let a = s.trim();
  a = a.replace(/^(?:\*\*|__)|(?:\*\*|__)$/g, "").trim();
  a = a.replace(/^\$\\boxed\{(.*)\}\$$/, "$1").replace(/^\\boxed\{(.*)\}$/, "$1");
  if (/^(["'“`]).*(["'”`])$/s.test(a) && a.length >= 2) a = a.slice(1, -1).trim();
  return a;
}
