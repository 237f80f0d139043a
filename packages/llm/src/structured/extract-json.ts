/**
 * Finds the JSON value in a model's reply: the whole text, else the first fenced code
 * block, else the span from the first `{` or `[` to its matching bracket (models like to
 * add a sentence before or after). Throws a SyntaxError that says what was wrong.
 */
export function extractJson(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "") throw new SyntaxError("the reply is empty");
  try {
    return JSON.parse(trimmed);
  } catch {
    // fall through to the tolerant forms
  }
  const fence = /```(?:json|JSON|jsonc)?\s*\n?([\s\S]*?)```/.exec(trimmed);
  if (fence) {
    try {
      return JSON.parse(fence[1]!.trim());
    } catch (err) {
      throw new SyntaxError(`the fenced code block is not valid JSON: ${(err as Error).message}`);
    }
  }
  const span = balancedSpan(trimmed);
  if (span) {
    try {
      return JSON.parse(span);
    } catch (err) {
      throw new SyntaxError(`the reply contains no valid JSON: ${(err as Error).message}`);
    }
  }
  throw new SyntaxError("the reply contains no JSON object or array");
}

function balancedSpan(s: string): string | undefined {
  const start = s.search(/[{[]/);
  if (start < 0) return undefined;
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i]!;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{" || c === "[") stack.push(c === "{" ? "}" : "]");
    else if (c === "}" || c === "]") {
      if (stack.pop() !== c) return undefined;
      if (stack.length === 0) return s.slice(start, i + 1);
    }
  }
  return undefined;
}
