import { ValidationError, withSpan } from "@quintet/core";
import { defineTool, type Tool } from "@quintet/llm";
import { type ColumnContract, ModelBundle, type Schema } from "@quintet/ml";
import { z } from "zod";
import type { ModelRegistry } from "../registry/registry.js";

/** The zod type of one input column, from the model's schema contract. */
function columnType(c: ColumnContract): z.ZodType {
  let t: z.ZodType;
  switch (c.kind) {
    case "numeric":
      t = z
        .number()
        .describe(c.min !== undefined && c.max !== undefined ? `seen in training: ${c.min} to ${c.max}` : "a number");
      break;
    case "boolean":
      t = z.boolean();
      break;
    case "categorical":
      t = c.categories && c.categories.length > 0 ? z.enum(c.categories as [string, ...string[]]) : z.string();
      break;
    case "date":
      t = z.string().describe("an ISO date, e.g. 2026-01-31");
      break;
    default:
      t = z.string();
  }
  // Trees route a missing value down its learned default branch, so a model may leave any
  // input unknown; the schema check still warns when a column was never missing in training.
  return t.nullable().optional();
}

/** A zod object for one row of the model's inputs. */
export function rowSchema(schema: Schema): z.ZodObject {
  return z.object(Object.fromEntries(schema.columns.map((c) => [c.name, columnType(c)])));
}

export interface ModelToolOptions {
  registry: ModelRegistry;
  /** `name@alias`, `name/version` or `name`; resolved once, when the tool is made. */
  ref: string;
  /** Tool name; default `predict_<model>`. */
  name?: string;
  description?: string;
  /** Most rows per call. Default 100. */
  maxRows?: number;
}

/**
 * Turns a registered model into a tool in one line: the parameters are the model's input
 * schema (types, allowed categories, nullable columns), arguments are validated before the
 * model runs, and the result carries the model version that answered.
 *
 * @example
 * const churn = await modelTool({ registry, ref: "churn@champion" });
 * await runToolLoop({ llm, messages, tools: [churn] });
 */
export async function modelTool(options: ModelToolOptions): Promise<Tool> {
  const { version, bundle: bytes } = await options.registry.loadBundle(options.ref);
  if (version.flavor !== ModelBundle.flavor)
    throw new ValidationError(
      `model ${version.name}/${version.version} is a "${version.flavor}" model, not a Quintet bundle`,
      {
        hint: "Only models trained with Quintet (quintet train, trainTable) can be made into tools.",
      },
    );
  const bundle = ModelBundle.fromBytes(bytes);
  const target = bundle.target;
  const maxRows = options.maxRows ?? 100;
  const name = options.name ?? `predict_${version.name.replace(/[^a-zA-Z0-9_-]/g, "_")}`.slice(0, 64);
  const what =
    target.task === "regression"
      ? `predicts ${target.name}`
      : `predicts ${target.name} (${target.classes?.join(" / ")}) with a probability`;
  return defineTool({
    name,
    description:
      options.description ??
      `Model ${version.name} version ${version.version}: ${what} for each row of inputs. Pass every input column; use null where a value is unknown.`,
    parameters: z.object({ rows: z.array(rowSchema(bundle.schema)).min(1).max(maxRows) }),
    timeoutMs: 30_000,
    execute: ({ rows }) =>
      withSpan(
        "ml.predict",
        `predict ${version.name}/${version.version}`,
        { model: version.name, version: version.version, rows: rows.length },
        async () => {
          // Left-out inputs are unknown values, which the trees route by their default branch.
          const full = (rows as Record<string, unknown>[]).map((r) =>
            Object.fromEntries(bundle.schema.columns.map((c) => [c.name, r[c.name] ?? null])),
          );
          const preds = await bundle.predict(full);
          return {
            model: `${version.name}/${version.version}`,
            predictions: Array.from({ length: preds.rows }, (_, i) =>
              target.task === "regression"
                ? { [target.name]: preds.values[i]! }
                : target.task === "binary"
                  ? { [target.name]: preds.labels![i]!, probability: preds.values[i]! }
                  : { [target.name]: preds.labels![i]! },
            ),
          };
        },
      ),
  });
}

/** One tool per registered model that has a `champion` alias (or the alias given). */
export async function registryTools(registry: ModelRegistry, alias = "champion"): Promise<Tool[]> {
  const tools: Tool[] = [];
  for (const m of await registry.listModels()) {
    if (m.aliases[alias] === undefined) continue;
    const v = await registry.resolve(`${m.name}@${alias}`);
    if (v.flavor === ModelBundle.flavor) tools.push(await modelTool({ registry, ref: `${m.name}@${alias}` }));
  }
  return tools;
}
