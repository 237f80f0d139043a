import { fileURLToPath } from "node:url";

const pkgs = ["core", "ml", "llm", "rag", "agents", "platform", "server", "cli"];

/** Tests import sibling packages from source, so `npm test` needs no build of the package under test. */
export const alias = Object.fromEntries(
  pkgs.map((p) => [`@quintet/${p}`, fileURLToPath(new URL(`./packages/${p}/src/index.ts`, import.meta.url))]),
);
