import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { CheckResult } from "./types.js";

/**
 * Checks the configured model URI the way the LLM layer will use it: the same URI parser
 * and the same per-provider configuration checks (API keys, base URLs) as `createLlm`, so
 * doctor and the first real call can never disagree. No call is made to the provider.
 */
export async function checkLlm(uri: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Promise<CheckResult> {
  const name = "llm provider";
  if (!uri) {
    return {
      name,
      status: "skip",
      required: false,
      detail: "not configured (set QUINTET_LLM, e.g. openai:gpt-4o-mini, ollama:qwen2.5, llama:./model.gguf)",
    };
  }
  const { createLlm, parseModelUri } = await import("@quintet/llm");
  try {
    const parsed = parseModelUri(uri);
    if (parsed.provider === "llama") {
      const path = resolve(cwd, parsed.model);
      if (!existsSync(path)) {
        return {
          name,
          status: "fail",
          required: true,
          detail: `${uri}: model file ${path} does not exist`,
          fix: "Point QUINTET_LLM at an existing .gguf file, e.g. llama:./models/qwen2.5-0.5b.gguf.",
        };
      }
    }
    // The layer takes string values only; a process environment may hold undefined ones.
    const clean = Object.fromEntries(
      Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
    createLlm(uri, { env: clean });
    return { name, status: "ok", required: true, detail: `${uri} (configuration complete; no call made)` };
  } catch (err) {
    const e = err as { message?: string; hint?: string };
    return {
      name,
      status: "fail",
      required: true,
      detail: e.message ?? String(err),
      ...(e.hint ? { fix: e.hint } : {}),
    };
  }
}
