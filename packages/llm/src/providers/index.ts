/** Model providers behind one {@link LlmClient} interface, chosen by a model URI. */
export { type CreateLlmOptions, createLlm, createLlmFromEnv } from "./create.js";
export { backoffMs, isRetryable, type RetryOptions, retryAfterMs } from "./retry.js";
export { defaultSpanRunner, runWithoutSpan, type SpanHandle, type SpanRunner, TracedLlmClient } from "./traced.js";
export type * from "./types.js";
export { type ModelUri, PROVIDER_SCHEMES, type ProviderScheme, parseModelUri } from "./uri.js";
