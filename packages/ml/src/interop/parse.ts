import { QuintetError, ValidationError } from "@quintet/core";

/** Raised for a model file that is malformed: names the field and how to fix it. */
export function corrupt(format: string, message: string): never {
  throw new ValidationError(`${format} model: ${message}`, {
    hint: `The file is corrupt or not a ${format} model; re-export it from the training library.`,
  });
}

/** Raised for a well-formed model that uses something Quintet cannot represent. */
export function unsupported(message: string, hint: string): never {
  throw new QuintetError("UNSUPPORTED", message, { hint });
}

/**
 * JSON.parse that accepts the bare `NaN`, `Infinity` and `-Infinity` tokens XGBoost
 * writes (e.g. the split condition of a categorical node). NaN becomes null.
 */
export function parseLenientJson(text: string, format: string): unknown {
  let out = "";
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
    } else if (c === 0x4e && text.startsWith("NaN", i)) {
      out += `${text.slice(last, i)}null`;
      i += 2;
      last = i + 1;
    } else if (c === 0x49 && text.startsWith("Infinity", i)) {
      // 1e999 parses to Infinity; a preceding '-' stays in place.
      out += `${text.slice(last, i)}1e999`;
      i += 7;
      last = i + 1;
    }
  }
  out += text.slice(last);
  try {
    return JSON.parse(out);
  } catch (err) {
    return corrupt(format, `invalid JSON (${(err as Error).message})`);
  }
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** Reads `path` (dot-separated) from `root` as an object. */
export function obj(format: string, root: unknown, path: string): Obj {
  let cur: unknown = root;
  for (const k of path.split(".")) {
    if (!isObj(cur) || !(k in cur)) corrupt(format, `missing field "${path}"`);
    cur = (cur as Obj)[k];
  }
  if (!isObj(cur)) corrupt(format, `field "${path}" must be an object`);
  return cur;
}

/** A numeric array field (plain array with nulls as NaN, or a typed array from UBJSON). */
export function nums(format: string, o: Obj, key: string, where: string, required = true): ArrayLike<number> {
  const v = o[key];
  if (v === undefined && !required) return [];
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    if (v instanceof BigInt64Array || v instanceof BigUint64Array) return Array.from(v, Number);
    return v as unknown as ArrayLike<number>;
  }
  if (!Array.isArray(v)) return corrupt(format, `${where}: "${key}" must be an array of numbers`);
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x === null) out[i] = Number.NaN;
    else if (typeof x === "number") out[i] = x;
    else if (typeof x === "bigint") out[i] = Number(x);
    else if (typeof x === "boolean") out[i] = x ? 1 : 0;
    else corrupt(format, `${where}: "${key}"[${i}] is not a number`);
  }
  return out;
}

/** A number given as a number or a numeric string (XGBoost writes parameters as strings). */
export function numParam(format: string, v: unknown, what: string): number {
  const n =
    typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : typeof v === "string" ? Number(v) : Number.NaN;
  if (Number.isNaN(n)) corrupt(format, `${what} is ${JSON.stringify(v)}, expected a number`);
  return n;
}
