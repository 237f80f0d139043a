#!/usr/bin/env node
// Lets `npm test` and `npm start` work on a fresh clone: installs from the lock file
// when node_modules is missing or older than package-lock.json, and does nothing otherwise.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const marker = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");

const major = Number(process.versions.node.split(".")[0]);
if (major < 20) {
  console.error(`Quintet needs Node.js 20 or newer; this is ${process.version}. Install Node 20 LTS and retry.`);
  process.exit(1);
}

const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000);
if (stale) {
  console.error("quintet: installing dependencies from package-lock.json (npm ci)…");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
