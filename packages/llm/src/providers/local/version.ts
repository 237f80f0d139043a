/** The node-llama-cpp version Quintet is built and tested against (an optional peer dependency). */
export const NODE_LLAMA_CPP_VERSION = "3.21.1";

/**
 * Free every model the local provider has loaded in this process. Close the clients
 * first. Lives apart from the binding so the public typings never name node-llama-cpp.
 */
export async function unloadLocalModels(): Promise<void> {
  const binding = await import("./binding.js");
  await binding.unloadLocalModels();
}
