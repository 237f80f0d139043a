import { ValidationError } from "@quintet/core";
import { createGbdtRunner } from "./gbdt-objective.js";
import type { ObjectiveRunner } from "./objective.js";

/** Built-in objectives a worker thread can run, by name. */
const BUILTINS: Record<string, (init: unknown, context: { inWorker: boolean }) => ObjectiveRunner> = {
  "gbdt-cv": createGbdtRunner,
};

export function createBuiltinRunner(name: string, init: unknown, context: { inWorker: boolean }): ObjectiveRunner {
  const make = BUILTINS[name];
  if (!make)
    throw new ValidationError(`no built-in objective named "${name}"`, {
      hint: `Use one of: ${Object.keys(BUILTINS).join(", ")}, or pass a function (run in this thread).`,
    });
  return make(init, context);
}
