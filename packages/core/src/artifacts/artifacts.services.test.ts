import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll } from "vitest";
import { openStore } from "../store/store.js";
import { artifactConformance } from "./artifacts.conformance.js";

const base = process.env.QUINTET_TEST_PG_URL ?? "postgres://root@127.0.0.1:5432/test";
const schemas: string[] = [];

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A store in a schema of its own: the conformance suite wants empty tables per test. */
async function freshStore() {
  const schema = `quintet_artifacts_${randomBytes(5).toString("hex")}`;
  await admin(`create schema ${schema}`);
  schemas.push(schema);
  const url = new URL(base);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return openStore({ url: url.toString() });
}

afterAll(async () => {
  for (const s of schemas) await admin(`drop schema if exists ${s} cascade`);
});

artifactConformance("postgres", freshStore);
