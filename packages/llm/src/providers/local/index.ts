/**
 * The local GGUF provider (`llama:<path>`), backed by node-llama-cpp. node-llama-cpp is
 * an optional peer dependency: it is imported only when a local model is opened, and
 * these typings never reference it.
 */
export { assertGgufFile } from "./gguf-header.js";
export { createLocalLlm, type LocalLlmClient, type LocalLlmOptions } from "./local-llm.js";
export { NODE_LLAMA_CPP_VERSION, unloadLocalModels } from "./version.js";
