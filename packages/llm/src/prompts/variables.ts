import { z } from "zod";

/**
 * A prompt variable, declared as data so prompt versions can be stored, hashed and diffed;
 * each compiles to a zod schema that validates render input.
 */
export const VariableSpecSchema = z.object({
  type: z.enum(["string", "number", "integer", "boolean", "string[]", "enum", "json"]),
  description: z.string().optional(),
  optional: z.boolean().optional(),
  /** For `enum`. */
  values: z.array(z.string()).min(1).optional(),
  /** For `string` and `string[]` items. */
  maxLength: z.number().int().min(1).optional(),
  minLength: z.number().int().min(0).optional(),
  default: z.unknown().optional(),
});
export type VariableSpec = z.infer<typeof VariableSpecSchema>;

type SpecValue<S extends VariableSpec> = S["type"] extends "string"
  ? string
  : S["type"] extends "number" | "integer"
    ? number
    : S["type"] extends "boolean"
      ? boolean
      : S["type"] extends "string[]"
        ? string[]
        : S["type"] extends "enum"
          ? string
          : unknown;

/** The render input type a variable map declares (optional or defaulted variables may be omitted). */
export type VariablesOf<V extends Record<string, VariableSpec>> = {
  [K in keyof V as V[K]["optional"] extends true
    ? never
    : V[K] extends { default: NonNullable<unknown> }
      ? never
      : K]: SpecValue<V[K]>;
} & {
  [K in keyof V as V[K]["optional"] extends true
    ? K
    : V[K] extends { default: NonNullable<unknown> }
      ? K
      : never]?: SpecValue<V[K]>;
};

export function compileVariables(vars: Record<string, VariableSpec>): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, spec] of Object.entries(vars)) {
    let t: z.ZodType;
    switch (spec.type) {
      case "string": {
        let s = z.string();
        if (spec.minLength !== undefined) s = s.min(spec.minLength);
        if (spec.maxLength !== undefined) s = s.max(spec.maxLength);
        t = s;
        break;
      }
      case "number":
        t = z.number().finite();
        break;
      case "integer":
        t = z.number().int();
        break;
      case "boolean":
        t = z.boolean();
        break;
      case "string[]": {
        let s = z.string();
        if (spec.maxLength !== undefined) s = s.max(spec.maxLength);
        t = z.array(s);
        break;
      }
      case "enum":
        t = z.enum(spec.values as [string, ...string[]]);
        break;
      case "json":
        t = z.unknown();
        break;
    }
    if (spec.default !== undefined) t = t.default(spec.default as never);
    else if (spec.optional) t = t.optional();
    shape[name] = t;
  }
  return z.object(shape).strict();
}
