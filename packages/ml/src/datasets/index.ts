export * from "./rng.js";
export * from "./synthetic-customers.js";
