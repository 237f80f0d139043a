/**
 * The local GGUF provider (`llama:<path>`), backed by node-llama-cpp. This module is
 * imported lazily so that node-llama-cpp stays an optional peer dependency.
 */
export { NODE_LLAMA_CPP_VERSION, unloadLocalModels } from "./binding.js";
export { assertGgufFile } from "./gguf-header.js";
export { createLocalLlm, type LocalLlmClient, type LocalLlmOptions } from "./local-llm.js";
