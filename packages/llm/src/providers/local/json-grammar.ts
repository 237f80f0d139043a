import type { Llama, LlamaGrammar } from "node-llama-cpp";

type NodeLlamaCpp = typeof import("node-llama-cpp");

// node-llama-cpp 3.21.1 lets every JSON number, integers included, carry an exponent of
// up to 16 digits, so a constrained model can still write `1e999` (Infinity) or `5e-3`
// for an integer. These patterns match the exponent fragments it emits (schema grammars
// and the generic JSON grammar spell them differently).
const UNBOUNDED_EXPONENT = /\(\[eE\] \[-\+\]\? (?:\("0" \| \[1-9\] \[0-9\]\{0,15\}\)|\[0-9\] \[1-9\]\{0,15\})\)\?/g;
const FINITE_EXPONENT = "([eE] [-+]? [0-9]{1,2})?";

/**
 * Rewrite the number rules of a node-llama-cpp JSON grammar so that integers have no
 * exponent and at most 15 digits (always a safe integer in JavaScript) and other numbers
 * at most a two-digit exponent: every value then parses to a finite number, and an
 * integer to a safe integer.
 */
export function tightenJsonNumbers(gbnf: string): string {
  return gbnf
    .split("\n")
    .map((line) =>
      line.startsWith("integer-number-rule ::=")
        ? line.replace(UNBOUNDED_EXPONENT, "").replace("[1-9] [0-9]{0,15}", "[1-9] [0-9]{0,14}").trimEnd()
        : line.replace(UNBOUNDED_EXPONENT, FINITE_EXPONENT),
    )
    .join("\n");
}

/**
 * A grammar that constrains sampling to JSON matching `schema` (or any JSON without one),
 * with the same stop trigger node-llama-cpp's own JSON grammars use: once the value is
 * complete the grammar only allows newlines, and four of them end the generation.
 */
export async function createJsonGrammar(
  nlc: NodeLlamaCpp,
  llama: Llama,
  schema: Record<string, unknown> | undefined,
): Promise<LlamaGrammar> {
  const base = schema ? await llama.createGrammarForJsonSchema(schema as never) : await llama.getGrammarFor("json");
  return llama.createGrammar({
    grammar: tightenJsonNumbers(base.grammar),
    stopGenerationTriggers: [nlc.LlamaText(["\n".repeat(4)])],
    trimWhitespaceSuffix: true,
  });
}
