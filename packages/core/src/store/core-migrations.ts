import type { Migration } from "./types.js";

/**
 * Core tables live with the room that owns them (tracing, artifacts, jobs); this list
 * only fixes their order. Never edit a released migration: add a new one.
 */
export const coreMigrations: Migration[] = [];

/** Rooms of core call this at import time to add their migrations in id order. */
export function registerCoreMigration(m: Migration): void {
  coreMigrations.push(m);
  coreMigrations.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
