import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { openStore } from "../store/store.js";
import { tracingConformance } from "./tracing.conformance.js";

const base = process.env.QUINTET_TEST_PG_URL ?? "postgres://root@127.0.0.1:5432/test";
// A schema of our own per run: the spans and migration tables start empty and parallel
// runs against the same database never see each other.
const schema = `quintet_tracing_${randomBytes(4).toString("hex")}`;

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

beforeAll(() => admin(`create schema ${schema}`));
afterAll(() => admin(`drop schema if exists ${schema} cascade`));

const url = new URL(base);
url.searchParams.set("options", `-c search_path=${schema}`);
tracingConformance("postgres", () => openStore({ url: url.toString() }));
