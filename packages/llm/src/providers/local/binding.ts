import { QuintetError } from "@quintet/core";
import type { Llama, LlamaModel } from "node-llama-cpp";

import { NODE_LLAMA_CPP_VERSION } from "./version.js";

type NodeLlamaCpp = typeof import("node-llama-cpp");

let modulePromise: Promise<NodeLlamaCpp> | undefined;

/**
 * node-llama-cpp is an optional peer: it is imported only when a `llama:` model is used,
 * so users of hosted providers never need its native binaries.
 */
export function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  modulePromise ??= import("node-llama-cpp").catch((err: unknown) => {
    modulePromise = undefined;
    const code = (err as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new QuintetError(
        "PROVIDER_NOT_CONFIGURED",
        "Local GGUF models need node-llama-cpp, which is not installed.",
        {
          hint: `Run \`npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION}\`, or choose a hosted provider (QUINTET_LLM=openai:gpt-4o-mini).`,
          cause: err,
        },
      );
    }
    throw new QuintetError("PROVIDER_ERROR", `node-llama-cpp failed to load: ${(err as Error).message}`, {
      hint: `Reinstall it with \`npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION}\`; its prebuilt binaries must match this platform.`,
      cause: err,
    });
  });
  return modulePromise;
}

export type GpuChoice = false | "auto" | "cuda" | "vulkan" | "metal";

const llamas = new Map<string, Promise<Llama>>();
const models = new Map<string, Promise<LlamaModel>>();

/**
 * One native backend per GPU choice per process. `build: "never"` because inference
 * must never start a compiler or a download: only the prebuilt binaries are used.
 */
export function getLlamaBackend(gpu: GpuChoice): Promise<Llama> {
  const key = String(gpu);
  let p = llamas.get(key);
  if (!p) {
    p = (async () => {
      const nlc = await loadNodeLlamaCpp();
      try {
        return await nlc.getLlama({
          gpu,
          build: "never",
          usePrebuiltBinaries: true,
          skipDownload: true,
          progressLogs: false,
          logLevel: nlc.LlamaLogLevel.error,
        });
      } catch (err) {
        throw new QuintetError(
          "PROVIDER_ERROR",
          `No usable llama.cpp binary for this machine: ${(err as Error).message}`,
          {
            hint: `Reinstall node-llama-cpp@${NODE_LLAMA_CPP_VERSION} so its prebuilt package for ${process.platform}-${process.arch} is present.`,
            cause: err,
          },
        );
      }
    })();
    p.catch(() => llamas.delete(key));
    llamas.set(key, p);
  }
  return p;
}

/** Models are loaded once per (backend, path) and shared by every client of that file. */
export function getModel(gpu: GpuChoice, path: string): Promise<LlamaModel> {
  const key = `${String(gpu)}\u0000${path}`;
  let p = models.get(key);
  if (!p) {
    p = (async () => {
      const llama = await getLlamaBackend(gpu);
      try {
        return await llama.loadModel({ modelPath: path });
      } catch (err) {
        throw new QuintetError("ARTIFACT_CORRUPT", `llama.cpp could not load "${path}": ${(err as Error).message}`, {
          hint: "The file looks like GGUF but is damaged, truncated or of an unsupported architecture; re-download or re-convert it.",
          cause: err,
        });
      }
    })();
    p.catch(() => models.delete(key));
    models.set(key, p);
  }
  return p;
}

/** Free every cached model (each client's contexts must be closed first). */
export async function unloadLocalModels(): Promise<void> {
  const all = [...models.values()];
  models.clear();
  for (const p of all) {
    const model = await p.catch(() => undefined);
    await model?.dispose();
  }
}
