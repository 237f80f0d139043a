import { storeConformance } from "./store.conformance.js";
import { openStore } from "./store.js";

const url = process.env.QUINTET_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";
storeConformance("postgres", () => openStore({ url }));
