import type { Migration } from "./types.js";

/**
 * Migrations of the "core" namespace, applied when a store opens. Each room of Quintet
 * (tracing, artifacts, jobs, and every package above core) owns its own namespace and
 * applies it on first use with `store.migrate(namespace, migrations)`, so rooms evolve
 * their tables independently. Never edit a released migration: append a new one.
 */
export const coreMigrations: Migration[] = [];
