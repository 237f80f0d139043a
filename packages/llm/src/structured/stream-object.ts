import type { z } from "zod";
import type { ToolCall, Usage } from "../providers/types.js";
import {
  addUsage,
  baseMessages,
  check,
  checkRepairs,
  exhausted,
  type GenerateObjectOptions,
  type GenerateObjectResult,
  planFor,
  resolveMode,
} from "./generate-object.js";
import { parsePartialJson } from "./partial-json.js";

/** Nested partial: every field may still be missing while the JSON streams. */
export type DeepPartial<T> = T extends (infer U)[]
  ? DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export type StreamObjectEvent<T> =
  /** The object so far (not validated); sent whenever it changed. */
  | { type: "partial"; object: DeepPartial<T>; attempt: number }
  /** The answer failed the schema; a corrected one streams next (partials start over). */
  | { type: "repair"; error: string; attempt: number }
  | ({ type: "final" } & GenerateObjectResult<T>);

/**
 * Like {@link generateObject}, streamed: partial objects as the JSON arrives (parsed from
 * the text so far), then the validated final object. In `tool` mode the arguments arrive
 * whole, so there are no partials before the final object.
 */
export async function* streamObject<S extends z.ZodType>(
  options: GenerateObjectOptions<S>,
): AsyncGenerator<StreamObjectEvent<z.output<S>>> {
  const maxRepairs = checkRepairs(options.maxRepairs);
  const plan = planFor(options, resolveMode(options.llm, options.mode));
  let messages = baseMessages(options);
  let usage: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  let cost: number | undefined;
  let last = { error: "", raw: "" };
  for (let attempt = 1; attempt <= maxRepairs + 1; attempt++) {
    let text = "";
    const toolCalls: ToolCall[] = [];
    let previous = "";
    for await (const event of options.llm.stream(plan.request(messages))) {
      if (event.type === "text-delta") {
        text += event.delta;
        let partial: unknown;
        try {
          partial = parsePartialJson(stripFenceStart(text));
        } catch {
          continue; // prose before the JSON: nothing to show yet
        }
        const key = JSON.stringify(partial);
        if (partial !== undefined && key !== previous) {
          previous = key;
          yield { type: "partial", object: partial as DeepPartial<z.output<S>>, attempt };
        }
      } else if (event.type === "tool-call") {
        toolCalls.push(event.toolCall);
      } else {
        usage = addUsage(usage, event.result.usage);
        if (event.result.costUsd !== undefined) cost = (cost ?? 0) + event.result.costUsd;
      }
    }
    const result = { text, toolCalls };
    const raw = plan.rawOf(result);
    const verdict = check(options.schema, raw);
    if (verdict.ok) {
      yield { type: "final", object: verdict.object, attempts: attempt, usage, costUsd: cost, raw, mode: plan.mode };
      return;
    }
    last = { error: verdict.error, raw };
    if (attempt <= maxRepairs) yield { type: "repair", error: verdict.error, attempt };
    messages = [...messages, ...plan.repair(result, raw, verdict.error)];
  }
  throw exhausted(maxRepairs + 1, last.error, last.raw, { usage, costUsd: cost });
}

/** Drops an opening code fence so partials show while a fenced answer streams. */
function stripFenceStart(text: string): string {
  const m = /^\s*```[a-zA-Z]*\s*\n?/.exec(text);
  const body = m ? text.slice(m[0].length) : text;
  return body.replace(/```\s*$/, "");
}
