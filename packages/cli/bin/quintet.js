#!/usr/bin/env node
// The `quintet` command. The program lives in ../dist (built by `npm run build`, i.e. tsc -b).
try {
  await import("../dist/main.js");
} catch (err) {
  if (err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/main.js")) {
    process.stderr.write("error[INTERNAL]: quintet is not built (fix: run `npm run build` in the repository root)\n");
    process.exit(1);
  }
  throw err;
}
