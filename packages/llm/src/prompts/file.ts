import { readFile } from "node:fs/promises";
import { NotFoundError, QuintetError, ValidationError } from "@quintet/core";
import { parse } from "yaml";
import { Prompt } from "./prompt.js";

/**
 * Reads a prompt definition from a JSON or YAML file (any {@link PromptDefinitionInput}:
 * name, persona, messages, variables, strategy, examples, options) and checks it, so prompts
 * can live in the repository next to the code and be saved to the registry from there.
 *
 * @throws NotFoundError for a missing file; ValidationError naming the file for bad syntax or an invalid definition.
 */
export async function readPromptFile(path: string): Promise<Prompt> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new NotFoundError(`cannot read prompt file ${path}: ${(err as Error).message}`, {
      hint: "Check the path; prompt files are JSON or YAML.",
      cause: err,
    });
  }
  let value: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both.
    value = parse(text);
  } catch (err) {
    throw new ValidationError(`${path} is not valid JSON or YAML: ${(err as Error).message.split("\n")[0]}`, {
      hint: "Fix the syntax at the position shown.",
      cause: err,
    });
  }
  try {
    return new Prompt(value as never);
  } catch (err) {
    if (err instanceof QuintetError) {
      throw new ValidationError(`${path}: ${err.message}`, {
        ...(err.hint ? { hint: err.hint } : {}),
        ...(err.details ? { details: err.details } : {}),
      });
    }
    throw err;
  }
}
