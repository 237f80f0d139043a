import { ValidationError } from "@quintet/core";

export const PROVIDER_SCHEMES = ["openai", "azure", "anthropic", "ollama", "openai-compatible", "llama"] as const;
export type ProviderScheme = (typeof PROVIDER_SCHEMES)[number];

export interface ModelUri {
  provider: ProviderScheme;
  /** Model id, Azure deployment name, or (for `llama`) the GGUF file path. */
  model: string;
  /** The URI as given, normalised (`provider:model`). */
  uri: string;
}

const EXAMPLES = "openai:gpt-4o-mini, anthropic:claude-3-5-haiku-latest, ollama:qwen2.5, llama:./models/x.gguf";

/**
 * Splits a model URI such as `openai:gpt-4o-mini` into provider and model. Only the first
 * colon separates them, so model ids with colons (`ollama:qwen2.5:7b`) and Windows paths
 * survive.
 */
export function parseModelUri(uri: string): ModelUri {
  if (typeof uri !== "string" || uri.trim() === "") {
    throw new ValidationError("empty model URI", {
      hint: `Use <provider>:<model>, where provider is one of ${PROVIDER_SCHEMES.join(", ")} (e.g. ${EXAMPLES}).`,
    });
  }
  const trimmed = uri.trim();
  const colon = trimmed.indexOf(":");
  const scheme = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const model = colon < 0 ? "" : trimmed.slice(colon + 1).trim();
  if (!(PROVIDER_SCHEMES as readonly string[]).includes(scheme)) {
    throw new ValidationError(
      `unknown model provider "${scheme}" in "${uri}"; valid providers: ${PROVIDER_SCHEMES.join(", ")}`,
      { hint: `Write the URI as <provider>:<model>, e.g. ${EXAMPLES}.`, details: { uri } },
    );
  }
  if (model === "") {
    throw new ValidationError(`model URI "${uri}" names no model`, {
      hint: `Put the model after the colon, e.g. ${EXAMPLES}.`,
      details: { uri },
    });
  }
  return { provider: scheme as ProviderScheme, model, uri: `${scheme}:${model}` };
}
