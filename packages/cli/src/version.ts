import { readFileSync } from "node:fs";

/** Version of the `quintet` command (from this package's package.json; works from src and dist). */
export const CLI_VERSION: string = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
).version;
