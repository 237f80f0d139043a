import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { CheckResult } from "./types.js";

/**
 * What each provider prefix of `QUINTET_LLM` (provider:model) needs from the environment.
 * Doctor only checks the configuration here; it makes no call to the provider.
 */
export const LLM_PROVIDERS: Record<string, { apiKeyEnv?: string; note: string }> = {
  openai: { apiKeyEnv: "OPENAI_API_KEY", note: "OpenAI API" },
  anthropic: { apiKeyEnv: "ANTHROPIC_API_KEY", note: "Anthropic API" },
  ollama: { note: "Ollama server (OLLAMA_HOST, default http://127.0.0.1:11434)" },
  llama: { note: "local GGUF file through node-llama-cpp" },
  "openai-compatible": { apiKeyEnv: "OPENAI_COMPATIBLE_API_KEY", note: "any OpenAI-compatible server" },
};

export function checkLlm(uri: string | undefined, env: NodeJS.ProcessEnv, cwd: string): CheckResult {
  const name = "llm provider";
  if (!uri) {
    return {
      name,
      status: "skip",
      required: false,
      detail: "not configured (set QUINTET_LLM, e.g. openai:gpt-4o-mini, ollama:qwen2.5, llama:./model.gguf)",
    };
  }
  const m = /^([a-z][a-z0-9-]*):(.+)$/.exec(uri);
  if (!m) {
    return {
      name,
      status: "fail",
      required: true,
      detail: `"${uri}" is not provider:model`,
      fix: "Set QUINTET_LLM to provider:model, e.g. openai:gpt-4o-mini.",
    };
  }
  const [, provider, model] = m as unknown as [string, string, string];
  const spec = LLM_PROVIDERS[provider];
  if (!spec) {
    return {
      name,
      status: "fail",
      required: true,
      detail: `unknown provider "${provider}"`,
      fix: `Use one of: ${Object.keys(LLM_PROVIDERS).join(", ")}.`,
    };
  }
  if (spec.apiKeyEnv && !env[spec.apiKeyEnv]) {
    return {
      name,
      status: "fail",
      required: true,
      detail: `${uri}: ${spec.apiKeyEnv} is not set`,
      fix: `Export ${spec.apiKeyEnv}=<your key> (it is read from the environment, never from the config file).`,
    };
  }
  if (provider === "llama") {
    const path = resolve(cwd, model);
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
  return {
    name,
    status: "ok",
    required: true,
    detail: `${uri} (${spec.note}${spec.apiKeyEnv ? `, ${spec.apiKeyEnv} set` : ""})`,
  };
}
